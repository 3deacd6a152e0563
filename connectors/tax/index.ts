/**
 * The tax connector 税务: puts the tax bureau's SOAP 1.1 web service behind the graph
 * (Person.taxRecords, Enterprise.taxStatus and arrears, Property.deedTaxPayments and the
 * Taxpayer / TaxPayment types), one SOAP operation per loader batch.
 */
import DataLoader from 'dataloader';
import type { ZodType } from 'zod';
import {
  BadUserInputError,
  DEFAULT_HTTP_UPSTREAM,
  DEFAULT_MAX_BATCH_SIZE,
  UpstreamInvalidResponseError,
  createBatchLoader,
  defineConnector,
  defineConnectorModule,
  sdlFile,
  settingSchemas,
  z,
  type ChangeFeedRead,
  type Connector,
  type DepartmentEvent,
  type EventTypeSpec,
  type TaxpayerPaymentsArgs,
} from '../../src/sdk';
import {
  getChangesResponse,
  getDeedTaxPaymentsResponse,
  getTaxpayersResponse,
  pingResponse,
  toDeedTaxRecords,
  toTaxpayerRecord,
  type TaxChangeRecord,
  type TaxPaymentRecord,
  type TaxpayerRecord,
} from './schemas';
import { readDeedTaxPayments, readTaxpayers } from './fast-replies';
import { createTaxSoapClient, escapeXml, requestBody, type TaxSoapClient, type TaxSoapOperation } from './soap';
import { TAX_PROOFS, createTaxProofs } from './proofs';

export type { TaxArrearRecord, TaxChangeRecord, TaxPaymentRecord, TaxpayerRecord } from './schemas';
export { TAX_SOAP_NAMESPACE, sanitizeFaultString } from './soap';
export { NO_TAX_ARREARS, TAX_PROOFS } from './proofs';

/** The connector id, named in errors, metrics and the audit log. */
export const TAX_CONNECTOR_ID = 'tax';

/** Name of the primary by-identifier loader (taxpayer id → taxpayer record), for the conformance suite. */
export const TAX_PRIMARY_LOADER = 'taxpayerById' as const;

/** The event types of the tax change feed: about the taxpayer, a person (id number) or an enterprise (credit code). */
export const TAX_EVENTS: readonly EventTypeSpec[] = Object.freeze([
  {
    type: 'ARREARS_ARISEN',
    subject: 'PERSON',
    subjects: ['PERSON', 'ENTERPRISE'],
    description: 'A taxpayer (a person or an enterprise) owes a tax past its due date 产生欠税; details: taxType, amount, since.',
  },
  {
    type: 'ARREARS_SETTLED',
    subject: 'PERSON',
    subjects: ['PERSON', 'ENTERPRISE'],
    description: 'A taxpayer paid off the arrears of one tax type 欠税清缴; details: taxType, amount, since.',
  },
]);

/** The GetChanges cursor that starts the feed at the log's current end. */
export const TAX_LATEST_CHANGES = 'latest';

/** A change of the department's log as a hub event: its id is the department's change id, stable across re-reads. */
export function toTaxEvent(change: TaxChangeRecord): DepartmentEvent {
  return {
    id: change.id,
    type: change.type,
    subject: { kind: change.taxpayerKind, id: change.taxpayerId },
    occurredAt: change.occurredAt,
    details: { taxType: change.taxType, amount: change.amount, since: change.since },
  };
}

/** How to reach the tax department system. */
export interface TaxConnectorOptions {
  /** The SOAP endpoint URL, e.g. `http://127.0.0.1:8083/services/TaxService` (the WSDL is at `?wsdl`). */
  url: string;
  /**
   * Per-call timeout in milliseconds.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Keep-alive connections to the service.
   * @default 16
   */
  connections?: number;
  /**
   * Changes asked per GetChanges call of the change feed (the service allows 1 to 1000).
   * @default 500
   */
  changesPageSize?: number;
}

/** Defaults of `TaxConnectorOptions`. */
export const DEFAULT_TAX_OPTIONS = Object.freeze({
  timeoutMs: DEFAULT_HTTP_UPSTREAM.timeoutMs,
  connections: DEFAULT_HTTP_UPSTREAM.connections,
  changesPageSize: 500,
});

/** The per-request loaders of the connector. */
export interface TaxLoaders {
  /** Taxpayer by citizen identity number or credit code; null when not registered. One GetTaxpayers call per batch. */
  taxpayerById: DataLoader<string, TaxpayerRecord | null>;
  /** Deed-tax 契税 payments by unit number, newest first; [] when none. One GetDeedTaxPayments call per batch. */
  deedTaxByUnit: DataLoader<string, TaxPaymentRecord[]>;
}

function checkOptions(options: TaxConnectorOptions): Required<TaxConnectorOptions> {
  if (options === null || typeof options !== 'object') throw new TypeError('Tax connector options must be an object');
  let url: URL | undefined;
  try {
    url = typeof options.url === 'string' ? new URL(options.url) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`Tax connector option "url" must be the absolute http(s) URL of the SOAP endpoint, but got: ${JSON.stringify(options.url)}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TAX_OPTIONS.timeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`Tax connector option "timeoutMs" must be a positive number of milliseconds, but got: ${String(options.timeoutMs)}`);
  }
  const connections = options.connections ?? DEFAULT_TAX_OPTIONS.connections;
  if (!Number.isInteger(connections) || connections < 1) {
    throw new TypeError(`Tax connector option "connections" must be a positive integer, but got: ${String(options.connections)}`);
  }
  const changesPageSize = options.changesPageSize ?? DEFAULT_TAX_OPTIONS.changesPageSize;
  if (!Number.isInteger(changesPageSize) || changesPageSize < 1 || changesPageSize > 1000) {
    throw new TypeError(`Tax connector option "changesPageSize" must be an integer from 1 to 1000, but got: ${String(options.changesPageSize)}`);
  }
  return { url: options.url, timeoutMs, connections, changesPageSize };
}

/** One page of the change log after `cursor` (an opaque cursor of the service, or `latest`). */
async function readTaxChanges(client: TaxSoapClient, cursor: string, pageSize: number, signal: AbortSignal): Promise<ChangeFeedRead> {
  const body = `<t:GetChangesRequest><t:cursor>${escapeXml(cursor)}</t:cursor><t:limit>${pageSize}</t:limit></t:GetChangesRequest>`;
  const reply = validated('GetChanges', getChangesResponse, await client.call('GetChanges', body, signal));
  const changes = reply.change ?? [];
  if (changes.length > pageSize) throw new UpstreamInvalidResponseError(TAX_CONNECTOR_ID, 'GetChangesResponse holds more changes than asked for');
  for (let i = 1; i < changes.length; i++) {
    if (Number(changes[i]!.id) <= Number(changes[i - 1]!.id)) throw new UpstreamInvalidResponseError(TAX_CONNECTOR_ID, 'GetChangesResponse lists changes out of order');
  }
  if (reply.hasMore && reply.nextCursor === cursor) throw new UpstreamInvalidResponseError(TAX_CONNECTOR_ID, 'GetChangesResponse: the cursor did not advance');
  return {
    changed: changes.map((c) => ({ loader: TAX_PRIMARY_LOADER, key: c.taxpayerId })),
    events: changes.map(toTaxEvent),
    nextCursor: reply.nextCursor,
    hasMore: reply.hasMore,
  };
}

/** Checks a response element against its schema; a mismatch names the operation, never the content. */
function validated<T>(operation: TaxSoapOperation, schema: ZodType<T>, response: unknown, fast?: (response: unknown) => T | undefined): T {
  // A hand-written reader (fast-replies.ts) accepts a subset of what the schema accepts, with the same output.
  const read = fast?.(response);
  if (read !== undefined) return read;
  const result = schema.safeParse(response);
  if (!result.success) {
    const where = result.error.issues[0]?.path.join('.') ?? '';
    throw new UpstreamInvalidResponseError(TAX_CONNECTOR_ID, `${operation}Response does not match the WSDL${where === '' ? '' : ` at ${where}`}`);
  }
  return result.data;
}

async function fetchTaxpayers(client: TaxSoapClient, ids: readonly string[], signal: AbortSignal): Promise<Map<string, TaxpayerRecord>> {
  const reply = validated('GetTaxpayers', getTaxpayersResponse, await client.call('GetTaxpayers', requestBody('GetTaxpayers', 'taxpayerId', ids), signal, ids.length), readTaxpayers);
  const found = new Map<string, TaxpayerRecord>();
  for (const t of reply.taxpayer ?? []) found.set(t.taxpayerId, toTaxpayerRecord(t));
  // Every id must be answered, found or not: a missing one means a cut or misrouted answer, not "not registered".
  const notFound = new Set(reply.notFound);
  for (const id of ids) {
    if (!found.has(id) && !notFound.has(id)) throw new UpstreamInvalidResponseError(TAX_CONNECTOR_ID, 'GetTaxpayersResponse does not account for every requested taxpayer');
  }
  return found;
}

async function fetchDeedTax(client: TaxSoapClient, units: readonly string[], signal: AbortSignal): Promise<TaxPaymentRecord[][]> {
  const reply = validated('GetDeedTaxPayments', getDeedTaxPaymentsResponse, await client.call('GetDeedTaxPayments', requestBody('GetDeedTaxPayments', 'unitNumber', units), signal, units.length), readDeedTaxPayments);
  const byUnit = new Map<string, TaxPaymentRecord[]>();
  for (const unit of reply.unit ?? []) byUnit.set(unit.unitNumber, toDeedTaxRecords(unit));
  return units.map((unit) => {
    const payments = byUnit.get(unit);
    if (payments === undefined) throw new UpstreamInvalidResponseError(TAX_CONNECTOR_ID, 'GetDeedTaxPaymentsResponse does not account for every requested unit');
    return payments;
  });
}

/** Payments of one tax type and one tax year (by period 所属期), keeping newest first. */
function filterPayments<P extends { taxType: string; period: string }>(payments: P[], args: Partial<TaxpayerPaymentsArgs>): P[] {
  const { taxType, year } = args;
  if (year !== undefined && year !== null && !(Number.isInteger(year) && year >= 1900 && year <= 9999)) {
    throw new BadUserInputError('year', 'must be a year between 1900 and 9999');
  }
  const hasType = taxType !== undefined && taxType !== null;
  const hasYear = year !== undefined && year !== null;
  if (!hasType && !hasYear) return payments;
  const prefix = hasYear ? `${year}-` : '';
  return payments.filter((p) => (!hasType || p.taxType === taxType) && (!hasYear || p.period.startsWith(prefix)));
}

/** Creates the tax connector; options are checked now, the connection pool opens on first use. */
export function createTaxConnector(options: TaxConnectorOptions): Connector<TaxLoaders> {
  const settings = checkOptions(options);
  const client = createTaxSoapClient({ connector: TAX_CONNECTOR_ID, url: settings.url, timeoutMs: settings.timeoutMs, connections: settings.connections });

  return defineConnector<TaxLoaders>({
    id: TAX_CONNECTOR_ID,
    title: 'Tax 税务',
    createLoaders: (scope) => ({
      taxpayerById: createBatchLoader((ids) => fetchTaxpayers(client, ids, scope.signal), scope.cache ? { cache: scope.cache.loader(TAX_PRIMARY_LOADER) } : {}),
      deedTaxByUnit: new DataLoader<string, TaxPaymentRecord[]>((units) => fetchDeedTax(client, units, scope.signal), {
        maxBatchSize: DEFAULT_MAX_BATCH_SIZE,
      }),
    }),
    resolvers: (loaders) => ({
      Person: {
        taxRecords: async (person, _args, ctx) => {
          const record = await loaders(ctx).taxpayerById.load(person.idNumber);
          return record?.kind === 'PERSON' ? record : null;
        },
      },
      Enterprise: {
        taxStatus: async (enterprise, _args, ctx) => {
          const record = await loaders(ctx).taxpayerById.load(enterprise.creditCode);
          return record?.kind === 'ENTERPRISE' ? record : null;
        },
        // Same loader as taxStatus, so asking for both costs one call; an unregistered enterprise owes nothing here.
        arrears: async (enterprise, _args, ctx) => {
          const record = await loaders(ctx).taxpayerById.load(enterprise.creditCode);
          return record?.kind === 'ENTERPRISE' ? record.arrears : [];
        },
      },
      Property: {
        deedTaxPayments: (property, _args, ctx) => loaders(ctx).deedTaxByUnit.load(property.unitNumber),
      },
      Taxpayer: {
        payments: (taxpayer, args) => filterPayments(taxpayer.payments, args),
        arrears: (taxpayer) => taxpayer.arrears,
        hasArrears: (taxpayer) => taxpayer.arrears.length > 0,
      },
      TaxPayment: {
        property: (payment) => payment.property ?? null,
        payer: (payment) => payment.payer ?? null,
      },
    }),
    seals: {
      Taxpayer: {
        recordType: 'Taxpayer',
        load: async (taxpayer: TaxpayerRecord) => taxpayer,
        // Only keys the seal's pseudonymous `sub`: taxpayerId is NOT_SHARED, so it is not a sealed field.
        id: (r: TaxpayerRecord) => r.taxpayerId,
        fields: (r: TaxpayerRecord) => ({
          kind: r.kind,
          name: r.name,
          taxOffice: r.taxOffice,
          registeredAt: r.registeredAt,
          creditRating: r.creditRating,
          arrears: r.arrears,
          hasArrears: r.hasArrears,
        }),
      },
      TaxPayment: {
        recordType: 'TaxPayment',
        load: async (payment: TaxPaymentRecord) => payment,
        id: (r: TaxPaymentRecord) => r.voucherNumber,
        fields: (r: TaxPaymentRecord) => ({ voucherNumber: r.voucherNumber, taxType: r.taxType, amount: r.amount, period: r.period, paidAt: r.paidAt, property: r.property, payer: r.payer }),
      },
    },
    // Taxpayers whose arrears changed are evicted from the hub's cache, and the changes pushed as events.
    changeFeed: {
      startCursor: TAX_LATEST_CHANGES,
      read: (cursor, signal) => readTaxChanges(client, cursor, settings.changesPageSize, signal),
    },
    // A proof asks the service itself, one GetTaxpayers call of its own: never a loader or the cache.
    proofs: createTaxProofs(async (taxpayerId, signal) => (await fetchTaxpayers(client, [taxpayerId], signal)).get(taxpayerId) ?? null),
    async probe() {
      validated('Ping', pingResponse, await client.call('Ping', requestBody('Ping', '', [])));
    },
    stop: () => client.close(),
  });
}

/** The connector module the hub discovers: settings `connectors.tax.*`. */
export const connectorModule = defineConnectorModule({
  id: TAX_CONNECTOR_ID,
  title: 'Tax administration 税务',
  settings: z.strictObject({
    url: settingSchemas.httpUrl(),
    timeoutMs: settingSchemas.timeoutMs().optional(),
    connections: settingSchemas.connections().optional(),
    changesPageSize: z.number().int().min(1).max(1000).optional(),
  }),
  legacyEnvironment: { DATARUN_TAX_URL: 'url' },
  typeDefs: sdlFile(`${__dirname}/schema.graphql`),
  create: (settings, environment) => createTaxConnector({ ...settings, timeoutMs: settings.timeoutMs ?? environment.defaultTimeoutMs }),
  cacheTtlSeconds: 60,
  events: TAX_EVENTS,
  proofs: TAX_PROOFS,
});
