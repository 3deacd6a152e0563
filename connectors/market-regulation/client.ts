/**
 * The calls the connector makes to the market-regulation API: batch lookups by credit code,
 * paged lookups by legal representative, the change feed (with ETags) and the health probe.
 * Every reply is validated; every call is one HTTP request on the keep-alive pool.
 */
import { UpstreamInvalidResponseError, citizenIdProblem, creditCodeProblem, type HttpUpstream } from '../../src/sdk';
import {
  changesPageReply,
  enterpriseBatchReply,
  healthReply,
  legalRepPageReply,
  parseReply,
  type EnterpriseChangeEvent,
  type EnterpriseRecord,
} from './schemas';
import { readEnterpriseBatch } from './fast-replies';

/** One page of the change feed. */
export interface ChangeFeedPage {
  /** Events after the cursor that was read, oldest first. */
  events: readonly EnterpriseChangeEvent[];
  /** Where to read next (also when `events` is empty: poll again from here). */
  nextCursor: string;
  /** More events are waiting: read again from `nextCursor` right away. */
  hasMore: boolean;
  /** The department answered 304: the page is the one read before with the same cursor. */
  notModified: boolean;
}

/** How the client pages and identifies itself. */
export interface MarketRegulationClientOptions {
  connector: string;
  /** Records asked per page of the by-representative query. */
  pageSize: number;
  /** Pages after which a query that is still paging is an invalid reply (a runaway cursor). */
  maxPages: number;
  /** Events asked per page of the change feed. */
  changesPageSize: number;
}

/** The market-regulation API calls of one connector. */
export interface MarketRegulationClient {
  /** Records of the given credit codes, by code; invalid codes are skipped (they exist nowhere). */
  enterprisesByCode(codes: readonly string[], signal?: AbortSignal): Promise<Map<string, EnterpriseRecord>>;
  /** Records of which each given person is the legal representative, by id number, following every page. */
  enterprisesByLegalRep(idNumbers: readonly string[], signal?: AbortSignal): Promise<Map<string, EnterpriseRecord[]>>;
  /** One page of the change feed after `after` (from the start when omitted; `'latest'` for the current end). */
  readChanges(after?: string, signal?: AbortSignal): Promise<ChangeFeedPage>;
  /** A cheap call to the health endpoint; throws when the department is not well. */
  probe(): Promise<void>;
}

/** How many change-feed pages keep their ETag for a conditional re-read (a poller needs one or two). */
const ETAG_MEMORY = 32;

/** Creates the API calls over an HTTP upstream. */
export function createMarketRegulationClient(upstream: HttpUpstream, options: MarketRegulationClientOptions): MarketRegulationClient {
  const { connector, pageSize, maxPages, changesPageSize } = options;
  const changesByCursor = new Map<string, { etag: string; page: ChangeFeedPage }>();

  return {
    async enterprisesByCode(codes, signal) {
      const found = new Map<string, EnterpriseRecord>();
      const valid = codes.filter((code) => creditCodeProblem(code) === undefined);
      if (valid.length === 0) return found;
      // Credit codes are digits and capitals only, so they need no escaping in the query.
      const { data } = await upstream.json({ path: `/v1/enterprises?creditCodes=${valid.join(',')}`, signal, operation: 'enterprises.byCreditCode', batchSize: valid.length });
      // The hand-written reader accepts a subset of what the schema accepts, with the same output; the schema names any problem.
      const reply = readEnterpriseBatch(data) ?? parseReply(connector, 'enterprise batch', enterpriseBatchReply, data);
      const asked = new Set(valid);
      for (const record of reply.items) {
        if (!asked.has(record.creditCode)) throw new UpstreamInvalidResponseError(connector, 'enterprise batch: a record was returned for a credit code that was not asked');
        found.set(record.creditCode, record);
      }
      return found;
    },

    async enterprisesByLegalRep(idNumbers, signal) {
      const byRep = new Map<string, EnterpriseRecord[]>();
      const valid = idNumbers.filter((id) => citizenIdProblem(id) === undefined);
      if (valid.length === 0) return byRep;
      for (const id of valid) byRep.set(id, []);
      let cursor: string | null = null;
      for (let page = 1; ; page++) {
        const body: string = JSON.stringify(cursor === null ? { idNumbers: valid, limit: pageSize } : { idNumbers: valid, limit: pageSize, cursor });
        const { data }: { data: unknown } = await upstream.json({
          method: 'POST',
          path: '/v1/legal-representatives/enterprises',
          headers: { 'content-type': 'application/json' },
          body,
          signal,
          operation: 'enterprises.byLegalRepresentative',
          batchSize: valid.length,
        });
        const reply: { items: EnterpriseRecord[]; nextCursor: string | null } = parseReply(connector, 'enterprises by legal representative', legalRepPageReply, data);
        for (const record of reply.items) {
          const list = byRep.get(record.legalRepIdNumber);
          if (!list) throw new UpstreamInvalidResponseError(connector, 'enterprises by legal representative: a record names a representative that was not asked');
          list.push(record);
        }
        if (reply.nextCursor === null) return byRep;
        if (reply.nextCursor === cursor) throw new UpstreamInvalidResponseError(connector, 'enterprises by legal representative: the paging cursor did not advance');
        if (page >= maxPages) throw new UpstreamInvalidResponseError(connector, `enterprises by legal representative: still paging after ${maxPages} pages`);
        cursor = reply.nextCursor;
      }
    },

    async readChanges(after, signal) {
      const key = after ?? '';
      const known = changesByCursor.get(key);
      const query = `limit=${changesPageSize}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;
      const res = await upstream.json({
        path: `/v1/changes?${query}`,
        headers: known ? { 'if-none-match': known.etag } : {},
        acceptStatus: [304],
        signal,
        operation: 'changes',
      });
      if (res.status === 304) {
        if (!known) throw new UpstreamInvalidResponseError(connector, 'change feed: 304 Not Modified to an unconditional request');
        return { ...known.page, notModified: true };
      }
      const reply = parseReply(connector, 'change feed', changesPageReply, res.data);
      const page: ChangeFeedPage = { events: reply.events, nextCursor: reply.nextCursor, hasMore: reply.hasMore, notModified: false };
      const etag = res.headers.etag;
      if (typeof etag === 'string') {
        // Re-inserting moves the cursor to the newest end; the oldest is forgotten first.
        changesByCursor.delete(key);
        changesByCursor.set(key, { etag, page });
        if (changesByCursor.size > ETAG_MEMORY) changesByCursor.delete(changesByCursor.keys().next().value!);
      }
      return page;
    },

    async probe() {
      const { data } = await upstream.json({ path: '/v1/health', operation: 'health' });
      parseReply(connector, 'health', healthReply, data);
    },
  };
}
