/**
 * The calls of the social security API (v1) over the SDK's HTTP upstream: batch lookups and the
 * health check, each reply validated against the schemas before anything reads it.
 */
import type { z } from 'zod';
import { ConnectorUnavailableError, UpstreamInvalidResponseError, createHttpUpstream, type HttpUpstream } from '../../src/sdk';
import { employerBatchReplySchema, healthReplySchema, insuredBatchReplySchema } from './schemas';
import type { EmployerAccountRecord, InsuredRecord } from './schemas';
import { readEmployerBatch, readInsuredBatch } from './fast-replies';

/** Most months of history the graph can ask for (`contributions(last:)` is at most 120). */
export const MAX_CONTRIBUTION_MONTHS = 120;

/** Settings of the client. */
export interface SocialSecurityClientOptions {
  connector: string;
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  connections: number;
}

/** The API calls the connector makes; each method is exactly one upstream call. */
export interface SocialSecurityClient {
  /** Insured persons by citizen identity number, in one call (at most 100 ids). */
  insuredByIds(ids: readonly string[], signal?: AbortSignal): Promise<Map<string, InsuredRecord>>;
  /** One insured person with the whole contribution history the department holds (no `months` limit), in one call; null when not insured. */
  insuredWithHistory(id: string, signal?: AbortSignal): Promise<InsuredRecord | null>;
  /** Employer accounts by credit code, in one call (at most 100 codes). */
  employersByCodes(codes: readonly string[], signal?: AbortSignal): Promise<Map<string, EmployerAccountRecord>>;
  /** Resolves when the department answers its health check with this API key. */
  health(): Promise<void>;
  close(): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' } as const;
/** Answered, not thrown by the upstream, so that a refused key gets its own message. */
const AUTH_STATUSES = [401, 403] as const;

/** Creates the client; the API key travels in `x-api-key` on every call and never appears in an error. */
export function createSocialSecurityClient(options: SocialSecurityClientOptions): SocialSecurityClient {
  const { connector } = options;
  const upstream: HttpUpstream = createHttpUpstream({
    connector,
    baseUrl: options.baseUrl,
    timeoutMs: options.timeoutMs,
    connections: options.connections,
    headers: { 'x-api-key': options.apiKey },
  });

  function invalid(reason: string): UpstreamInvalidResponseError {
    return new UpstreamInvalidResponseError(connector, reason);
  }

  /** One call whose JSON reply must match `schema`. Parse errors are not kept as causes: they quote the body. */
  async function call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    schema: S,
    /** A hand-written reader accepting a subset of what `schema` accepts, with the same output; what it leaves goes to `schema`. */
    fast: ((data: unknown) => z.output<S> | undefined) | undefined,
    signal?: AbortSignal,
    /** The call's fixed operation name and batch size, for its trace span (docs/tracing.md). */
    operation?: string,
    batchSize?: number,
  ): Promise<z.output<S>> {
    const res = await upstream.request({ method, path, body, headers: JSON_HEADERS, signal, acceptStatus: AUTH_STATUSES, ...(operation !== undefined ? { operation } : {}), ...(batchSize !== undefined ? { batchSize } : {}) });
    if (res.status === 401 || res.status === 403) {
      throw new ConnectorUnavailableError(connector, `authentication failed (HTTP ${res.status}: the department refused the API key)`);
    }
    let data: unknown;
    try {
      data = JSON.parse(res.body);
    } catch {
      throw invalid('the body is not valid JSON');
    }
    const read = fast?.(data);
    if (read !== undefined) return read;
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'the reply';
      throw invalid(`${where} does not match the API contract (${issue?.code ?? 'invalid'})`);
    }
    return parsed.data;
  }

  /**
   * Indexes a batch reply by identifier and checks that it answers exactly what was asked: every
   * id found or listed as not found, no record that was not asked for.
   */
  function indexReply<R>(asked: readonly string[], items: R[], notFound: string[], idOf: (item: R) => string): Map<string, R> {
    const askedSet = new Set(asked);
    const found = new Map<string, R>();
    for (const item of items) {
      const id = idOf(item);
      if (!askedSet.has(id)) throw invalid('the reply holds a record that was not asked for');
      found.set(id, item);
    }
    if (found.size + notFound.length < askedSet.size) {
      const missing = new Set(notFound);
      for (const id of askedSet) {
        if (!found.has(id) && !missing.has(id)) throw invalid('the reply does not account for every identifier asked for');
      }
    }
    return found;
  }

  return {
    async insuredByIds(ids, signal) {
      const reply = await call('POST', '/api/v1/insured/batch', JSON.stringify({ ids, months: MAX_CONTRIBUTION_MONTHS }), insuredBatchReplySchema, readInsuredBatch, signal, 'insured.batch', ids.length);
      const found = indexReply(ids, reply.items, reply.notFound, (item) => item.idNumber);
      for (const item of reply.items) sortNewestFirst(item);
      return found;
    },
    async insuredWithHistory(id, signal) {
      const reply = await call('POST', '/api/v1/insured/batch', JSON.stringify({ ids: [id] }), insuredBatchReplySchema, readInsuredBatch, signal, 'insured.batch', 1);
      const found = indexReply([id], reply.items, reply.notFound, (item) => item.idNumber).get(id);
      if (found) sortNewestFirst(found);
      return found ?? null;
    },
    async employersByCodes(codes, signal) {
      const reply = await call('POST', '/api/v1/employers/batch', JSON.stringify({ ids: codes }), employerBatchReplySchema, readEmployerBatch, signal, 'employers.batch', codes.length);
      return indexReply(codes, reply.items, reply.notFound, (item) => item.creditCode);
    },
    async health() {
      await call('GET', '/api/v1/health', undefined, healthReplySchema, undefined, undefined, 'health');
    },
    close: () => upstream.close(),
  };
}

/**
 * The API promises contributions newest first; `contributions(last:)` depends on that order, so
 * it is checked (one pass) and restored if a department system breaks it. The sort is stable,
 * keeping the department's order of insurance types within a period.
 */
function sortNewestFirst(record: InsuredRecord): void {
  const list = record.contributions;
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.period > list[i - 1]!.period) {
      list.sort((a, b) => (a.period === b.period ? 0 : a.period < b.period ? 1 : -1));
      return;
    }
  }
}
