/**
 * The HTTP API of the market-regulation sandbox (REST/JSON, versioned under /v1). Plain node:http
 * with hand-rolled routing: it is driven by benchmarks at thousands of requests per second, so a
 * record reply is a concatenation of the store's pre-serialized JSON.
 */
import type http from 'node:http';
import { citizenIdProblem, creditCodeProblem } from '../../src/sdk';
import { CHANGE_FEED_OPERATION, SandboxRouteError, routeFields, serveChangeRoutes, serveControl, withFaults, type SandboxChangeRoute, type SandboxControl } from '../sandbox-kit';
import type { EnterpriseKind, EnterpriseStatus } from '../seed/model';
import {
  decodeAbnormalCursor,
  decodeChangeCursor,
  decodeLegalRepCursor,
  encodeAbnormalCursor,
  encodeChangeCursor,
  encodeLegalRepCursor,
  fingerprintOf,
} from './cursor';
import { ENTERPRISE_SECTIONS, type EnterpriseSection, type MarketRegulationStore } from './store';

const ENTERPRISE_KINDS: readonly EnterpriseKind[] = ['LIMITED_LIABILITY', 'JOINT_STOCK', 'SOLE_PROPRIETORSHIP', 'PARTNERSHIP', 'INDIVIDUAL_BUSINESS'];

/** Operation names of the call counters (`control.calls`), one count per HTTP request. */
export const MARKET_REGULATION_OPERATIONS = {
  health: 'health',
  enterprisesBatch: 'enterprises.batch',
  enterpriseGet: 'enterprises.get',
  enterprisesByLegalRep: 'enterprises.byLegalRep',
  abnormalList: 'abnormalOperations.list',
  changes: CHANGE_FEED_OPERATION,
  unknown: 'unknown',
} as const;

/** Most credit codes or representative ids one call may carry. */
export const MAX_IDS_PER_CALL = 100;
/** Page size limits of the paged endpoints. */
export const PAGE_LIMITS = {
  legalRep: { default: 100, max: 500 },
  abnormal: { default: 100, max: 500 },
  changes: { default: 100, max: 1000 },
} as const;
/** The `after` value that starts the change feed at its current end, skipping history. */
export const LATEST_CHANGE_CURSOR = 'latest';

const MAX_BODY_BYTES = 64 * 1024;
/** What the `malformed` fault sends with status 200: JSON cut off mid-value. */
const MALFORMED_BODY = '{"items":[{"creditCode":"91370';
const JSON_TYPE = 'application/json; charset=utf-8';

/** A request the sandbox refuses, answered with 400 (or the given status) and a JSON message. */
class RequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: string, etag?: string): void {
  const headers: http.OutgoingHttpHeaders = { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) };
  if (etag) headers.etag = etag;
  res.writeHead(status, headers).end(body);
}

function sendError(res: http.ServerResponse, status: number, message: string): void {
  send(res, status, JSON.stringify({ error: message }));
}

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2): `W/` prefixes are ignored. */
function matchesIfNoneMatch(req: http.IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  for (const tag of header.split(',')) {
    const t = tag.trim();
    if ((t.startsWith('W/') ? t.slice(2) : t) === etag) return true;
  }
  return false;
}

function notModified(res: http.ServerResponse, etag: string): void {
  res.writeHead(304, { etag }).end();
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    let size = 0;
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RequestError(`the body is larger than ${MAX_BODY_BYTES} bytes`, 413));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      body += chunk;
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function parseLimit(raw: unknown, limits: { default: number; max: number }, name = 'limit'): number {
  if (raw === undefined || raw === null) return limits.default;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > limits.max) throw new RequestError(`"${name}" must be an integer from 1 to ${limits.max}`);
  return n;
}

/** `include` narrows the sections of each record; absent means all of them. */
function parseInclude(raw: string | readonly unknown[] | null | undefined): readonly EnterpriseSection[] | undefined {
  if (raw === null || raw === undefined) return undefined;
  const names = typeof raw === 'string' ? (raw === '' || raw === 'none' ? [] : raw.split(',')) : raw;
  for (const name of names) {
    if (!ENTERPRISE_SECTIONS.includes(name as EnterpriseSection)) {
      throw new RequestError(`"include" accepts ${ENTERPRISE_SECTIONS.join(', ')} or none`);
    }
  }
  return names.length === ENTERPRISE_SECTIONS.length && new Set(names).size === names.length ? undefined : (names as EnterpriseSection[]);
}

function lowerBound<T>(items: readonly T[], before: (item: T) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(items[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The run-time changes of the department (`POST /__sandbox/<route>`, see the README), each
 * appended to the change feed: status-changes, enterprises, abnormal-listings, abnormal-removals,
 * licences, permits, penalties.
 */
export function marketRegulationChangeRoutes(store: MarketRegulationStore): Readonly<Record<string, SandboxChangeRoute>> {
  /** The enterprise a change route names by `creditCode`: 400 for a malformed code, 404 for an unknown one. */
  function subject(body: Readonly<Record<string, unknown>>): string {
    const creditCode = routeFields.text(body, 'creditCode', { max: 18, problem: creditCodeProblem });
    if (!store.get(creditCode)) throw new SandboxRouteError('"creditCode" names no registered enterprise', 404);
    return creditCode;
  }

  /** Runs a store change, turning a refusal of the enterprise's state (RangeError) into a 409. */
  function change<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof RangeError) throw new SandboxRouteError(error.message.replace(/^\w+: /, ''), 409);
      throw error;
    }
  }

  return {
    'status-changes': (body) => {
      const creditCode = subject(body);
      try {
        return { event: store.changeStatus(creditCode, body['status'] as EnterpriseStatus) };
      } catch (error) {
        // The store's own message, which names the field and the statuses it accepts.
        throw error instanceof TypeError ? new SandboxRouteError(error.message) : error;
      }
    },
    enterprises: (body) => {
      const input = {
        name: routeFields.text(body, 'name', { max: 100 }),
        kind: routeFields.oneOf(body, 'kind', ENTERPRISE_KINDS),
        legalRepIdNumber: routeFields.text(body, 'legalRepIdNumber', { max: 18, problem: citizenIdProblem }),
        registeredCapital: routeFields.amount(body, 'registeredCapital'),
        address: routeFields.text(body, 'address', { max: 200 }),
        industry: routeFields.text(body, 'industry', { max: 100 }),
        scope: routeFields.text(body, 'scope', { max: 500 }),
      };
      return store.registerNew(input);
    },
    'abnormal-listings': (body) => {
      const creditCode = subject(body);
      return { event: change(() => store.listAbnormal(creditCode, routeFields.text(body, 'reason', { max: 200 }))) };
    },
    'abnormal-removals': (body) => {
      const creditCode = subject(body);
      return { event: change(() => store.removeAbnormal(creditCode, routeFields.text(body, 'reason', { max: 200 }))) };
    },
    licences: (body) => {
      const creditCode = subject(body);
      const scope = routeFields.text(body, 'scope', { max: 500 });
      const validUntil = body['validUntil'] === undefined || body['validUntil'] === null ? null : routeFields.date(body, 'validUntil');
      return { event: store.issueLicence(creditCode, scope, validUntil) };
    },
    permits: (body) => {
      const creditCode = subject(body);
      return { event: store.issuePermit(creditCode, routeFields.text(body, 'kind', { max: 100 }), routeFields.date(body, 'validUntil')) };
    },
    penalties: (body) => {
      const creditCode = subject(body);
      return { event: store.imposePenalty(creditCode, routeFields.text(body, 'reason', { max: 200 }), routeFields.amount(body, 'amount')) };
    },
  };
}

/** Creates the request listener of the sandbox: its own control route, the kit's control routes, then the API under faults. */
export function createMarketRegulationHandler(store: MarketRegulationStore, control: SandboxControl): http.RequestListener {
  /** A record's JSON with all sections (pre-serialized) or only the requested ones. */
  function recordJson(creditCode: string, include: readonly EnterpriseSection[] | undefined): string {
    if (!include) return store.serialized(creditCode)!.json;
    const r = store.get(creditCode)!;
    const out: Record<string, unknown> = {
      creditCode: r.creditCode, name: r.name, kind: r.kind, status: r.status, legalRepIdNumber: r.legalRepIdNumber,
      registeredCapital: r.registeredCapital, establishedAt: r.establishedAt, address: r.address, industry: r.industry, version: r.version,
    };
    for (const section of include) out[section] = r[section];
    return JSON.stringify(out);
  }

  function health(_req: http.IncomingMessage, res: http.ServerResponse): void {
    send(res, 200, `{"status":"ok","enterprises":${store.size}}`);
  }

  /** GET /v1/enterprises?creditCodes=A,B&include=licence,permits */
  function enterprisesBatch(_req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): void {
    const raw = query.get('creditCodes');
    if (!raw) throw new RequestError(`query parameter "creditCodes" is required: comma-separated credit codes, at most ${MAX_IDS_PER_CALL}`);
    const codes = raw.split(',');
    if (codes.length > MAX_IDS_PER_CALL) throw new RequestError(`too many credit codes: at most ${MAX_IDS_PER_CALL} per call, got ${codes.length}`);
    for (let i = 0; i < codes.length; i++) {
      const problem = creditCodeProblem(codes[i]!);
      if (problem) throw new RequestError(`creditCodes[${i}] ${problem}`);
    }
    const include = parseInclude(query.get('include'));
    const parts: string[] = [];
    const notFound: string[] = [];
    const seen = new Set<string>();
    for (const code of codes) {
      if (seen.has(code)) continue;
      seen.add(code);
      if (store.get(code)) parts.push(recordJson(code, include));
      else notFound.push(code);
    }
    send(res, 200, `{"items":[${parts.join(',')}],"notFound":${JSON.stringify(notFound)}}`);
  }

  /** GET /v1/enterprises/{creditCode}, with a strong ETag and If-None-Match → 304. */
  function enterpriseGet(req: http.IncomingMessage, res: http.ServerResponse, creditCode: string): void {
    const problem = creditCodeProblem(creditCode);
    if (problem) throw new RequestError(`the credit code ${problem}`);
    const entry = store.serialized(creditCode);
    if (!entry) throw new RequestError('no enterprise has this credit code', 404);
    if (matchesIfNoneMatch(req, entry.etag)) notModified(res, entry.etag);
    else send(res, 200, entry.json, entry.etag);
  }

  /**
   * POST /v1/legal-representatives/enterprises {idNumbers, limit?, cursor?, include?}. Citizen id
   * numbers are personal data, so they travel in the body, never in a URL that access logs keep.
   */
  async function enterprisesByLegalRep(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      if (error instanceof RequestError) throw error;
      throw new RequestError('the body must be a JSON object {"idNumbers": [...], "limit"?, "cursor"?, "include"?}');
    }
    if (typeof body !== 'object' || body === null || !Array.isArray((body as { idNumbers?: unknown }).idNumbers)) {
      throw new RequestError('"idNumbers" must be an array of citizen identity numbers');
    }
    const { idNumbers, limit: rawLimit, cursor: rawCursor, include: rawInclude } = body as { idNumbers: unknown[]; limit?: unknown; cursor?: unknown; include?: unknown };
    if (idNumbers.length === 0 || idNumbers.length > MAX_IDS_PER_CALL) {
      throw new RequestError(`"idNumbers" must hold 1 to ${MAX_IDS_PER_CALL} identity numbers, got ${idNumbers.length}`);
    }
    const ids: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < idNumbers.length; i++) {
      const id = idNumbers[i];
      if (typeof id !== 'string') throw new RequestError(`idNumbers[${i}] must be a string`);
      const problem = citizenIdProblem(id);
      if (problem) throw new RequestError(`idNumbers[${i}] ${problem}`);
      if (!seen.has(id)) {
        seen.add(id);
        ids.push(id);
      }
    }
    const limit = parseLimit(rawLimit, PAGE_LIMITS.legalRep);
    if (rawInclude !== undefined && !Array.isArray(rawInclude)) throw new RequestError('"include" must be an array of section names');
    const include = parseInclude(rawInclude as unknown[] | undefined);
    const fingerprint = fingerprintOf(ids);
    let repIndex = 0;
    let after: string | undefined;
    if (rawCursor !== undefined && rawCursor !== null) {
      const cursor = typeof rawCursor === 'string' ? decodeLegalRepCursor(rawCursor) : undefined;
      if (!cursor) throw new RequestError('"cursor" is not a cursor this service issued');
      if (cursor.fingerprint !== fingerprint || cursor.repIndex >= ids.length) throw new RequestError('"cursor" belongs to another query: send the same idNumbers as the first page');
      repIndex = cursor.repIndex;
      after = cursor.lastCode;
    }

    const parts: string[] = [];
    let last: { repIndex: number; code: string } | undefined;
    let more = false;
    scan: for (let r = repIndex; r < ids.length; r++) {
      const codes = store.codesOfLegalRep(ids[r]!);
      const start = r === repIndex && after !== undefined ? lowerBound(codes, (c) => c <= after!) : 0;
      for (let k = start; k < codes.length; k++) {
        if (parts.length === limit) {
          more = true;
          break scan;
        }
        parts.push(recordJson(codes[k]!, include));
        last = { repIndex: r, code: codes[k]! };
      }
    }
    const nextCursor = more && last ? JSON.stringify(encodeLegalRepCursor({ fingerprint, repIndex: last.repIndex, lastCode: last.code })) : 'null';
    send(res, 200, `{"items":[${parts.join(',')}],"nextCursor":${nextCursor}}`);
  }

  /** GET /v1/abnormal-operations?limit=&cursor=&current=true */
  function abnormalList(_req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): void {
    const limit = parseLimit(query.get('limit') ?? undefined, PAGE_LIMITS.abnormal);
    const current = query.get('current');
    if (current !== null && current !== 'true' && current !== 'false') throw new RequestError('"current" must be true or false');
    const rawCursor = query.get('cursor');
    const listings = store.abnormalListings();
    let start = 0;
    if (rawCursor !== null) {
      const cursor = decodeAbnormalCursor(rawCursor);
      if (!cursor) throw new RequestError('"cursor" is not a cursor this service issued');
      start = lowerBound(listings, (l) => l.creditCode < cursor.creditCode || (l.creditCode === cursor.creditCode && l.index <= cursor.index));
    }
    const items: unknown[] = [];
    let more = false;
    let lastKey: { creditCode: string; index: number } | undefined;
    for (let i = start; i < listings.length; i++) {
      const l = listings[i]!;
      if (current === 'true' && l.removedAt !== null) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push({ creditCode: l.creditCode, name: l.name, reason: l.reason, listedAt: l.listedAt, removedAt: l.removedAt, authority: l.authority });
      lastKey = l;
    }
    const nextCursor = more && lastKey ? encodeAbnormalCursor({ creditCode: lastKey.creditCode, index: lastKey.index }) : null;
    send(res, 200, JSON.stringify({ items, nextCursor }));
  }

  /**
   * GET /v1/changes?after=<cursor>&limit= — registrations, status changes, abnormal-operation
   * listings and removals, licences, permits and penalties. The ETag names
   * the page's content (first and last event, more to come), so polling an unchanged feed is a 304.
   */
  function changes(req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): void {
    const limit = parseLimit(query.get('limit') ?? undefined, PAGE_LIMITS.changes);
    const rawAfter = query.get('after');
    let afterId = 0;
    if (rawAfter === LATEST_CHANGE_CURSOR) afterId = store.headEventId();
    else if (rawAfter !== null && rawAfter !== '') {
      const decoded = decodeChangeCursor(rawAfter);
      if (decoded === undefined) throw new RequestError('"after" is not a cursor this service issued');
      afterId = decoded;
    }
    const events = store.changeEvents();
    const start = lowerBound(events, (e) => e.id <= afterId);
    const end = Math.min(events.length, start + limit);
    const lastId = end > start ? events[end - 1]!.id : afterId;
    const hasMore = end < events.length;
    const etag = `"c${afterId}-${lastId}${hasMore ? 'm' : ''}"`;
    if (matchesIfNoneMatch(req, etag)) {
      notModified(res, etag);
      return;
    }
    const page = events.slice(start, end);
    send(res, 200, JSON.stringify({ events: page, nextCursor: encodeChangeCursor(lastId), hasMore }), etag);
  }

  const changeRoutes = marketRegulationChangeRoutes(store);

  function fail(res: http.ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof RequestError) sendError(res, error.status, error.message);
    else sendError(res, 500, 'internal error');
  }

  type Run = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

  /** Routes a request to its operation; the operation name is known before faults apply, so every received call is counted. */
  function route(method: string, path: string, query: URLSearchParams): { operation: string; run: Run } {
    const op = MARKET_REGULATION_OPERATIONS;
    const only = (allowed: string, operation: string, run: Run): { operation: string; run: Run } =>
      method === allowed ? { operation, run } : { operation, run: (_q, res) => sendError(res, 405, `use ${allowed} for this route`) };
    if (path === '/v1/enterprises') return only('GET', op.enterprisesBatch, (q, s) => enterprisesBatch(q, s, query));
    if (path.startsWith('/v1/enterprises/')) {
      const code = decodeURIComponent(path.slice('/v1/enterprises/'.length));
      return only('GET', op.enterpriseGet, (q, s) => enterpriseGet(q, s, code));
    }
    if (path === '/v1/legal-representatives/enterprises') return only('POST', op.enterprisesByLegalRep, enterprisesByLegalRep);
    if (path === '/v1/changes') return only('GET', op.changes, (q, s) => changes(q, s, query));
    if (path === '/v1/abnormal-operations') return only('GET', op.abnormalList, (q, s) => abnormalList(q, s, query));
    if (path === '/v1/health') return only('GET', op.health, health);
    return { operation: op.unknown, run: (_q, res) => sendError(res, 404, 'no such route') };
  }

  return (req, res) => {
    const url = req.url ?? '/';
    if (serveChangeRoutes(changeRoutes, req, res)) return;
    if (serveControl(control, req, res)) return;
    const q = url.indexOf('?');
    let target: { operation: string; run: Run };
    try {
      target = route(req.method ?? 'GET', q < 0 ? url : url.slice(0, q), new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
    } catch {
      // decodeURIComponent on a broken percent-escape.
      sendError(res, 400, 'the request path is not valid');
      return;
    }
    control.count(target.operation);
    withFaults(control, (rq, rs) => {
      if (control.faults.mode === 'malformed') {
        send(rs, 200, MALFORMED_BODY);
        return;
      }
      try {
        const pending = target.run(rq, rs);
        if (pending) pending.catch((error: unknown) => fail(rs, error));
      } catch (error) {
        fail(rs, error);
      }
    })(req, res);
  };
}
