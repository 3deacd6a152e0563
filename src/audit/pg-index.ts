/**
 * The shared auditor index in PostgreSQL, for several hub instances (Redis state): every
 * instance writes the index rows of its own chain's records once they are durable, and any
 * instance answers `accessLog` and `dataAccesses` over every instance's records from it.
 *
 * A row holds what a query filters on, never a record value or a raw identifier: instance, seq,
 * time, consumer, purpose, case number, outcome, the departments read, the federation request id
 * of a request between hubs (schema version 2), and the subjects as their keyed HMAC `key` and
 * `mask`. Rows are written idempotently (primary key (instance, seq)), in
 * chain order, with the instance's progress in the same statement, so the index may lag but
 * never loses or duplicates a record: at start and after a database outage the writer catches
 * up from the chain itself (Redis stream, then archive files). The index is a cache of the
 * chains: a query reads each record back from its instance's chain and checks it against the
 * filter again, so a stale or tampered row can hide a record but never show a wrong one.
 */
import { Pool, type PoolClient } from 'pg';
import { BadUserInputError, HubError, HubErrorCode } from '../sdk';
import type { AccessLogFilter, CitizenAccess, DisclosureRule, Page, PageRequest } from './audit-log';
import { citizenAccessOf } from './audit-log';
import { cursorText, disclosureRules, pageSize, recordMatches, timeArgument, withheldBy } from './query';
import type { ChainReader } from './chain-reader';
import { AuditOptionsError } from './errors';
import { AUDIT_OUTCOMES, createSubjectKeyer, SUBJECT_KINDS, type AuditRecord, type SubjectRef } from './record';

/** The schema versions, applied in order by `migrate` (each once, recorded in `audit_index_migrations`). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE audit_index (
     instance text NOT NULL,
     seq bigint NOT NULL,
     time timestamptz NOT NULL,
     consumer text,
     purpose text,
     case_number text,
     outcome text NOT NULL,
     departments jsonb NOT NULL,
     subject_keys jsonb NOT NULL,
     subjects jsonb NOT NULL,
     PRIMARY KEY (instance, seq)
   );
   CREATE INDEX audit_index_order ON audit_index (time DESC, instance DESC, seq DESC);
   CREATE INDEX audit_index_consumer ON audit_index (consumer, time DESC);
   CREATE INDEX audit_index_case ON audit_index (case_number, time DESC);
   CREATE INDEX audit_index_subject_keys ON audit_index USING gin (subject_keys jsonb_path_ops);
   CREATE INDEX audit_index_departments ON audit_index USING gin (departments jsonb_path_ops);
   CREATE TABLE audit_index_progress (instance text PRIMARY KEY, seq bigint NOT NULL);`,
  // 2: requests between hubs (跨域通办), found by their federation request id; null for every other record.
  `ALTER TABLE audit_index ADD COLUMN federation_request_id text;
   CREATE INDEX audit_index_federation ON audit_index (federation_request_id, time DESC) WHERE federation_request_id IS NOT NULL;`,
];

/** The newest schema version this code writes. */
export const AUDIT_INDEX_SCHEMA_VERSION = MIGRATIONS.length;

// Any constant: two instances starting together migrate one after the other.
const MIGRATION_LOCK = 0x6461_7461;

/** Creates or migrates the index schema (idempotent; concurrent callers wait for each other). */
export async function migrateAuditIndex(pool: Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS audit_index_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM audit_index_migrations');
    const current = rows[0]?.v ?? 0;
    if (current > MIGRATIONS.length) throw new AuditOptionsError('index.url', `a database whose index schema (version ${current}) is newer than this hub's (${MIGRATIONS.length})`);
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      await client.query(MIGRATIONS[v - 1]!);
      await client.query('INSERT INTO audit_index_migrations (version) VALUES ($1)', [v]);
    }
    await client.query('COMMIT');
    return MIGRATIONS.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The index row of a record: what a query filters on; subjects by key and mask only. */
function rowOf(record: AuditRecord) {
  return {
    instance: record.instance,
    seq: record.seq,
    time: record.time,
    consumer: record.consumer,
    purpose: record.purpose,
    case_number: record.caseNumber,
    outcome: record.outcome,
    departments: Object.keys(record.fields).sort(),
    federation_request_id: record.federationRequestId ?? null,
    subject_keys: [...new Set(record.subjects.map((s) => s.key))],
    subjects: record.subjects.map((s) => ({ kind: s.kind, key: s.key, mask: s.mask })),
  };
}

/**
 * Writes the rows of consecutive records of one instance and moves its progress, in one
 * statement (all or nothing); rows already there are left as they are.
 */
async function insertRows(db: Pool | PoolClient, instance: string, records: readonly AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  await db.query(
    `WITH rows AS (
       INSERT INTO audit_index (instance, seq, time, consumer, purpose, case_number, outcome, departments, federation_request_id, subject_keys, subjects)
       SELECT instance, seq, time, consumer, purpose, case_number, outcome, departments, federation_request_id, subject_keys, subjects
       FROM jsonb_to_recordset($1::jsonb) AS x(instance text, seq bigint, time timestamptz, consumer text, purpose text, case_number text,
                                               outcome text, departments jsonb, federation_request_id text, subject_keys jsonb, subjects jsonb)
       ON CONFLICT (instance, seq) DO NOTHING
       RETURNING 1
     )
     INSERT INTO audit_index_progress (instance, seq) VALUES ($2, $3)
     ON CONFLICT (instance) DO UPDATE SET seq = GREATEST(audit_index_progress.seq, EXCLUDED.seq)`,
    [JSON.stringify(records.map(rowOf)), instance, records[records.length - 1]!.seq],
  );
}

/** What the shared index reports (never record values). */
export type SharedIndexEvent =
  | { type: 'index-write-failed'; instance: string; code: string }
  | { type: 'index-caught-up'; instance: string; seq: number }
  | { type: 'index-records-missing'; instance: string; from: number };

/** Options of `openSharedAccessIndex`. */
export interface SharedAccessIndexOptions {
  /** The index database, `postgres://…`. */
  url: string;
  /** Reads every instance's chain (to catch up and to read query results back); closed with the index. */
  reader: ChainReader;
  /** The hub secret that keys subject identifiers (the same as the log's). */
  subjectKeySecret: Uint8Array | string;
  /** Purpose codes whose accesses the citizen view withholds until their rule allows. */
  confidentialPurposes?: Readonly<Record<string, DisclosureRule>>;
  /** The instance whose chain this process writes to the index (absent: queries only). */
  instanceId?: string;
  /** Pause between attempts while the database or the chain is unreachable. @default 1000 */
  retryMs?: number;
  /** Records per statement. @default 500 */
  batchSize?: number;
  /** Connections of the pool. @default 4 */
  maxConnections?: number;
  /** Rows of records older than this many days are deleted (the archive's retention removes the records themselves); checked at start and hourly by the writer. @default none */
  retentionDays?: number;
  now?: () => Date;
  onEvent?: (event: SharedIndexEvent) => void;
}

/** Defaults of the shared index. */
export const DEFAULT_SHARED_ACCESS_INDEX = Object.freeze({ retryMs: 1000, batchSize: 500, maxConnections: 4 });

/** The shared index: its writer (fed by the log's durable batches) and the queries over all instances. */
export interface SharedAccessIndex {
  /** Hands over records that are durable in the chain (the log's `onDurable`); never blocks, never throws. */
  recordsDurable(records: readonly AuditRecord[]): void;
  /** The records matching a filter over every instance, newest first (time, then instance, then seq). */
  queryAccessLog(filter: AccessLogFilter, page?: PageRequest): Promise<Page<AuditRecord>>;
  /** The accesses to one subject over every instance, newest first, confidential purposes withheld until disclosable. */
  citizenAccesses(subject: SubjectRef | string, options?: PageRequest & { now?: Date }): Promise<Page<CitizenAccess>>;
  /** The highest seq of `instance` the index holds contiguously (0 when none). */
  indexedThrough(instance: string): Promise<number>;
  /**
   * Indexes the records of `instance`'s chain from its progress on, or from seq `from` + 1 when
   * given (0: the whole chain; rows already there are left as they are). Resolves with the last
   * seq indexed. The rebuild: every instance from 0.
   */
  catchUp(instance: string, from?: number): Promise<number>;
  close(): Promise<void>;
}

/** A position in the order (time, instance, seq), newest first. */
interface Position {
  time: string;
  instance: string;
  seq: number;
}

// Cursors carry the position and which listing they page, so one listing's cursor is refused by another.
function encodeCursor(kind: string, p: Position): string {
  return Buffer.from(JSON.stringify([kind, p.time, p.instance, p.seq]), 'utf8').toString('base64url');
}

function decodeCursor(kind: string, cursor: string | null | undefined): Position | undefined {
  if (cursor === undefined || cursor === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(cursorText(cursor) ?? '');
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    parsed[0] !== kind ||
    typeof parsed[1] !== 'string' ||
    Number.isNaN(Date.parse(parsed[1])) ||
    typeof parsed[2] !== 'string' ||
    !Number.isSafeInteger(parsed[3])
  ) {
    throw new BadUserInputError('after', 'is not a cursor of this listing');
  }
  return { time: parsed[1], instance: parsed[2], seq: parsed[3] as number };
}

function unavailable(error: unknown): HubError {
  return new HubError(HubErrorCode.AUDIT_UNAVAILABLE, 'The shared access-log index cannot be reached; retry later.', {}, error);
}

/** A small SQL condition builder: numbered parameters. */
class Where {
  readonly params: unknown[] = [];
  readonly parts: string[] = [];
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  add(sql: string): void {
    this.parts.push(sql);
  }
  get sql(): string {
    return this.parts.length > 0 ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/** Connects to the index database, creates or migrates its schema, and starts the writer when `instanceId` is given (catching up from the chain first). */
export async function openSharedAccessIndex(options: SharedAccessIndexOptions): Promise<SharedAccessIndex> {
  if (typeof options.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) throw new AuditOptionsError('index.url', 'a postgres:// URL');
  const keyer = createSubjectKeyer(options.subjectKeySecret);
  const rules = disclosureRules(options.confidentialPurposes);
  const retryMs = options.retryMs ?? DEFAULT_SHARED_ACCESS_INDEX.retryMs;
  const batchSize = options.batchSize ?? DEFAULT_SHARED_ACCESS_INDEX.batchSize;
  const now = options.now ?? (() => new Date());
  const emit = options.onEvent ?? (() => undefined);
  const pool = new Pool({
    connectionString: options.url,
    max: options.maxConnections ?? DEFAULT_SHARED_ACCESS_INDEX.maxConnections,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 10_000,
    allowExitOnIdle: true,
  });
  // An idle connection dropped by the server (a restart) must not crash the process.
  pool.on('error', () => undefined);
  let migrated: Promise<number> | undefined;
  const ready = (): Promise<number> => {
    migrated ??= migrateAuditIndex(pool).catch((error: unknown) => {
      migrated = undefined;
      throw error;
    });
    return migrated;
  };

  // --- The writer: this instance's records, in chain order, after they are durable. ---
  const instance = options.instanceId;
  /** Durable records not written yet (ascending); bounded: past the bound the chain is read instead. */
  let pending: AuditRecord[] = [];
  const MAX_PENDING = 20_000;
  /** The index's progress for this instance, once known. */
  let indexed: number | undefined;
  /** Whether the chain may hold records neither indexed nor pending (at start, after dropping pending). */
  let behind = true;
  let pumping: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let failing: string | undefined;

  async function progressOf(of: string): Promise<number> {
    const { rows } = await pool.query<{ seq: string }>('SELECT seq FROM audit_index_progress WHERE instance = $1', [of]);
    return rows[0] ? Number(rows[0].seq) : 0;
  }

  /** Indexes what `of`'s chain holds past the index's progress; returns the new progress. */
  async function catchUpFrom(of: string, from: number): Promise<number> {
    let next = from;
    for (;;) {
      const records = await options.reader.range(of, next + 1, batchSize);
      if (records.length === 0) return next;
      await insertRows(pool, of, records);
      next = records[records.length - 1]!.seq;
      if (records.length < batchSize) return next;
    }
  }

  async function pumpOnce(): Promise<void> {
    await ready();
    indexed ??= await progressOf(instance!);
    for (;;) {
      pending = pending.filter((r) => r.seq > indexed!);
      if (behind || (pending.length > 0 && pending[0]!.seq !== indexed + 1)) {
        const reached = await catchUpFrom(instance!, indexed);
        const moved = reached !== indexed;
        indexed = reached;
        behind = false;
        if (moved) emit({ type: 'index-caught-up', instance: instance!, seq: reached });
        pending = pending.filter((r) => r.seq > indexed!);
        if (pending.length > 0 && pending[0]!.seq !== indexed + 1) {
          // The chain does not (yet) show what the log said is durable: try again later.
          emit({ type: 'index-records-missing', instance: instance!, from: indexed + 1 });
          throw Object.assign(new Error('chain records missing'), { code: 'CHAIN_RECORDS_MISSING' });
        }
        continue;
      }
      if (pending.length === 0) return;
      const batch = pending.slice(0, batchSize);
      await insertRows(pool, instance!, batch);
      indexed = batch[batch.length - 1]!.seq;
    }
  }

  function pump(): void {
    if (!instance || closed || pumping || timer) return;
    pumping = pumpOnce()
      .then(
        () => {
          failing = undefined;
        },
        (error: unknown) => {
          const code = String((error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error');
          if (code !== failing) emit({ type: 'index-write-failed', instance: instance, code });
          failing = code;
          // The database may have lost or gained rows meanwhile: read the progress again, and the chain from there.
          indexed = undefined;
          behind = true;
          if (!closed) {
            timer = setTimeout(() => {
              timer = undefined;
              pump();
            }, retryMs);
            timer.unref();
          }
        },
      )
      .finally(() => {
        pumping = undefined;
        if (!timer && !closed && (pending.length > 0 || behind)) pump();
      });
  }

  // The schema is created or migrated now; a database that is down only delays it (the writer retries, queries fail until then).
  try {
    await ready();
  } catch (error) {
    if (error instanceof AuditOptionsError) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    emit({ type: 'index-write-failed', instance: instance ?? '', code: String((error as { code?: unknown })?.code ?? 'error') });
  }
  if (instance) pump();

  // Rows whose records the archive's retention removes would read back as nothing: drop them too.
  let retention: NodeJS.Timeout | undefined;
  const retentionDays = options.retentionDays;
  if (instance && retentionDays !== undefined) {
    if (!Number.isSafeInteger(retentionDays) || retentionDays < 1) throw new AuditOptionsError('retentionDays', 'a positive whole number of days');
    const expire = (): void => {
      void ready()
        .then(() => pool.query('DELETE FROM audit_index WHERE time < $1', [new Date(now().getTime() - retentionDays * 86_400_000).toISOString()]))
        .catch(() => undefined);
    };
    expire();
    retention = setInterval(expire, 3_600_000);
    retention.unref();
  }

  // --- The queries: over every instance's rows, read back from the chains and checked again. ---


  /** Selects the positions of a page (newest first) and reads their records back from the owning chains. */
  async function select(where: Where, after: Position | undefined, limit: number): Promise<{ rows: Position[]; more: boolean; records: Map<string, AuditRecord> }> {
    if (after) where.add(`(time, instance, seq) < (${where.param(after.time)}::timestamptz, ${where.param(after.instance)}, ${where.param(after.seq)})`);
    let rows: Position[];
    try {
      await ready();
      const result = await pool.query<{ time: Date; instance: string; seq: string }>(
        `SELECT time, instance, seq FROM audit_index ${where.sql} ORDER BY time DESC, instance DESC, seq DESC LIMIT ${limit + 1}`,
        where.params,
      );
      rows = result.rows.map((r) => ({ time: r.time.toISOString(), instance: r.instance, seq: Number(r.seq) }));
    } catch (error) {
      throw unavailable(error);
    }
    const more = rows.length > limit;
    if (more) rows.pop();
    const byInstance = new Map<string, number[]>();
    for (const r of rows) byInstance.set(r.instance, [...(byInstance.get(r.instance) ?? []), r.seq]);
    const records = new Map<string, AuditRecord>();
    await Promise.all(
      [...byInstance].map(async ([of, seqs]) => {
        for (const record of await options.reader.read(of, seqs)) records.set(`${of}\u0000${record.seq}`, record);
      }),
    );
    return { rows, more, records };
  }

  function page<T>(rows: Position[], more: boolean, records: Map<string, AuditRecord>, kind: string, keep: (r: AuditRecord) => boolean, project: (r: AuditRecord) => T): Page<T> {
    const edges: Array<{ cursor: string; node: T }> = [];
    for (const row of rows) {
      // The record must be the row's (instance and seq) and satisfy the filter itself.
      const record = records.get(`${row.instance}\u0000${row.seq}`);
      if (record && record.instance === row.instance && record.seq === row.seq && keep(record)) edges.push({ cursor: encodeCursor(kind, row), node: project(record) });
    }
    // The cursor is the last row's even when its record was left out, so paging moves on.
    const last = rows[rows.length - 1];
    return { edges, pageInfo: { hasNextPage: more, endCursor: last ? encodeCursor(kind, last) : null } };
  }

  return {
    recordsDurable(records) {
      if (!instance || closed || records.length === 0) return;
      const own = records.filter((r) => r.instance === instance);
      if (pending.length + own.length > MAX_PENDING) {
        // The database has been away a while: read the chain instead when it is back.
        pending = [];
        behind = true;
      } else pending.push(...own);
      pump();
    },

    async queryAccessLog(filter, request = {}) {
      if (filter === null || typeof filter !== 'object') throw new BadUserInputError('filter', 'must be an object');
      const limit = pageSize(request.first);
      const after = decodeCursor('a', request.after);
      const where = new Where();
      let subjectKey: string | undefined;
      if (filter.subject !== undefined) {
        if (!SUBJECT_KINDS.includes(filter.subject?.kind) || typeof filter.subject.id !== 'string' || filter.subject.id.length === 0) {
          throw new BadUserInputError('subject', `must be {kind, id} with kind one of ${SUBJECT_KINDS.join(', ')}`);
        }
        subjectKey = keyer.key(filter.subject);
        where.add(`subject_keys @> ${where.param(JSON.stringify([subjectKey]))}::jsonb`);
      }
      if (filter.consumer !== undefined) where.add(`consumer = ${where.param(filter.consumer)}`);
      if (filter.caseNumber !== undefined) where.add(`case_number = ${where.param(filter.caseNumber)}`);
      if (filter.purpose !== undefined) where.add(`purpose = ${where.param(filter.purpose)}`);
      if (filter.department !== undefined) where.add(`departments @> ${where.param(JSON.stringify([filter.department]))}::jsonb`);
      if (filter.federationRequestId !== undefined) where.add(`federation_request_id = ${where.param(filter.federationRequestId)}`);
      if (filter.outcome !== undefined) {
        if (!AUDIT_OUTCOMES.includes(filter.outcome)) throw new BadUserInputError('outcome', `must be one of ${AUDIT_OUTCOMES.join(', ')}`);
        where.add(`outcome = ${where.param(filter.outcome)}`);
      }
      const fromMs = timeArgument(filter.from, 'from');
      const toMs = timeArgument(filter.to, 'to');
      if (fromMs !== undefined) where.add(`time >= ${where.param(new Date(fromMs).toISOString())}::timestamptz`);
      if (toMs !== undefined) where.add(`time <= ${where.param(new Date(toMs).toISOString())}::timestamptz`);
      const { rows, more, records } = await select(where, after, limit);
      return page(rows, more, records, 'a', (r) => recordMatches(r, filter, subjectKey, fromMs, toMs), (r) => r);
    },

    async citizenAccesses(subject, request = {}) {
      const ref: SubjectRef = typeof subject === 'string' ? { kind: 'PERSON', id: subject } : subject;
      if (!ref || !SUBJECT_KINDS.includes(ref.kind) || typeof ref.id !== 'string' || ref.id.length === 0) throw new BadUserInputError('subject', 'must be an identifier');
      const limit = pageSize(request.first);
      const after = decodeCursor('c', request.after);
      const nowMs = (request.now ?? now()).getTime();
      const key = keyer.key(ref);
      const where = new Where();
      where.add(`subject_keys @> ${where.param(JSON.stringify([key]))}::jsonb`);
      // Withholding is decided in the query (purpose and time), so withheld records are never read.
      for (const [purpose, rule] of rules) {
        if ('until' in rule) {
          if (nowMs < rule.until) where.add(`purpose IS DISTINCT FROM ${where.param(purpose)}`);
        } else {
          where.add(`(purpose IS DISTINCT FROM ${where.param(purpose)} OR time <= ${where.param(new Date(nowMs - rule.days * 86_400_000).toISOString())}::timestamptz)`);
        }
      }
      const { rows, more, records } = await select(where, after, limit);
      return page(
        rows,
        more,
        records,
        'c',
        (r) => r.subjects.some((s) => s.key === key) && !withheldBy(rules, r.purpose, Date.parse(r.time), nowMs),
        citizenAccessOf,
      );
    },

    async indexedThrough(of) {
      await ready();
      return progressOf(of);
    },

    async catchUp(of, from) {
      await ready();
      return catchUpFrom(of, from ?? (await progressOf(of)));
    },

    async close() {
      closed = true;
      if (retention) clearInterval(retention);
      if (timer) clearTimeout(timer);
      timer = undefined;
      await pumping;
      // Whatever is still pending is durable in the chain: the next start catches up from it.
      await pool.end().catch(() => undefined);
      await options.reader.close();
    },
  };
}
