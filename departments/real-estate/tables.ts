/**
 * The real-estate exchange database 前置库: its tables and the bulk load of the seed into them.
 *
 * The tables are what a registration centre typically exposes to other departments: one row per
 * unit, and child tables for the rights and restrictions on it. Child rows keep their seed order
 * in `seq`, so a reader can give them back in the order the registry recorded them.
 */
import type { SeedData, SeedProperty } from '../seed/model';
import { createChangeTableSql } from './changes';

/** The schema the sandbox creates its tables in (and the connector reads by default). */
export const REAL_ESTATE_SCHEMA = 'real_estate';

/** One statement of the load: without `params` it may hold several statements. */
export interface LoadStep {
  sql: string;
  params?: unknown[];
}

/** Rows per INSERT statement: big enough that statement overhead vanishes, small enough to keep one JSON parameter modest. */
const LOAD_CHUNK_ROWS = 20_000;

/** Checks a schema name before it is spliced into SQL (identifiers cannot be bound as parameters). */
export function checkSchemaName(schema: string): string {
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(`schema must be a lower-case SQL identifier, but got: ${JSON.stringify(schema)}`);
  }
  return schema;
}

/** The DDL of the tables, without keys and indexes: `createKeysAndIndexesSql` adds them after the load. */
export function createTablesSql(schema: string): string {
  const s = checkSchemaName(schema);
  return `
DROP SCHEMA IF EXISTS ${s} CASCADE;
CREATE SCHEMA ${s};
-- 不动产单元: one registered unit and its current certificate.
CREATE TABLE ${s}.property (
  unit_number        text NOT NULL,
  certificate_number text NOT NULL,
  address            text NOT NULL,
  area               numeric(12,2) NOT NULL CHECK (area > 0),
  usage              text NOT NULL CHECK (usage IN ('RESIDENTIAL','COMMERCIAL','INDUSTRIAL','OFFICE')),
  registered_at      date NOT NULL
);
-- 权利人: owners of a unit; several rows for shared ownership (共同共有 / 按份共有).
CREATE TABLE ${s}.owner (
  unit_number text NOT NULL,
  seq         smallint NOT NULL,
  owner_kind  text NOT NULL CHECK (owner_kind IN ('PERSON','ENTERPRISE')),
  owner_id    text NOT NULL,
  share       numeric(5,2) NOT NULL CHECK (share > 0 AND share <= 100),
  ownership   text NOT NULL CHECK (ownership IN ('SOLE','JOINT','SHARED'))
);
-- 抵押权登记
CREATE TABLE ${s}.mortgage (
  unit_number         text NOT NULL,
  seq                 smallint NOT NULL,
  registration_number text NOT NULL,
  mortgagee           text NOT NULL,
  amount              numeric(16,2) NOT NULL,
  start_date          date NOT NULL,
  end_date            date NOT NULL,
  status              text NOT NULL CHECK (status IN ('ACTIVE','RELEASED'))
);
-- 查封登记
CREATE TABLE ${s}.seizure (
  unit_number    text NOT NULL,
  seq            smallint NOT NULL,
  seizure_number text NOT NULL,
  court          text NOT NULL,
  case_number    text NOT NULL,
  start_date     date NOT NULL,
  end_date       date NOT NULL,
  status         text NOT NULL CHECK (status IN ('ACTIVE','LIFTED'))
);
-- 转移登记
CREATE TABLE ${s}.transfer (
  unit_number     text NOT NULL,
  seq             smallint NOT NULL,
  transfer_number text NOT NULL,
  from_kind       text NOT NULL CHECK (from_kind IN ('PERSON','ENTERPRISE')),
  from_id         text NOT NULL,
  to_kind         text NOT NULL CHECK (to_kind IN ('PERSON','ENTERPRISE')),
  to_id           text NOT NULL,
  transfer_date   date NOT NULL,
  price           numeric(16,2) NOT NULL
);${createChangeTableSql(s)}`;
}

/**
 * What is added after the load, which is faster than maintaining it row by row: the primary keys
 * (built by one sort each), the foreign keys to the unit (checked by one join each, not by a
 * trigger per row), the index for lookups by owner id (citizen identity number or credit code;
 * lookups by unit use the primary keys, whose leading column is the unit number), and statistics
 * so the planner picks the index lookups from the first query on.
 */
export function createKeysAndIndexesSql(schema: string): string {
  const s = checkSchemaName(schema);
  return `
ALTER TABLE ${s}.property ADD PRIMARY KEY (unit_number);
ALTER TABLE ${s}.owner ADD PRIMARY KEY (unit_number, seq);
ALTER TABLE ${s}.mortgage ADD PRIMARY KEY (unit_number, seq);
ALTER TABLE ${s}.seizure ADD PRIMARY KEY (unit_number, seq);
ALTER TABLE ${s}.transfer ADD PRIMARY KEY (unit_number, seq);
ALTER TABLE ${s}.owner ADD FOREIGN KEY (unit_number) REFERENCES ${s}.property;
ALTER TABLE ${s}.mortgage ADD FOREIGN KEY (unit_number) REFERENCES ${s}.property;
ALTER TABLE ${s}.seizure ADD FOREIGN KEY (unit_number) REFERENCES ${s}.property;
ALTER TABLE ${s}.transfer ADD FOREIGN KEY (unit_number) REFERENCES ${s}.property;
ALTER TABLE ${s}.changes ADD FOREIGN KEY (unit_number) REFERENCES ${s}.property;
CREATE INDEX owner_by_owner_id ON ${s}.owner (owner_id, unit_number);
ANALYZE ${s}.property; ANALYZE ${s}.owner; ANALYZE ${s}.mortgage; ANALYZE ${s}.seizure; ANALYZE ${s}.transfer;`;
}

type Row = Record<string, string | number>;

/** Splits the seed properties into the rows of each table (column names as keys). */
function toRows(properties: readonly SeedProperty[]): Record<'property' | 'owner' | 'mortgage' | 'seizure' | 'transfer', Row[]> {
  const rows = { property: [] as Row[], owner: [] as Row[], mortgage: [] as Row[], seizure: [] as Row[], transfer: [] as Row[] };
  for (const p of properties) {
    const unit = p.unitNumber;
    rows.property.push({ unit_number: unit, certificate_number: p.certificateNumber, address: p.address, area: p.area, usage: p.usage, registered_at: p.registeredAt });
    p.owners.forEach((o, seq) => rows.owner.push({ unit_number: unit, seq, owner_kind: o.kind, owner_id: o.ownerId, share: o.share, ownership: o.ownership }));
    p.mortgages.forEach((m, seq) =>
      rows.mortgage.push({ unit_number: unit, seq, registration_number: m.registrationNumber, mortgagee: m.mortgagee, amount: m.amount, start_date: m.startDate, end_date: m.endDate, status: m.status }),
    );
    p.seizures.forEach((z, seq) =>
      rows.seizure.push({ unit_number: unit, seq, seizure_number: z.seizureNumber, court: z.court, case_number: z.caseNumber, start_date: z.startDate, end_date: z.endDate, status: z.status }),
    );
    p.transfers.forEach((t, seq) =>
      rows.transfer.push({ unit_number: unit, seq, transfer_number: t.transferNumber, from_kind: t.fromKind, from_id: t.fromId, to_kind: t.toKind, to_id: t.toId, transfer_date: t.date, price: t.price }),
    );
  }
  return rows;
}

/**
 * The statements that create the tables (dropping any previous schema of that name), load the
 * seed's properties and add keys and indexes, all in one transaction. Each chunk of rows travels as ONE JSON parameter expanded
 * server-side by `json_populate_recordset`: one statement per 20 000 rows, the same on PGlite and
 * on PostgreSQL, and no COPY support needed from the client library.
 */
export function realEstateLoadPlan(schema: string, data: Pick<SeedData, 'properties'>): LoadStep[] {
  const s = checkSchemaName(schema);
  const rows = toRows(data.properties);
  const steps: LoadStep[] = [{ sql: 'BEGIN' }, { sql: createTablesSql(s) }];
  for (const table of ['property', 'owner', 'mortgage', 'seizure', 'transfer'] as const) {
    const all = rows[table];
    for (let i = 0; i < all.length; i += LOAD_CHUNK_ROWS) {
      steps.push({
        sql: `INSERT INTO ${s}.${table} SELECT * FROM json_populate_recordset(NULL::${s}.${table}, $1::json)`,
        params: [JSON.stringify(all.slice(i, i + LOAD_CHUNK_ROWS))],
      });
    }
  }
  steps.push({ sql: createKeysAndIndexesSql(s) }, { sql: 'COMMIT' });
  return steps;
}
