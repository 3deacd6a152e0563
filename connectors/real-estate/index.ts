/**
 * The real-estate registration connector 不动产登记: reads the department's exchange database
 * 前置库 (PostgreSQL, read-only, over the wire protocol with `pg`) and resolves Person.properties,
 * Enterprise.properties and the Property fields: one SQL statement per loader batch, owners,
 * mortgages, seizures and transfers included.
 */
import DataLoader from 'dataloader';
import { Pool, type PoolClient, type QueryArrayResult } from 'pg';
import {
  BadUserInputError,
  ConnectorTimeoutError,
  ConnectorUnavailableError,
  DEFAULT_MAX_BATCH_SIZE,
  HubError,
  UpstreamInvalidResponseError,
  citizenIdProblem,
  createBatchLoader,
  creditCodeProblem,
  defineConnector,
  defineConnectorModule,
  partyRef,
  sdlFile,
  settingSchemas,
  z,
  unitNumberProblem,
  withTimeout,
  sqlTraceComment,
  traceDepartmentCall,
  tracingActive,
  type ChangeFeedRead,
  type Connector,
  type PropertyRef,
} from '../../src/sdk';
import { LATEST_CHANGE_CURSOR, REAL_ESTATE_EVENTS, changeFeedStatements, changeRowSchema, parseChangeCursor, toRealEstateEvent, type ChangeRow } from './changes';
import { RECORD_COLUMN, propertyRecordSchema, realEstateStatements, type OwnerRecord, type PropertyRecord, type TransferRecord } from './records';
import { REAL_ESTATE_PROOFS, createRealEstateProofs } from './proofs';

export type { PropertyRecord, OwnerRecord, MortgageRecord, SeizureRecord, TransferRecord } from './records';
export { REAL_ESTATE_EVENTS, LATEST_CHANGE_CURSOR as REAL_ESTATE_LATEST_CHANGES } from './changes';
export { NO_PROPERTY, PROPERTY_RECORD, REAL_ESTATE_PROOFS } from './proofs';

/** The connector id, named in errors, metrics and the audit log. */
export const REAL_ESTATE_CONNECTOR_ID = 'real-estate';

/** Name of the primary by-identifier loader (unit number → property), for the conformance suite. */
export const REAL_ESTATE_PRIMARY_LOADER = 'propertyByUnit' as const;

/** How to reach the department's exchange database. */
export interface RealEstateConnectorOptions {
  /** Connection string, `postgres://user:password@host:port/database` (a read-only account is enough). */
  url: string;
  /**
   * Per-statement timeout in milliseconds, waiting for a pooled connection included. It is also
   * sent as the session's `statement_timeout`, so the server stops work nobody waits for.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Connections kept to the database. The embedded sandbox engine (PGlite) runs one statement at
   * a time whatever the pool size, so more connections only help against a real PostgreSQL.
   * @default 10
   */
  poolSize?: number;
  /**
   * Schema holding the exchange tables.
   * @default 'real_estate'
   */
  schema?: string;
  /**
   * `application_name` of the sessions, so the department's DBA can tell the hub's queries apart.
   * @default 'datarun-real-estate'
   */
  applicationName?: string;
  /**
   * Rows of the change table read per page of the change feed (1 to 1000).
   * @default 500
   */
  changesPageSize?: number;
  /**
   * The registry's name, as a proof names what was searched (`registry` of a 无房证明): the
   * registration authority whose register the exchange database copies.
   * @default '不动产登记簿 Real-estate register'
   */
  registryName?: string;
}

/** Defaults of `RealEstateConnectorOptions`. */
export const DEFAULT_REAL_ESTATE_OPTIONS = Object.freeze({
  timeoutMs: 2000,
  poolSize: 10,
  schema: 'real_estate',
  applicationName: 'datarun-real-estate',
});

/** Default of `RealEstateConnectorOptions.changesPageSize`. */
export const DEFAULT_REAL_ESTATE_CHANGES_PAGE_SIZE = 500;

/** Default of `RealEstateConnectorOptions.registryName`. */
export const DEFAULT_REAL_ESTATE_REGISTRY_NAME = '不动产登记簿 Real-estate register';

/** The per-request loaders of the connector. */
export interface RealEstateLoaders {
  /** Property by unit number 不动产单元号; null when the registry has no such unit. One SQL statement per batch. */
  propertyByUnit: DataLoader<string, PropertyRecord | null>;
  /**
   * Properties (co-)owned by a party, by citizen identity number or credit code, in unit-number
   * order; [] when none. One SQL statement per batch; primes `propertyByUnit` with what it finds.
   */
  propertiesByOwner: DataLoader<string, PropertyRecord[]>;
}

/** Creates the connector; options are checked here, failing with a TypeError naming the option. */
export function createRealEstateConnector(options: RealEstateConnectorOptions): Connector<RealEstateLoaders> {
  const settings = checkOptions(options);
  const id = REAL_ESTATE_CONNECTOR_ID;
  const { timeoutMs } = settings;
  const statements = realEstateStatements(settings.schema);
  const feedStatements = changeFeedStatements(settings.schema);
  let pool: Pool | undefined;

  /** The pool, opened on first use (and again after `stop`): creating one opens no connection. */
  function openPool(): Pool {
    if (pool) return pool;
    const created = new Pool({
      connectionString: settings.url,
      max: settings.poolSize,
      connectionTimeoutMillis: timeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: settings.applicationName,
      statement_timeout: timeoutMs,
      // The hub only reads: a session that cannot write is the cheapest guarantee of it.
      options: '-c default_transaction_read_only=on',
    });
    // An idle connection the server drops emits 'error' on the pool; unhandled, it would crash the
    // process. The pool discards that connection and the next statement opens a new one.
    created.on('error', () => undefined);
    pool = created;
    return created;
  }

  /**
   * Runs one statement under the connector timeout. A statement that times out (or whose request
   * is aborted) takes its connection with it: the connection is destroyed, not returned, so the
   * pool never hands out a session still busy with an abandoned statement.
   */
  function run(text: string, values: unknown[] | undefined, requestSignal?: AbortSignal): Promise<QueryArrayResult> {
    return withTimeout(id, timeoutMs, async (signal) => {
      if (signal.aborted) throw new ConnectorUnavailableError(id, 'call aborted');
      let client: PoolClient;
      try {
        client = await openPool().connect();
      } catch (error) {
        throw mapPgFailure(id, timeoutMs, error);
      }
      if (signal.aborted) {
        client.release();
        throw new ConnectorUnavailableError(id, 'call aborted');
      }
      let destroyed = false;
      const abandon = (): void => {
        destroyed = true;
        client.release(true);
      };
      signal.addEventListener('abort', abandon, { once: true });
      // A checked-out client whose connection drops emits 'error' besides failing its query; the
      // pool listens only to idle clients, so without this the process would crash.
      client.on('error', ignore);
      try {
        return await client.query({ text, values, rowMode: 'array' });
      } catch (error) {
        throw destroyed ? new ConnectorUnavailableError(id, 'call aborted') : mapPgFailure(id, timeoutMs, error);
      } finally {
        signal.removeEventListener('abort', abandon);
        client.off('error', ignore);
        if (!destroyed) client.release();
      }
    }, requestSignal);
  }

  function invalid(reason: string): UpstreamInvalidResponseError {
    return new UpstreamInvalidResponseError(id, reason);
  }

  /**
   * One statement returning property records, each checked against the contract (never echoing the
   * row). Traced (docs/tracing.md), the statement runs in its department-call span, its text
   * prefixed with the call's `/* traceparent='…' *\/` comment. Statements are unnamed (no
   * client-side prepared statement to invalidate): PostgreSQL plans an unnamed statement for each
   * execution whatever its text, and pg_stat_statements ignores comments, so the varying comment
   * costs its bytes and nothing else.
   */
  async function fetchRecords(operation: string, text: string, keys: readonly string[], signal: AbortSignal): Promise<PropertyRecord[]> {
    const result = tracingActive()
      ? await traceDepartmentCall({ connector: id, operation, batchSize: keys.length, protocol: 'sql' }, (propagation) => run(sqlTraceComment(propagation) + text, [keys], signal))
      : await run(text, [keys], signal);
    if (result.fields.length !== 1 || result.fields[0]!.name !== RECORD_COLUMN) throw invalid('the result columns do not match the query');
    const records = new Array<PropertyRecord>(result.rows.length);
    for (let i = 0; i < result.rows.length; i++) {
      const cell = result.rows[i]![0];
      if (typeof cell !== 'string') throw invalid('a property record is not text');
      let data: unknown;
      try {
        data = JSON.parse(cell);
      } catch {
        throw invalid('a property record is not valid JSON');
      }
      const parsed = propertyRecordSchema.safeParse(data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'a property record';
        throw invalid(`${where} does not match the record contract (${issue?.code ?? 'invalid'})`);
      }
      records[i] = parsed.data;
    }
    return records;
  }

  /** The JSON of each row's single `record` column (a statement of the change feed), unchecked. */
  async function jsonRows(operation: string, text: string, values: unknown[], signal: AbortSignal): Promise<unknown[]> {
    const result = tracingActive()
      ? await traceDepartmentCall({ connector: id, operation, protocol: 'sql' }, (propagation) => run(sqlTraceComment(propagation) + text, values, signal))
      : await run(text, values, signal);
    if (result.fields.length !== 1 || result.fields[0]!.name !== RECORD_COLUMN) throw invalid('the result columns do not match the query');
    return result.rows.map((row) => {
      const cell = row[0];
      if (typeof cell !== 'string') throw invalid('a change row is not text');
      try {
        return JSON.parse(cell) as unknown;
      } catch {
        throw invalid('a change row is not valid JSON');
      }
    });
  }

  /** One page of the change table after `cursor` (its current end for `latest`), by keyset. */
  async function readChanges(cursor: string, signal: AbortSignal): Promise<ChangeFeedRead> {
    if (cursor === LATEST_CHANGE_CURSOR) {
      const [end] = await jsonRows('changes.end', feedStatements.end, [], signal);
      const endId = (end as { id?: unknown } | null | undefined)?.id;
      if (typeof endId !== 'string' || parseChangeCursor(endId) === undefined) throw invalid('the end of the change table is not a change id');
      return { changed: [], events: [], nextCursor: endId, hasMore: false };
    }
    const after = parseChangeCursor(cursor);
    if (after === undefined) throw new BadUserInputError('cursor', 'is not a cursor of the real-estate change feed (a change id, or "latest")');
    const limit = settings.changesPageSize;
    const data = await jsonRows('changes', feedStatements.page, [after.toString(), limit + 1], signal);
    const rows: ChangeRow[] = [];
    let last = after;
    for (const item of data.slice(0, limit)) {
      const parsed = changeRowSchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw invalid(`change ${issue && issue.path.length > 0 ? issue.path.join('.') : 'row'} does not match the contract (${issue?.code ?? 'invalid'})`);
      }
      const rowId = BigInt(parsed.data.id);
      // Keyset order is the feed's guarantee: a row at or before the cursor would repeat a change.
      if (rowId <= last) throw invalid('the change table returned rows out of order');
      last = rowId;
      rows.push(parsed.data);
    }
    return {
      changed: rows.map((r) => ({ loader: REAL_ESTATE_PRIMARY_LOADER, key: r.unitNumber })),
      events: rows.map(toRealEstateEvent),
      nextCursor: last.toString(),
      hasMore: data.length > limit,
    };
  }

  return defineConnector<RealEstateLoaders>({
    id,
    title: 'Real estate registration 不动产登记',
    createLoaders: (scope) => {
      // An identifier that fails its check cannot have a record: it is answered without asking.
      const propertyByUnit = createBatchLoader<string, PropertyRecord>(async (keys) => {
        const units = validOnly(keys, unitNumberProblem);
        const found = new Map<string, PropertyRecord>();
        if (units.length === 0) return found;
        const asked = new Set(units);
        for (const record of await fetchRecords(REAL_ESTATE_PRIMARY_LOADER, statements.byUnit, units, scope.signal)) {
          if (!asked.has(record.unitNumber)) throw invalid('the reply holds a property that was not asked for');
          found.set(record.unitNumber, record);
        }
        return found;
      }, scope.cache ? { cache: scope.cache.loader(REAL_ESTATE_PRIMARY_LOADER) } : {});
      const propertiesByOwner = new DataLoader<string, PropertyRecord[]>(
        async (keys) => {
          const ids = validOnly(keys, ownerIdProblem);
          const byOwner = new Map<string, PropertyRecord[]>();
          if (ids.length > 0) {
            const asked = new Set(ids);
            for (const record of await fetchRecords('propertiesByOwner', statements.byOwner, ids, scope.signal)) {
              let matched = false;
              for (const owner of record.owners) {
                if (!asked.has(owner.ownerId)) continue;
                matched = true;
                const list = byOwner.get(owner.ownerId);
                if (!list) byOwner.set(owner.ownerId, [record]);
                else if (list[list.length - 1] !== record) list.push(record);
              }
              if (!matched) throw invalid('the reply holds a property owned by none of the parties asked for');
              // Whoever asks for these units next in this request gets them without a statement.
              propertyByUnit.prime(record.unitNumber, record);
            }
          }
          return keys.map((key) => byOwner.get(key) ?? []);
        },
        { maxBatchSize: DEFAULT_MAX_BATCH_SIZE },
      );
      return { propertyByUnit, propertiesByOwner };
    },
    resolvers: (loadersOf) => {
      type Ctx = Parameters<typeof loadersOf>[0];
      const record = (property: PropertyRef, ctx: Ctx): Promise<PropertyRecord | null> => loadersOf(ctx).propertyByUnit.load(property.unitNumber);
      const propertiesOf = async (ownerId: string, ctx: Ctx): Promise<PropertyRef[]> =>
        (await loadersOf(ctx).propertiesByOwner.load(ownerId)).map((p) => ({ unitNumber: p.unitNumber }));
      return {
        Person: {
          properties: (person, _args, ctx) => propertiesOf(person.idNumber, ctx),
        },
        Enterprise: {
          properties: (enterprise, _args, ctx) => propertiesOf(enterprise.creditCode, ctx),
        },
        Property: {
          certificateNumber: async (property, _args, ctx) => (await record(property, ctx))?.certificateNumber ?? null,
          address: async (property, _args, ctx) => (await record(property, ctx))?.address ?? null,
          area: async (property, _args, ctx) => (await record(property, ctx))?.area ?? null,
          usage: async (property, _args, ctx) => (await record(property, ctx))?.usage ?? null,
          registeredAt: async (property, _args, ctx) => (await record(property, ctx))?.registeredAt ?? null,
          mortgages: async (property, _args, ctx) => (await record(property, ctx))?.mortgages ?? null,
          seizures: async (property, _args, ctx) => (await record(property, ctx))?.seizures ?? null,
          // Owner and transfer rows are handed on as they are; Ownership and Transfer below turn
          // their party columns into Party references.
          owners: async (property, _args, ctx) => ((await record(property, ctx))?.owners ?? null) as never,
          transfers: async (property, _args, ctx) => ((await record(property, ctx))?.transfers ?? null) as never,
        },
        Ownership: {
          owner: (ownership) => partyRef((ownership as unknown as OwnerRecord).kind, (ownership as unknown as OwnerRecord).ownerId),
          // The row's `kind` is the party's kind; the graph's Ownership.kind is the kind of ownership.
          kind: (ownership) => (ownership as unknown as OwnerRecord).ownership,
        },
        Transfer: {
          from: (transfer) => partyRef((transfer as unknown as TransferRecord).fromKind, (transfer as unknown as TransferRecord).fromId),
          to: (transfer) => partyRef((transfer as unknown as TransferRecord).toKind, (transfer as unknown as TransferRecord).toId),
        },
      };
    },
    seals: {
      Property: {
        recordType: 'RealEstateUnit',
        load: (property: { unitNumber: string }, loaders) => loaders.propertyByUnit.load(property.unitNumber),
        id: (record: PropertyRecord) => record.unitNumber,
        fields: (r: PropertyRecord) => ({
          unitNumber: r.unitNumber,
          certificateNumber: r.certificateNumber,
          address: r.address,
          area: r.area,
          usage: r.usage,
          registeredAt: r.registeredAt,
          owners: r.owners.map((o) => ({ share: o.share, kind: o.ownership, owner: partyRef(o.kind, o.ownerId) })),
          mortgages: r.mortgages,
          seizures: r.seizures,
          transfers: r.transfers.map((t) => ({ transferNumber: t.transferNumber, from: partyRef(t.fromKind, t.fromId), to: partyRef(t.toKind, t.toId), date: t.date, price: t.price })),
        }),
      },
    },
    // Changed units are evicted from the hub's cache, and their events pushed, as the change table reports them.
    changeFeed: {
      startCursor: LATEST_CHANGE_CURSOR,
      read: readChanges,
    },
    // Proofs run statements of their own (operations `proofs.*`): never a loader, never the cache.
    proofs: createRealEstateProofs({
      registryName: settings.registryName,
      async propertiesOwnedBy(ownerId, signal) {
        const records = await fetchRecords('proofs.propertiesByOwner', statements.byOwner, [ownerId], signal);
        if (records.some((r) => !r.owners.some((o) => o.ownerId === ownerId))) throw invalid('the reply holds a property not owned by the party asked for');
        return records;
      },
      async property(unitNumber, signal) {
        const records = await fetchRecords('proofs.propertyByUnit', statements.byUnit, [unitNumber], signal);
        if (records.some((r) => r.unitNumber !== unitNumber)) throw invalid('the reply holds a property that was not asked for');
        return records[0] ?? null;
      },
    }),
    probe: async () => {
      const result = await run('SELECT 1', undefined);
      if (result.rows.length !== 1 || String(result.rows[0]![0]) !== '1') throw invalid('the health statement returned something else than 1');
    },
    start: async () => {
      openPool();
    },
    stop: async () => {
      const closing = pool;
      pool = undefined;
      await closing?.end();
    },
  });
}

/** Maps a `pg` failure to the hub's error codes, without the server's message (it may quote data). */
function mapPgFailure(connector: string, timeoutMs: number, error: unknown): HubError {
  if (error instanceof HubError) return error;
  const code = typeof (error as { code?: unknown } | null)?.code === 'string' ? (error as { code: string }).code : undefined;
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    // A SQLSTATE: the server answered with an error.
    if (code === '57014') return new ConnectorTimeoutError(connector, timeoutMs);
    if (code.startsWith('42') || code.startsWith('3F')) {
      return new UpstreamInvalidResponseError(connector, `the exchange database does not have the expected tables (SQLSTATE ${code})`);
    }
    if (code.startsWith('28')) return new ConnectorUnavailableError(connector, `authentication failed (SQLSTATE ${code})`);
    return new ConnectorUnavailableError(connector, `the database refused the statement (SQLSTATE ${code})`);
  }
  if (code === 'ECONNREFUSED') return new ConnectorUnavailableError(connector, 'connection refused', error);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new ConnectorUnavailableError(connector, 'connection reset', error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ConnectorUnavailableError(connector, 'database host not found', error);
  const message = error instanceof Error ? error.message : '';
  if (/timeout exceeded when trying to connect/i.test(message)) return new ConnectorTimeoutError(connector, timeoutMs);
  if (/Connection terminated|connection error|Connection ended|not queryable/i.test(message)) {
    return new ConnectorUnavailableError(connector, 'connection closed by the database', error);
  }
  if (/after calling end on the pool/i.test(message)) return new ConnectorUnavailableError(connector, 'the connector is stopped');
  return new ConnectorUnavailableError(connector, code ? `network error ${code}` : 'database call failed');
}

function checkOptions(options: RealEstateConnectorOptions): Required<RealEstateConnectorOptions> {
  if (typeof options !== 'object' || options === null) throw new TypeError('real-estate connector: options must be an object');
  const { url } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_REAL_ESTATE_OPTIONS.timeoutMs;
  const poolSize = options.poolSize ?? DEFAULT_REAL_ESTATE_OPTIONS.poolSize;
  const schema = options.schema ?? DEFAULT_REAL_ESTATE_OPTIONS.schema;
  const applicationName = options.applicationName ?? DEFAULT_REAL_ESTATE_OPTIONS.applicationName;
  const changesPageSize = options.changesPageSize ?? DEFAULT_REAL_ESTATE_CHANGES_PAGE_SIZE;
  const registryName = options.registryName ?? DEFAULT_REAL_ESTATE_REGISTRY_NAME;
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')) {
    // The URL may carry a password: it is not echoed.
    throw new TypeError('real-estate connector: option "url" must be a postgres:// or postgresql:// connection string');
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`real-estate connector: option "timeoutMs" must be a positive integer (milliseconds), but got: ${String(timeoutMs)}`);
  }
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 100) {
    throw new TypeError(`real-estate connector: option "poolSize" must be an integer from 1 to 100, but got: ${String(poolSize)}`);
  }
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(`real-estate connector: option "schema" must be a lower-case SQL identifier, but got: ${JSON.stringify(schema)}`);
  }
  if (typeof applicationName !== 'string' || applicationName.length === 0 || applicationName.length > 63) {
    throw new TypeError('real-estate connector: option "applicationName" must be a string of 1 to 63 characters');
  }
  if (!Number.isInteger(changesPageSize) || changesPageSize < 1 || changesPageSize > 1000) {
    throw new TypeError(`real-estate connector: option "changesPageSize" must be an integer from 1 to 1000, but got: ${String(changesPageSize)}`);
  }
  if (typeof registryName !== 'string' || registryName.trim().length === 0 || registryName.length > 100) {
    throw new TypeError('real-estate connector: option "registryName" must be a string of 1 to 100 characters');
  }
  return { url, timeoutMs, poolSize, schema, applicationName, changesPageSize, registryName };
}

function ignore(): void {}

/** Citizen identity number or credit code: the two identifiers an owner can have. */
function ownerIdProblem(value: string): string | undefined {
  return citizenIdProblem(value) === undefined || creditCodeProblem(value) === undefined ? undefined : 'neither a citizen identity number nor a credit code';
}

/** The keys that pass their identifier check, without copying when all do (the usual case). */
function validOnly(keys: readonly string[], problemOf: (value: string) => string | undefined): readonly string[] {
  for (let i = 0; i < keys.length; i++) {
    if (problemOf(keys[i]!) !== undefined) return keys.filter((key) => problemOf(key) === undefined);
  }
  return keys;
}

/** The connector module the hub discovers: settings `connectors.real-estate.*`. */
export const connectorModule = defineConnectorModule({
  id: REAL_ESTATE_CONNECTOR_ID,
  title: 'Real-estate registry 不动产登记',
  settings: z.strictObject({
    url: settingSchemas.postgresUrl(),
    timeoutMs: settingSchemas.timeoutMs().optional(),
    poolSize: z.number().int().min(1).max(100).optional(),
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier').optional(),
    applicationName: z.string().min(1).max(63).optional(),
    changesPageSize: z.number().int().min(1).max(1000).optional(),
    registryName: z.string().trim().min(1).max(100).optional(),
  }),
  legacyEnvironment: { DATARUN_REAL_ESTATE_URL: 'url' },
  typeDefs: sdlFile(`${__dirname}/schema.graphql`),
  create: (settings, environment) => createRealEstateConnector({ ...settings, timeoutMs: settings.timeoutMs ?? environment.defaultTimeoutMs }),
  // A seizure 查封 registered a minute ago must not stay hidden for long: short.
  cacheTtlSeconds: 60,
  events: REAL_ESTATE_EVENTS,
  proofs: REAL_ESTATE_PROOFS,
});
