/**
 * The market-regulation 市场监管 connector: enterprises, business licences, permits, penalties and
 * the abnormal-operation list from the department's REST/JSON service, plus its change feed.
 */
import DataLoader from 'dataloader';
import {
  createBatchLoader,
  createHttpUpstream,
  defineConnector,
  defineConnectorModule,
  DEFAULT_MAX_BATCH_SIZE,
  sdlFile,
  settingSchemas,
  z,
  type Connector,
  type DepartmentEvent,
  type EventTypeSpec,
} from '../../src/sdk';
import { createMarketRegulationClient, type ChangeFeedPage } from './client';
import { createMarketRegulationResolvers, type MarketRegulationLoaders } from './resolvers';
import type { EnterpriseChangeEvent, EnterpriseRecord } from './schemas';
import { MARKET_REGULATION_PROOFS, createMarketRegulationProofs } from './proofs';

export type { ChangeFeedPage } from './client';
export type { MarketRegulationLoaders } from './resolvers';
export { ENTERPRISE_REGISTRATION, MARKET_REGULATION_PROOFS } from './proofs';
export type { AbnormalOperationRecord, EnterpriseChangeEvent, EnterpriseRecord, LicenceRecord, PenaltyRecord, PermitRecord } from './schemas';

/** The connector id, named in errors, metrics and the audit log. */
export const MARKET_REGULATION_CONNECTOR_ID = 'market-regulation';

/** The primary by-identifier loader (credit code → record or null), for the conformance suite. */
export const MARKET_REGULATION_PRIMARY_LOADER = 'enterpriseByCode' satisfies keyof MarketRegulationLoaders;

/** The `after` cursor that starts the change feed at its current end (skip the history). */
export const LATEST_CHANGES = 'latest';

/** The event types of the change feed (subject: the enterprise, by credit code). */
export const MARKET_REGULATION_EVENTS: readonly EventTypeSpec[] = Object.freeze([
  { type: 'ENTERPRISE_REGISTERED', subject: 'ENTERPRISE', description: 'A new enterprise was registered 设立登记 and its business licence issued; details: licenceNumber.' },
  { type: 'ENTERPRISE_STATUS_CHANGED', subject: 'ENTERPRISE', description: 'The registration status of an enterprise changed 登记状态变更; details: previousStatus.' },
  { type: 'ABNORMAL_LISTED', subject: 'ENTERPRISE', description: 'The enterprise was put on the abnormal-operation list 列入经营异常名录; details: reason, listedAt.' },
  { type: 'ABNORMAL_REMOVED', subject: 'ENTERPRISE', description: 'The enterprise was removed from the abnormal-operation list 移出经营异常名录; details: removalReason, listedAt.' },
  { type: 'LICENCE_ISSUED', subject: 'ENTERPRISE', description: 'A business licence 营业执照 was issued again (a changed scope or term); details: licenceNumber, previousIssuedAt.' },
  { type: 'PERMIT_ISSUED', subject: 'ENTERPRISE', description: 'An administrative permit 行政许可 was issued to the enterprise; details: permitNumber, kind.' },
  { type: 'PENALTY_IMPOSED', subject: 'ENTERPRISE', description: 'An administrative penalty 行政处罚 was imposed on the enterprise; details: decisionNumber, amount.' },
]);

/** The event type of each kind of change the department reports. */
const EVENT_TYPE_OF_KIND: Readonly<Record<EnterpriseChangeEvent['kind'], string>> = {
  REGISTERED: 'ENTERPRISE_REGISTERED',
  STATUS_CHANGED: 'ENTERPRISE_STATUS_CHANGED',
  ABNORMAL_LISTED: 'ABNORMAL_LISTED',
  ABNORMAL_REMOVED: 'ABNORMAL_REMOVED',
  LICENCE_ISSUED: 'LICENCE_ISSUED',
  PERMIT_ISSUED: 'PERMIT_ISSUED',
  PENALTY_IMPOSED: 'PENALTY_IMPOSED',
};

/** A change of the department's feed as a hub event: its id is the feed position, stable across re-reads. */
export function toMarketRegulationEvent(change: EnterpriseChangeEvent): DepartmentEvent {
  return {
    id: String(change.id),
    type: EVENT_TYPE_OF_KIND[change.kind],
    subject: { kind: 'ENTERPRISE', id: change.creditCode },
    occurredAt: change.at,
    ...(change.details ? { details: change.details } : {}),
  };
}

/** Options of `createMarketRegulationConnector`. */
export interface MarketRegulationConnectorOptions {
  /** Base URL of the department's REST service, e.g. `http://127.0.0.1:8084` (the API lives under `/v1`). */
  baseUrl: string;
  /**
   * Per-call timeout in milliseconds, connection included.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Keep-alive connections to the department.
   * @default 16
   */
  connections?: number;
  /**
   * Records asked per page when listing enterprises by legal representative (the department allows 1 to 500).
   * @default 500
   */
  pageSize?: number;
  /**
   * Pages after which a by-representative query that is still paging fails as an invalid reply.
   * @default 20
   */
  maxPages?: number;
  /**
   * Events asked per page of the change feed (the department allows 1 to 1000).
   * @default 500
   */
  changesPageSize?: number;
  /** Headers sent with every call (an API key of the real department system, say). */
  headers?: Record<string, string>;
}

/** Defaults of `MarketRegulationConnectorOptions`. */
export const DEFAULT_MARKET_REGULATION_OPTIONS = Object.freeze({
  timeoutMs: 2000,
  connections: 16,
  pageSize: 500,
  maxPages: 20,
  changesPageSize: 500,
});

/** The market-regulation connector: a Connector plus the change-feed reader used for cache invalidation. */
export interface MarketRegulationConnector extends Connector<MarketRegulationLoaders> {
  /**
   * Reads one page of the change feed after `after` (from the start when omitted, from the current
   * end with `LATEST_CHANGES`). Re-reading a cursor sends If-None-Match, so an unchanged feed costs a 304.
   */
  readChanges(after?: string, signal?: AbortSignal): Promise<ChangeFeedPage>;
}

function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`market-regulation connector: option "${name}" must be an integer from ${min} to ${max}, but got: ${String(value)}`);
  }
}

/** Validates the options (a clear TypeError naming the option) and fills in the defaults. */
function resolveOptions(options: MarketRegulationConnectorOptions): Required<Omit<MarketRegulationConnectorOptions, 'headers'>> & Pick<MarketRegulationConnectorOptions, 'headers'> {
  if (typeof options !== 'object' || options === null) throw new TypeError('market-regulation connector: options must be an object');
  let url: URL | undefined;
  try {
    url = typeof options.baseUrl === 'string' ? new URL(options.baseUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError('market-regulation connector: option "baseUrl" must be an absolute http(s) URL');
  }
  const resolved = { ...DEFAULT_MARKET_REGULATION_OPTIONS, ...options };
  for (const key of Object.keys(DEFAULT_MARKET_REGULATION_OPTIONS) as (keyof typeof DEFAULT_MARKET_REGULATION_OPTIONS)[]) {
    if (options[key] === undefined) resolved[key] = DEFAULT_MARKET_REGULATION_OPTIONS[key];
  }
  checkInteger('timeoutMs', resolved.timeoutMs, 1, 600_000);
  checkInteger('connections', resolved.connections, 1, 1024);
  checkInteger('pageSize', resolved.pageSize, 1, 500);
  checkInteger('maxPages', resolved.maxPages, 1, 10_000);
  checkInteger('changesPageSize', resolved.changesPageSize, 1, 1000);
  return resolved;
}

/** Creates the market-regulation connector over the department's REST service. */
export function createMarketRegulationConnector(options: MarketRegulationConnectorOptions): MarketRegulationConnector {
  const settings = resolveOptions(options);
  const upstream = createHttpUpstream({
    connector: MARKET_REGULATION_CONNECTOR_ID,
    baseUrl: settings.baseUrl,
    timeoutMs: settings.timeoutMs,
    connections: settings.connections,
    ...(settings.headers ? { headers: settings.headers } : {}),
  });
  const client = createMarketRegulationClient(upstream, {
    connector: MARKET_REGULATION_CONNECTOR_ID,
    pageSize: settings.pageSize,
    maxPages: settings.maxPages,
    changesPageSize: settings.changesPageSize,
  });

  const connector = defineConnector<MarketRegulationLoaders>({
    id: MARKET_REGULATION_CONNECTOR_ID,
    title: 'Market regulation 市场监管',
    createLoaders(scope) {
      const enterpriseByCode = createBatchLoader<string, EnterpriseRecord>(
        (codes) => client.enterprisesByCode(codes, scope.signal),
        // Changed enterprises are evicted from the cache by the hub's change-feed poller (readChanges).
        scope.cache ? { cache: scope.cache.loader(MARKET_REGULATION_PRIMARY_LOADER) } : {},
      );
      const enterprisesByLegalRep = new DataLoader<string, EnterpriseRecord[]>(
        async (idNumbers) => {
          const byRep = await client.enterprisesByLegalRep(idNumbers, scope.signal);
          // The records are complete: later Enterprise fields of this request need no second call.
          for (const records of byRep.values()) for (const record of records) enterpriseByCode.prime(record.creditCode, record);
          return idNumbers.map((id) => byRep.get(id) ?? []);
        },
        { maxBatchSize: DEFAULT_MAX_BATCH_SIZE },
      );
      return { enterpriseByCode, enterprisesByLegalRep };
    },
    resolvers: (loaders) => createMarketRegulationResolvers(loaders),
    seals: {
      Enterprise: {
        recordType: 'Enterprise',
        load: (enterprise: { creditCode: string }, loaders) => loaders.enterpriseByCode.load(enterprise.creditCode),
        id: (r: EnterpriseRecord) => r.creditCode,
        fields: (r: EnterpriseRecord) => ({
          creditCode: r.creditCode,
          name: r.name,
          kind: r.kind,
          status: r.status,
          legalRepresentative: { idNumber: r.legalRepIdNumber },
          registeredCapital: r.registeredCapital,
          establishedAt: r.establishedAt,
          address: r.address,
          industry: r.industry,
          licence: r.licence,
          permits: r.permits,
          penalties: r.penalties,
          abnormalOperations: r.abnormalOperations,
        }),
      },
    },
    // Changed enterprises are evicted from the hub's record cache as the department reports them.
    changeFeed: {
      startCursor: LATEST_CHANGES,
      async read(cursor, signal) {
        const page = await client.readChanges(cursor, signal);
        return {
          changed: page.events.map((e) => ({ loader: MARKET_REGULATION_PRIMARY_LOADER, key: e.creditCode })),
          events: page.events.map(toMarketRegulationEvent),
          nextCursor: page.nextCursor,
          hasMore: page.hasMore,
        };
      },
    },
    // A proof asks the department itself, one call of its own: never a loader or the cache.
    proofs: createMarketRegulationProofs(async (creditCode, signal) => (await client.enterprisesByCode([creditCode], signal)).get(creditCode) ?? null),
    probe: () => client.probe(),
    stop: () => upstream.close(),
  });
  return Object.assign(connector, { readChanges: (after?: string, signal?: AbortSignal) => client.readChanges(after, signal) });
}

/** The connector module the hub discovers: settings `connectors.market-regulation.*`. */
export const connectorModule = defineConnectorModule({
  id: MARKET_REGULATION_CONNECTOR_ID,
  title: 'Market regulation 市场监督管理',
  settings: z.strictObject({
    baseUrl: settingSchemas.httpUrl(),
    timeoutMs: settingSchemas.timeoutMs().optional(),
    connections: settingSchemas.connections().optional(),
    pageSize: z.number().int().min(1).max(500).optional(),
    maxPages: z.number().int().min(1).max(10_000).optional(),
    changesPageSize: z.number().int().min(1).max(1000).optional(),
  }),
  legacyEnvironment: { DATARUN_MARKET_REGULATION_URL: 'baseUrl' },
  typeDefs: sdlFile(`${__dirname}/schema.graphql`),
  create: (settings, environment) => createMarketRegulationConnector({ ...settings, timeoutMs: settings.timeoutMs ?? environment.defaultTimeoutMs }),
  // Its change feed evicts changed enterprises within a second, so they can stay cached longer.
  cacheTtlSeconds: 600,
  events: MARKET_REGULATION_EVENTS,
  proofs: MARKET_REGULATION_PROOFS,
});
