/**
 * The REST/JSON API of the social security sandbox (version 1). Every route but the kit's
 * control routes needs the API key; every reply is JSON, errors included, and nothing a client
 * sends can crash the server.
 */
import type http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { withFaults, serveControl, type SandboxControl } from '../sandbox-kit';
import { citizenIdProblem, creditCodeProblem } from '../../src/sdk';
import type { ContributionRow, InsuredRow, SocialSecurityStore } from './store';

/** Path prefix of version 1 of the API. */
export const SOCIAL_SECURITY_API_PREFIX = '/api/v1';
/** Most identifiers one batch call may carry. */
export const MAX_BATCH_IDS = 100;
/** Most months of contribution history a batch call may ask for. */
export const MAX_CONTRIBUTION_MONTHS = 120;
/** Largest request body accepted; 100 identifiers take about 2 KiB. */
const MAX_BODY_BYTES = 64 * 1024;
/** Default and maximum page sizes of the contribution history. */
const DEFAULT_PAGE_LIMIT = 60;
const MAX_PAGE_LIMIT = 600;

/** What the handler serves from. */
export interface SocialSecurityApiOptions {
  store: SocialSecurityStore;
  control: SandboxControl;
  apiKey: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A route found for a request: the operation name it is counted under and its handler. */
interface Route {
  op: string;
  handle: Handler;
}

/** A failure to report to the client as a JSON error with this status. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Creates the request listener of the sandbox: control routes first (never faulted), then the
 * fault injection, the API key check and the API routes. Each request counts once, under its
 * operation name, as soon as it is received (so calls that the faults drop are counted too).
 */
export function createSocialSecurityHandler(options: SocialSecurityApiOptions): http.RequestListener {
  const { store, control } = options;
  const expectedKey = Buffer.from(options.apiKey, 'utf8');

  /** Sends a JSON body; in `malformed` mode the body is cut in half (never valid JSON) behind a 200. */
  function send(res: http.ServerResponse, status: number, body: string): void {
    if (control.faults.mode === 'malformed') {
      status = 200;
      body = body.slice(0, Math.max(1, body.length >> 1));
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  function fail(res: http.ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = error instanceof ApiError ? error.status : 500;
    const message = error instanceof ApiError ? error.message : 'internal error';
    send(res, status, JSON.stringify({ error: message }));
  }

  /** Constant-time comparison, as a real gateway would do, so the key cannot be guessed by timing. */
  function authorised(req: http.IncomingMessage): boolean {
    const given = req.headers['x-api-key'];
    if (typeof given !== 'string') return false;
    const buf = Buffer.from(given, 'utf8');
    return buf.length === expectedKey.length && timingSafeEqual(buf, expectedKey);
  }

  /** Wraps a route's work with the API key check and turns any throw or rejection into a JSON error. */
  function guarded(work: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>): Handler {
    return (req, res) => {
      if (!authorised(req)) {
        // Drain the body so the keep-alive connection stays usable.
        req.resume();
        fail(res, new ApiError(401, 'missing or invalid API key (header x-api-key)'));
        return;
      }
      try {
        const pending = work(req, res);
        if (pending) pending.catch((error: unknown) => fail(res, error));
      } catch (error) {
        fail(res, error);
      }
    };
  }

  const health = guarded((_req, res) => send(res, 200, '{"status":"ok"}'));

  // Rows never change once loaded, so each one is serialised once, on first use; a batch reply
  // is then a concatenation. Lazy, so a large seed costs memory only for the rows asked for.
  const insuredJson = new Map<string, string>();
  function jsonOf(row: InsuredRow): string {
    let json = insuredJson.get(row.idNumber);
    if (json === undefined) {
      json = JSON.stringify(row);
      insuredJson.set(row.idNumber, json);
    }
    return json;
  }

  const insuredBatch = guarded(async (req, res) => {
    const { ids, months } = parseBatchBody(await readBody(req), citizenIdProblem, 'citizen identity number');
    const items: string[] = [];
    const notFound: string[] = [];
    for (const id of ids) {
      const row = store.insured.get(id);
      if (!row) notFound.push(id);
      else {
        const trimmed = months === undefined ? row : withLastMonths(row, months);
        items.push(trimmed === row ? jsonOf(row) : JSON.stringify(trimmed));
      }
    }
    send(res, 200, `{"items":[${items.join(',')}],"notFound":${JSON.stringify(notFound)}}`);
  });

  const employersBatch = guarded(async (req, res) => {
    const { ids } = parseBatchBody(await readBody(req), creditCodeProblem, 'unified social credit code');
    const items = [];
    const notFound: string[] = [];
    for (const id of ids) {
      const row = store.employers.get(id);
      if (row) items.push(row);
      else notFound.push(id);
    }
    send(res, 200, JSON.stringify({ items, notFound }));
  });

  function insuredGet(id: string): Handler {
    return guarded((_req, res) => {
      const row = store.insured.get(checkedId(id, citizenIdProblem, 'citizen identity number'));
      if (!row) throw new ApiError(404, 'no insured person with this citizen identity number');
      send(res, 200, jsonOf(row));
    });
  }

  function insuredContributions(id: string, query: string): Handler {
    return guarded((_req, res) => {
      const row = store.insured.get(checkedId(id, citizenIdProblem, 'citizen identity number'));
      const params = new URLSearchParams(query);
      const offset = intParam(params, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = intParam(params, 'limit', DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT);
      if (!row) throw new ApiError(404, 'no insured person with this citizen identity number');
      const items = row.contributions.slice(offset, offset + limit);
      send(res, 200, JSON.stringify({ total: row.contributions.length, offset, limit, items }));
    });
  }

  function employerGet(code: string): Handler {
    return guarded((_req, res) => {
      const row = store.employers.get(checkedId(code, creditCodeProblem, 'unified social credit code'));
      if (!row) throw new ApiError(404, 'no employer account with this unified social credit code');
      send(res, 200, JSON.stringify(row));
    });
  }

  function methodNotAllowed(allowed: string): Handler {
    return (req, res) => {
      req.resume();
      res.setHeader('allow', allowed);
      fail(res, new ApiError(405, `method ${req.method ?? ''} not allowed here; use ${allowed}`));
    };
  }

  const notFoundRoute: Route = {
    op: 'unknown',
    handle: (req, res) => {
      req.resume();
      fail(res, new ApiError(404, 'unknown route; the API lives under /api/v1'));
    },
  };

  function route(method: string, url: string): Route {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!path.startsWith(SOCIAL_SECURITY_API_PREFIX + '/')) return notFoundRoute;
    const parts = path.slice(SOCIAL_SECURITY_API_PREFIX.length + 1).split('/');
    const [collection, id, sub] = parts;
    const get = method === 'GET';
    if (parts.length === 1 && collection === 'health') return { op: 'health', handle: get ? health : methodNotAllowed('GET') };
    if (collection === 'insured' && parts.length === 2 && id === 'batch') {
      return { op: 'insured.batch', handle: method === 'POST' ? insuredBatch : methodNotAllowed('POST') };
    }
    if (collection === 'insured' && parts.length === 2 && id) {
      return { op: 'insured.get', handle: get ? insuredGet(decode(id)) : methodNotAllowed('GET') };
    }
    if (collection === 'insured' && parts.length === 3 && id && sub === 'contributions') {
      return { op: 'insured.contributions', handle: get ? insuredContributions(decode(id), q < 0 ? '' : url.slice(q + 1)) : methodNotAllowed('GET') };
    }
    if (collection === 'employers' && parts.length === 2 && id === 'batch') {
      return { op: 'employers.batch', handle: method === 'POST' ? employersBatch : methodNotAllowed('POST') };
    }
    if (collection === 'employers' && parts.length === 2 && id) {
      return { op: 'employers.get', handle: get ? employerGet(decode(id)) : methodNotAllowed('GET') };
    }
    return notFoundRoute;
  }

  return (req, res) => {
    if (serveControl(control, req, res)) return;
    // A client that resets mid-request must not take the process down.
    req.on('error', () => res.destroy());
    const found = route(req.method ?? 'GET', req.url ?? '/');
    control.count(found.op);
    withFaults(control, found.handle)(req, res);
  };
}

/** Decodes a path segment; a bad escape becomes a value that fails identifier validation. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function checkedId(id: string, problemOf: (value: string) => string | undefined, what: string): string {
  const problem = problemOf(id);
  if (problem !== undefined) throw new ApiError(400, `the path does not hold a valid ${what}: ${problem}`);
  return id;
}

function intParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) throw new ApiError(400, `query parameter "${name}" must be an integer from ${min} to ${max}`);
  return value;
}

/** Reads a request body up to MAX_BODY_BYTES; a larger one is refused with 413. */
function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        done = true;
        reject(new ApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (error) => {
      if (done) return;
      done = true;
      reject(error);
    });
  });
}

/**
 * Validates a batch body `{ "ids": [...], "months"?: n }`: valid JSON, at most MAX_BATCH_IDS ids,
 * each a valid identifier. Messages name the position and the problem, never the identifier.
 */
function parseBatchBody(
  text: string,
  problemOf: (value: string) => string | undefined,
  what: string,
): { ids: readonly string[]; months: number | undefined } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'request body must be a JSON object like {"ids": [...]}');
  const { ids, months } = body as { ids?: unknown; months?: unknown };
  if (!Array.isArray(ids)) throw new ApiError(400, '"ids" must be an array of strings');
  if (ids.length > MAX_BATCH_IDS) throw new ApiError(400, `"ids" holds ${ids.length} identifiers; at most ${MAX_BATCH_IDS} are allowed per call`);
  for (let i = 0; i < ids.length; i++) {
    const id: unknown = ids[i];
    if (typeof id !== 'string') throw new ApiError(400, `"ids[${i}]" must be a string`);
    const problem = problemOf(id);
    if (problem !== undefined) throw new ApiError(400, `"ids[${i}]" is not a valid ${what}: ${problem}`);
  }
  if (months !== undefined && !(Number.isInteger(months) && (months as number) >= 0 && (months as number) <= MAX_CONTRIBUTION_MONTHS)) {
    throw new ApiError(400, `"months" must be an integer from 0 to ${MAX_CONTRIBUTION_MONTHS}`);
  }
  // Duplicates are answered once.
  return { ids: ids.length > 1 ? [...new Set(ids as string[])] : (ids as string[]), months: months as number | undefined };
}

/** The row with only the contributions of its newest `months` periods (rows hold them newest first). */
function withLastMonths(row: InsuredRow, months: number): InsuredRow {
  const list = row.contributions;
  let periods = 0;
  let end = 0;
  let previous: string | undefined;
  for (; end < list.length; end++) {
    const period = (list[end] as ContributionRow).period;
    if (period !== previous) {
      if (++periods > months) break;
      previous = period;
    }
  }
  return end === list.length ? row : { ...row, contributions: list.slice(0, end) };
}
