/**
 * The registry's change feed: its change table 变更记录 (`<schema>.changes`), read over SQL by
 * keyset (`WHERE id > $cursor ORDER BY id LIMIT n`), one statement per page. The cursor is the id
 * of the last change read, so a page never repeats or skips a change, however many are appended
 * between two reads. Each row comes back as ONE JSON text column, checked like a property record.
 */
import { z } from 'zod';
import type { DepartmentEvent, EventTypeSpec } from '../../src/sdk';

/** The event types of the registry's change feed (subject: the unit, by unit number). */
export const REAL_ESTATE_EVENTS: readonly EventTypeSpec[] = Object.freeze([
  { type: 'TRANSFER_REGISTERED', subject: 'PROPERTY', description: 'A transfer of the unit 转移登记 was registered: it has a new sole owner; details: transferNumber, price, previousOwnerCount.' },
  { type: 'MORTGAGE_REGISTERED', subject: 'PROPERTY', description: 'A mortgage 抵押权登记 on the unit was registered; details: registrationNumber, amount.' },
  { type: 'MORTGAGE_RELEASED', subject: 'PROPERTY', description: 'A mortgage on the unit was released 抵押权注销; details: registrationNumber.' },
  { type: 'SEIZURE_REGISTERED', subject: 'PROPERTY', description: 'A court seized the unit 查封登记; details: seizureNumber, caseNumber.' },
  { type: 'SEIZURE_RELEASED', subject: 'PROPERTY', description: 'A seizure of the unit was lifted 解除查封; details: seizureNumber.' },
]);

/** The cursor that starts the feed at the table's current end (resolved by the first read). */
export const LATEST_CHANGE_CURSOR = 'latest';

/** The contract of one change row (the JSON of its `record` column). */
export const changeRowSchema = z.object({
  id: z.string().regex(/^[1-9]\d{0,17}$/),
  type: z.enum(['TRANSFER_REGISTERED', 'MORTGAGE_REGISTERED', 'MORTGAGE_RELEASED', 'SEIZURE_REGISTERED', 'SEIZURE_RELEASED']),
  unitNumber: z.string().min(1),
  occurredAt: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});

/** One change row of the feed. */
export type ChangeRow = z.infer<typeof changeRowSchema>;

/** The statements of the feed, for one schema (checked by the caller: it is spliced in). */
export function changeFeedStatements(schema: string): { page: string; end: string } {
  return {
    // $1: the last id read (bigint as text); $2: at most how many rows.
    page: `SELECT json_build_object(
  'id', c.id::text,
  'type', c.event_type,
  'unitNumber', c.unit_number,
  'occurredAt', to_char(c.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'details', c.details
)::text AS record
FROM ${schema}.changes c
WHERE c.id > $1::bigint
ORDER BY c.id
LIMIT $2`,
    end: `SELECT json_build_object('id', coalesce(max(c.id), 0)::text)::text AS record FROM ${schema}.changes c`,
  };
}

/** Reads a cursor this feed issued (a change id, 0 for an empty table); undefined for anything else. */
export function parseChangeCursor(cursor: string): bigint | undefined {
  return /^(0|[1-9]\d{0,17})$/.test(cursor) ? BigInt(cursor) : undefined;
}

/** A change row as a hub event: its id is the row's id, stable across re-reads. */
export function toRealEstateEvent(row: ChangeRow): DepartmentEvent {
  return { id: row.id, type: row.type, subject: { kind: 'PROPERTY', id: row.unitNumber }, occurredAt: row.occurredAt, details: row.details };
}
