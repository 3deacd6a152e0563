/**
 * Run-time registrations at the real-estate registry 不动产登记 and its change table: each change
 * (a transfer, a mortgage or a seizure registered or released) updates the unit's rows AND appends
 * one row to `<schema>.changes` in the same transaction, so the change table never reports a
 * change the unit does not show, nor misses one it does. The change table is the department's
 * feed: other departments poll it over SQL (`WHERE id > $cursor ORDER BY id`).
 *
 * Ids are handed out in commit order: every writing transaction first takes a lock on the change
 * table that excludes other writers (readers are not blocked), so a reader that has seen id n
 * will never later find a smaller id committed behind it.
 */
import type { Client } from 'pg';
import { citizenIdProblem, creditCodeProblem, unitNumberProblem } from '../../src/sdk';
import { SandboxRouteError, routeFields, todayInChina, type SandboxChangeRoute } from '../sandbox-kit';
import { checkSchemaName } from './tables';

/** The kinds of change the registry records in its change table (`event_type`). */
export const PROPERTY_CHANGE_TYPES = ['TRANSFER_REGISTERED', 'MORTGAGE_REGISTERED', 'MORTGAGE_RELEASED', 'SEIZURE_REGISTERED', 'SEIZURE_RELEASED'] as const;

/** One kind of recorded change. */
export type PropertyChangeType = (typeof PROPERTY_CHANGE_TYPES)[number];

/** A row of the change table, as the change routes return it. */
export interface RecordedPropertyChange {
  id: number;
  eventType: PropertyChangeType;
  unitNumber: string;
  /** RFC 3339, UTC. */
  occurredAt: string;
  details: Record<string, string | number | null>;
}

/**
 * Runs `work` in one transaction on the registry's database, alone (no other statement of any
 * client runs in between on the embedded engine, whose clients share one session).
 */
export type RegistryTransaction = <T>(work: (client: Client) => Promise<T>) => Promise<T>;

/** The DDL of the change table (created with the other tables, empty). */
export function createChangeTableSql(schema: string): string {
  const s = checkSchemaName(schema);
  return `
-- 变更记录: one row per registration that changed a unit, in commit order; the department's change feed.
CREATE TABLE ${s}.changes (
  id          bigserial PRIMARY KEY,
  event_type  text NOT NULL CHECK (event_type IN (${PROPERTY_CHANGE_TYPES.map((t) => `'${t}'`).join(',')})),
  unit_number text NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  details     jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object')
);`;
}

/** The year of a `YYYY-MM-DD` date. */
const yearOf = (date: string): string => date.slice(0, 4);

/**
 * The registry's change routes (`POST /__sandbox/<route>`): transfers, mortgages,
 * mortgage-releases, seizures, seizure-releases. Each validates its input (400 naming the field),
 * answers 404 for a unit the registry does not hold and 409 for a release of something not in
 * force, and returns `{change}`: the row appended to the change table.
 */
export function realEstateChangeRoutes(schema: string, transaction: RegistryTransaction): Readonly<Record<string, SandboxChangeRoute>> {
  const s = checkSchemaName(schema);

  const unitOf = (body: Readonly<Record<string, unknown>>): string => routeFields.text(body, 'unitNumber', { max: 28, problem: unitNumberProblem });

  /** Locks the change table against other writers, then checks the unit exists (404 otherwise). */
  async function begin(client: Client, unitNumber: string): Promise<void> {
    await client.query(`LOCK TABLE ${s}.changes IN SHARE ROW EXCLUSIVE MODE`);
    const { rows } = await client.query(`SELECT 1 FROM ${s}.property WHERE unit_number = $1 FOR UPDATE`, [unitNumber]);
    if (rows.length === 0) throw new SandboxRouteError('"unitNumber" names no unit of the registry', 404);
  }

  /** The next id of the change table: documents registered with the change are numbered after it. */
  async function nextChangeId(client: Client): Promise<number> {
    const { rows } = await client.query<{ id: string }>(`SELECT nextval(pg_get_serial_sequence('${s}.changes', 'id'))::text AS id`);
    return Number(rows[0]!.id);
  }

  async function nextSeq(client: Client, table: 'mortgage' | 'seizure' | 'transfer', unitNumber: string): Promise<number> {
    const { rows } = await client.query<{ seq: number }>(`SELECT coalesce(max(seq) + 1, 0)::int AS seq FROM ${s}.${table} WHERE unit_number = $1`, [unitNumber]);
    return rows[0]!.seq;
  }

  async function append(client: Client, id: number, eventType: PropertyChangeType, unitNumber: string, details: RecordedPropertyChange['details']): Promise<{ change: RecordedPropertyChange }> {
    const { rows } = await client.query<{ occurred_at: string }>(
      `INSERT INTO ${s}.changes (id, event_type, unit_number, details) VALUES ($1, $2, $3, $4::jsonb)
       RETURNING to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at`,
      [id, eventType, unitNumber, JSON.stringify(details)],
    );
    return { change: { id, eventType, unitNumber, occurredAt: rows[0]!.occurred_at, details } };
  }

  return {
    /** 转移登记: the unit passes to a buyer (a person by citizen id number, or an enterprise by credit code) as sole owner. */
    transfers: (body) => {
      const unitNumber = unitOf(body);
      const buyerId = routeFields.text(body, 'buyerId', {
        max: 18,
        problem: (v) => (citizenIdProblem(v) === undefined || creditCodeProblem(v) === undefined ? undefined : 'must be a citizen identity number (GB 11643) or a credit code (GB 32100)'),
      });
      const buyerKind = citizenIdProblem(buyerId) === undefined ? 'PERSON' : 'ENTERPRISE';
      const price = routeFields.amount(body, 'price');
      const date = routeFields.date(body, 'date', todayInChina());
      return transaction(async (client) => {
        await begin(client, unitNumber);
        const { rows: owners } = await client.query<{ owner_kind: string; owner_id: string }>(`SELECT owner_kind, owner_id FROM ${s}.owner WHERE unit_number = $1 ORDER BY seq`, [unitNumber]);
        const seller = owners[0];
        if (!seller) throw new SandboxRouteError('the unit has no owner to transfer from', 409);
        if (owners.length === 1 && seller.owner_id === buyerId) throw new SandboxRouteError('"buyerId" already owns the unit alone', 409);
        const id = await nextChangeId(client);
        const transferNumber = `ZY${unitNumber.slice(0, 6)}${yearOf(date)}${String(id).padStart(6, '0')}`;
        const seq = await nextSeq(client, 'transfer', unitNumber);
        await client.query(
          `INSERT INTO ${s}.transfer (unit_number, seq, transfer_number, from_kind, from_id, to_kind, to_id, transfer_date, price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [unitNumber, seq, transferNumber, seller.owner_kind, seller.owner_id, buyerKind, buyerId, date, price],
        );
        await client.query(`DELETE FROM ${s}.owner WHERE unit_number = $1`, [unitNumber]);
        await client.query(`INSERT INTO ${s}.owner (unit_number, seq, owner_kind, owner_id, share, ownership) VALUES ($1, 0, $2, $3, 100, 'SOLE')`, [unitNumber, buyerKind, buyerId]);
        return append(client, id, 'TRANSFER_REGISTERED', unitNumber, { transferNumber, price, previousOwnerCount: owners.length });
      });
    },
    /** 抵押权登记: a mortgage on the unit, in force from `startDate` (today) to `endDate`. */
    mortgages: (body) => {
      const unitNumber = unitOf(body);
      const mortgagee = routeFields.text(body, 'mortgagee', { max: 100 });
      const amount = routeFields.amount(body, 'amount');
      const startDate = routeFields.date(body, 'startDate', todayInChina());
      const endDate = routeFields.date(body, 'endDate');
      if (endDate <= startDate) throw new SandboxRouteError('"endDate" must be after "startDate"');
      return transaction(async (client) => {
        await begin(client, unitNumber);
        const id = await nextChangeId(client);
        const registrationNumber = `DY${unitNumber.slice(0, 6)}${yearOf(startDate)}${String(id).padStart(6, '0')}`;
        const seq = await nextSeq(client, 'mortgage', unitNumber);
        await client.query(
          `INSERT INTO ${s}.mortgage (unit_number, seq, registration_number, mortgagee, amount, start_date, end_date, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'ACTIVE')`,
          [unitNumber, seq, registrationNumber, mortgagee, amount, startDate, endDate],
        );
        return append(client, id, 'MORTGAGE_REGISTERED', unitNumber, { registrationNumber, amount });
      });
    },
    /** 抵押权注销: the mortgage with this registration number is released. */
    'mortgage-releases': (body) => {
      const unitNumber = unitOf(body);
      const registrationNumber = routeFields.text(body, 'registrationNumber', { max: 40 });
      return transaction(async (client) => {
        await begin(client, unitNumber);
        const { rows } = await client.query<{ status: string }>(`SELECT status FROM ${s}.mortgage WHERE unit_number = $1 AND registration_number = $2`, [unitNumber, registrationNumber]);
        if (rows.length === 0) throw new SandboxRouteError('"registrationNumber" names no mortgage of this unit', 404);
        if (rows[0]!.status !== 'ACTIVE') throw new SandboxRouteError('the mortgage is already released', 409);
        await client.query(`UPDATE ${s}.mortgage SET status = 'RELEASED' WHERE unit_number = $1 AND registration_number = $2`, [unitNumber, registrationNumber]);
        return append(client, await nextChangeId(client), 'MORTGAGE_RELEASED', unitNumber, { registrationNumber });
      });
    },
    /** 查封登记: a court seizes the unit in a case, from `startDate` (today) to `endDate`. */
    seizures: (body) => {
      const unitNumber = unitOf(body);
      const court = routeFields.text(body, 'court', { max: 100 });
      const caseNumber = routeFields.text(body, 'caseNumber', { max: 60 });
      const startDate = routeFields.date(body, 'startDate', todayInChina());
      const endDate = routeFields.date(body, 'endDate');
      if (endDate <= startDate) throw new SandboxRouteError('"endDate" must be after "startDate"');
      return transaction(async (client) => {
        await begin(client, unitNumber);
        const id = await nextChangeId(client);
        const seizureNumber = `CF${unitNumber.slice(0, 6)}${yearOf(startDate)}${String(id).padStart(6, '0')}`;
        const seq = await nextSeq(client, 'seizure', unitNumber);
        await client.query(
          `INSERT INTO ${s}.seizure (unit_number, seq, seizure_number, court, case_number, start_date, end_date, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'ACTIVE')`,
          [unitNumber, seq, seizureNumber, court, caseNumber, startDate, endDate],
        );
        return append(client, id, 'SEIZURE_REGISTERED', unitNumber, { seizureNumber, caseNumber });
      });
    },
    /** 解除查封: the seizure with this number is lifted. */
    'seizure-releases': (body) => {
      const unitNumber = unitOf(body);
      const seizureNumber = routeFields.text(body, 'seizureNumber', { max: 40 });
      return transaction(async (client) => {
        await begin(client, unitNumber);
        const { rows } = await client.query<{ status: string }>(`SELECT status FROM ${s}.seizure WHERE unit_number = $1 AND seizure_number = $2`, [unitNumber, seizureNumber]);
        if (rows.length === 0) throw new SandboxRouteError('"seizureNumber" names no seizure of this unit', 404);
        if (rows[0]!.status !== 'ACTIVE') throw new SandboxRouteError('the seizure is already lifted', 409);
        await client.query(`UPDATE ${s}.seizure SET status = 'LIFTED' WHERE unit_number = $1 AND seizure_number = $2`, [unitNumber, seizureNumber]);
        return append(client, await nextChangeId(client), 'SEIZURE_RELEASED', unitNumber, { seizureNumber });
      });
    },
  };
}
