/**
 * A recorded HTTP upstream: replays exchanges recorded in a JSON file, with the fault switches
 * and counters of the scripted upstream. To make the recording, start it once with `recordFrom`
 * (the real service's base URL): it then forwards every request there, and writes what it saw
 * to the file when it closes. Only the method, path, query and body of requests are recorded
 * (never their headers, so no credential), and of replies the status, the body and the headers
 * that describe the body.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ConnectorDefinitionError } from '../sdk';
import { startScriptedHttpUpstream, type ScriptedCall, type ScriptedHandler, type ScriptedHttpUpstream, type ScriptedReply, type ScriptedRequest } from './scripted-http';

/** One recorded request and its reply. */
export interface RecordedExchange {
  readonly request: { readonly method: string; readonly path: string; readonly body?: string };
  readonly response: { readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body: string };
}

/** The recording file. */
export interface HttpRecording {
  readonly format: 'datarun-http-recording';
  readonly version: 1;
  readonly exchanges: readonly RecordedExchange[];
}

/** Options of `startRecordedHttpUpstream`. */
export interface RecordedHttpUpstreamOptions {
  /** The recording: read from here when replaying, written here when recording. */
  readonly file: string;
  /** The real service's base URL: forward to it and record, instead of replaying. */
  readonly recordFrom?: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 */
  readonly port?: number;
}

/** A running recorded upstream. */
export interface RecordedHttpUpstream extends ScriptedHttpUpstream {
  /** `replay` or `record`. */
  readonly mode: 'replay' | 'record';
  /** Requests that matched no recorded exchange (replay), answered 501. */
  readonly unmatched: readonly ScriptedCall[];
  /** The exchanges recorded so far (record) or loaded (replay). */
  readonly exchanges: readonly RecordedExchange[];
  /** Writes the recording now (record mode; `close` does it too). */
  save(): void;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
/** Reply headers worth replaying: they describe the body, not the connection. */
const KEPT_HEADERS = ['content-type', 'etag', 'last-modified', 'cache-control', 'location'];

/** Reads and checks a recording file. */
export function readHttpRecording(file: string): HttpRecording {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConnectorDefinitionError(`recorded HTTP upstream: cannot read the recording ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const recording = parsed as Partial<HttpRecording> | null;
  if (recording?.format !== 'datarun-http-recording' || recording.version !== 1 || !Array.isArray(recording.exchanges)) {
    throw new ConnectorDefinitionError(`recorded HTTP upstream: ${file} is not a recording (expected {"format":"datarun-http-recording","version":1,"exchanges":[…]})`);
  }
  recording.exchanges.forEach((exchange, i) => {
    const ok =
      typeof exchange?.request?.method === 'string' &&
      typeof exchange.request.path === 'string' &&
      exchange.request.path.startsWith('/') &&
      Number.isInteger(exchange.response?.status) &&
      typeof exchange.response.body === 'string';
    if (!ok) throw new ConnectorDefinitionError(`recorded HTTP upstream: exchange ${i} of ${file} needs request.method, request.path (from /), response.status and response.body`);
  });
  return recording as HttpRecording;
}

const keyOf = (method: string, path: string, body: string | undefined) => `${method} ${path}\n${body ?? ''}`;

const fullPath = (request: ScriptedRequest) => {
  const query = request.query.toString();
  return query ? `${request.path}?${query}` : request.path;
};

/** Starts a recorded HTTP upstream: a replay of `file`, or with `recordFrom` a recording proxy to a real service. */
export async function startRecordedHttpUpstream(options: RecordedHttpUpstreamOptions): Promise<RecordedHttpUpstream> {
  if (typeof options?.file !== 'string' || options.file === '') throw new ConnectorDefinitionError('recorded HTTP upstream: option "file" must name the recording file');
  const replaying = options.recordFrom === undefined;
  let base: URL | undefined;
  if (!replaying) {
    try {
      base = new URL(options.recordFrom!);
    } catch {
      base = undefined;
    }
    if (!base || (base.protocol !== 'http:' && base.protocol !== 'https:')) {
      throw new ConnectorDefinitionError(`recorded HTTP upstream: recordFrom must be an absolute http(s) URL, but got: ${JSON.stringify(options.recordFrom)}`);
    }
  }
  const exchanges: RecordedExchange[] = replaying ? [...readHttpRecording(options.file).exchanges] : [];
  const unmatched: ScriptedCall[] = [];

  let handler: ScriptedHandler;
  if (replaying) {
    // Replays in order: the n-th identical request gets the n-th recorded reply (the last one after that).
    const byKey = new Map<string, RecordedExchange[]>();
    for (const exchange of exchanges) {
      const key = keyOf(exchange.request.method, exchange.request.path, exchange.request.body);
      byKey.set(key, [...(byKey.get(key) ?? []), exchange]);
    }
    const served = new Map<string, number>();
    handler = (request) => {
      const key = keyOf(request.method, fullPath(request), request.body === '' ? undefined : request.body);
      const candidates = byKey.get(key);
      if (!candidates) {
        unmatched.push({ method: request.method, path: fullPath(request), body: request.body });
        return { status: 501, json: { error: `no recorded exchange for ${request.method} ${request.path}` } };
      }
      const n = served.get(key) ?? 0;
      served.set(key, n + 1);
      const { response } = candidates[Math.min(n, candidates.length - 1)]!;
      return { status: response.status, ...(response.headers ? { headers: response.headers } : {}), body: response.body };
    };
  } else {
    const prefix = base!.pathname.replace(/\/$/, '');
    handler = async (request): Promise<ScriptedReply> => {
      const path = fullPath(request);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string' && !['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding'].includes(name)) headers[name] = value;
      }
      const res = await fetch(new URL(prefix + path, base!.origin), {
        method: request.method,
        headers,
        ...(request.body !== '' && request.method !== 'GET' && request.method !== 'HEAD' ? { body: request.body } : {}),
      });
      const body = await res.text();
      const kept: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const value = res.headers.get(name);
        if (value !== null) kept[name] = value;
      }
      exchanges.push({ request: { method: request.method, path, ...(request.body !== '' ? { body: request.body } : {}) }, response: { status: res.status, headers: kept, body } });
      return { status: res.status, headers: kept, body };
    };
  }

  const upstream = await startScriptedHttpUpstream({
    routes: Object.fromEntries(METHODS.map((method) => [`${method} /*`, handler])),
    ...(options.host ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  const save = () => {
    if (replaying) return;
    const file: HttpRecording = { format: 'datarun-http-recording', version: 1, exchanges };
    writeFileSync(options.file, `${JSON.stringify(file, null, 2)}\n`);
  };
  const closeServer = upstream.close.bind(upstream);
  return Object.assign(upstream, {
    mode: replaying ? ('replay' as const) : ('record' as const),
    unmatched,
    exchanges,
    save,
    async close() {
      save();
      await closeServer();
    },
  });
}
