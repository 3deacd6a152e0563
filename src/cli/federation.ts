/**
 * `datarun federation snapshot <operator-url> [--out file]`: takes a peer hub's graph for a
 * connector of type "hub" (docs/federation.md): fetches the peer's operator route
 * `GET /federation/schema.graphql`, checks that the body is a GraphQL SDL with a Query type, and
 * writes it (whole, or not at all) to the file, or to stdout.
 */
import { createHash } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { buildASTSchema, parse } from 'graphql';
import { HubError } from '../sdk';
import { CliUsageError } from './exit';

/** The operator route a hub serves its graph at. */
export const FEDERATION_SCHEMA_PATH = '/federation/schema.graphql';

/** Longest snapshot accepted, in bytes. */
const MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024;

/** Options of `runFederationSnapshot`. */
export interface FederationSnapshotOptions {
  /** The peer's operator listener (`http://10.0.0.5:4001`), or the route's own URL. */
  readonly operatorUrl: string;
  /** Where to write the snapshot. @default stdout */
  readonly out?: string;
  /** Longest wait for the peer, in ms. @default 10 000 */
  readonly timeoutMs?: number;
  /** Writes the SDL when there is no `out`. @default process.stdout */
  readonly stdout?: (text: string) => void;
  /** Says what was written. @default process.stderr */
  readonly report?: (line: string) => void;
}

/** The route's URL from what the operator typed: a base URL gets the route appended. */
function routeOf(operatorUrl: string): URL {
  let url: URL;
  try {
    url = new URL(operatorUrl);
  } catch {
    throw new CliUsageError(`<operator-url> must be an absolute http(s) URL of the peer hub's operator listener, but got: ${operatorUrl.slice(0, 200)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliUsageError(`<operator-url> must be an http(s) URL, but got a ${url.protocol} URL`);
  if (!url.pathname.endsWith(FEDERATION_SCHEMA_PATH)) url.pathname = `${url.pathname.replace(/\/+$/, '')}${FEDERATION_SCHEMA_PATH}`;
  return url;
}

/** The peer's SDL, fetched and checked; throws ERR_PEER_SCHEMA_UNAVAILABLE or ERR_PEER_SCHEMA_INVALID naming the URL. */
export async function fetchPeerSchema(operatorUrl: string, timeoutMs = 10_000): Promise<{ url: string; sdl: string; types: number }> {
  const url = routeOf(operatorUrl);
  const shown = `${url.origin}${url.pathname}`;
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : String(cause?.code ?? cause?.message ?? (error as Error).message);
    throw new HubError('ERR_PEER_SCHEMA_UNAVAILABLE', `cannot reach ${shown}: ${why}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    const hint = res.status === 401 || res.status === 403 ? ' (the operator route answers the operator listener, or an admin on the main one: docs/operations.md)' : res.status === 404 ? ' (is this the peer hub\'s operator listener?)' : '';
    throw new HubError('ERR_PEER_SCHEMA_UNAVAILABLE', `${shown} answered HTTP ${res.status}, not 200${hint}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_SNAPSHOT_BYTES) {
    await res.body?.cancel();
    throw new HubError('ERR_PEER_SCHEMA_INVALID', `${shown} answered ${declared} bytes, more than a schema snapshot may be (${MAX_SNAPSHOT_BYTES})`);
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > MAX_SNAPSHOT_BYTES) throw new HubError('ERR_PEER_SCHEMA_INVALID', `${shown} answered more than a schema snapshot may be (${MAX_SNAPSHOT_BYTES} bytes)`);
  const sdl = bytes.toString('utf8');
  let types: number;
  try {
    const schema = buildASTSchema(parse(sdl, { noLocation: true }));
    if (!schema.getQueryType()) throw new Error('it has no Query type');
    types = Object.keys(schema.getTypeMap()).filter((name) => !name.startsWith('__')).length;
  } catch (error) {
    throw new HubError('ERR_PEER_SCHEMA_INVALID', `the body of ${shown} is not a GraphQL schema (SDL): ${(error as Error).message.split('\n')[0]!.slice(0, 300)}`);
  }
  return { url: shown, sdl, types };
}

/** Fetches, checks and writes the peer's schema snapshot. */
export async function runFederationSnapshot(options: FederationSnapshotOptions): Promise<void> {
  const { url, sdl, types } = await fetchPeerSchema(options.operatorUrl, options.timeoutMs);
  const report = options.report ?? ((line: string) => process.stderr.write(`${line}\n`));
  const digest = createHash('sha256').update(sdl, 'utf8').digest('hex');
  if (options.out === undefined) {
    (options.stdout ?? ((text: string) => process.stdout.write(text)))(sdl);
    report(`schema of ${url}: ${types} types, ${Buffer.byteLength(sdl)} bytes, sha256 ${digest}`);
    return;
  }
  // Whole or not at all: a connector never reads half a snapshot.
  const partial = `${options.out}.${process.pid}.partial`;
  try {
    writeFileSync(partial, sdl, { flag: 'wx' });
    renameSync(partial, options.out);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  report(`wrote ${options.out}: the schema of ${url}, ${types} types, ${Buffer.byteLength(sdl)} bytes, sha256 ${digest}`);
}
