/**
 * The SQL the connector runs against the exchange database, and the contract of its rows.
 *
 * Each statement returns one row per property with ONE text column, `record`: the property with
 * its owners, mortgages, seizures and transfers built server-side by json_build_object/json_agg,
 * so a whole batch with everything nested costs one statement and one JSON.parse per property.
 * Numbers come out of `numeric` as JSON numbers (never strings), dates through to_char, which does
 * not depend on the session's DateStyle or time zone.
 */
import { z } from 'zod';

const ownerSchema = z.object({
  kind: z.enum(['PERSON', 'ENTERPRISE']),
  ownerId: z.string(),
  share: z.number(),
  ownership: z.enum(['SOLE', 'JOINT', 'SHARED']),
});

const mortgageSchema = z.object({
  registrationNumber: z.string(),
  mortgagee: z.string(),
  amount: z.number(),
  startDate: z.string(),
  endDate: z.string(),
  status: z.enum(['ACTIVE', 'RELEASED']),
});

const seizureSchema = z.object({
  seizureNumber: z.string(),
  court: z.string(),
  caseNumber: z.string(),
  startDate: z.string(),
  endDate: z.string(),
  status: z.enum(['ACTIVE', 'LIFTED']),
});

const transferSchema = z.object({
  transferNumber: z.string(),
  fromKind: z.enum(['PERSON', 'ENTERPRISE']),
  fromId: z.string(),
  toKind: z.enum(['PERSON', 'ENTERPRISE']),
  toId: z.string(),
  date: z.string(),
  price: z.number(),
});

/** The contract of one `record`; formats are guaranteed by the SQL (to_char), so only shapes and enums are checked. */
export const propertyRecordSchema = z.object({
  unitNumber: z.string(),
  certificateNumber: z.string(),
  address: z.string(),
  area: z.number(),
  usage: z.enum(['RESIDENTIAL', 'COMMERCIAL', 'INDUSTRIAL', 'OFFICE']),
  registeredAt: z.string(),
  owners: z.array(ownerSchema),
  mortgages: z.array(mortgageSchema),
  seizures: z.array(seizureSchema),
  transfers: z.array(transferSchema),
});

/** A real-estate unit 不动产单元 as the registry holds it, with everything recorded on it. */
export type PropertyRecord = z.infer<typeof propertyRecordSchema>;
/** One owner's right 权利人: the party, its share in percent and the kind of ownership. */
export type OwnerRecord = z.infer<typeof ownerSchema>;
/** A mortgage 抵押 on a unit. */
export type MortgageRecord = z.infer<typeof mortgageSchema>;
/** A court's seizure 查封 of a unit. */
export type SeizureRecord = z.infer<typeof seizureSchema>;
/** A transfer 转移登记 of a unit between two parties. */
export type TransferRecord = z.infer<typeof transferSchema>;

/** The one column every statement returns. */
export const RECORD_COLUMN = 'record';

/** `SELECT <record> FROM property p WHERE <where>`: the shared projection of both lookups. */
function recordSelect(schema: string, where: string): string {
  const s = schema;
  return `SELECT json_build_object(
  'unitNumber', p.unit_number,
  'certificateNumber', p.certificate_number,
  'address', p.address,
  'area', p.area,
  'usage', p.usage,
  'registeredAt', to_char(p.registered_at, 'YYYY-MM-DD'),
  'owners', coalesce((SELECT json_agg(json_build_object('kind', o.owner_kind, 'ownerId', o.owner_id, 'share', o.share, 'ownership', o.ownership) ORDER BY o.seq)
                      FROM ${s}.owner o WHERE o.unit_number = p.unit_number), '[]'),
  'mortgages', coalesce((SELECT json_agg(json_build_object('registrationNumber', m.registration_number, 'mortgagee', m.mortgagee, 'amount', m.amount,
                           'startDate', to_char(m.start_date, 'YYYY-MM-DD'), 'endDate', to_char(m.end_date, 'YYYY-MM-DD'), 'status', m.status) ORDER BY m.seq)
                         FROM ${s}.mortgage m WHERE m.unit_number = p.unit_number), '[]'),
  'seizures', coalesce((SELECT json_agg(json_build_object('seizureNumber', z.seizure_number, 'court', z.court, 'caseNumber', z.case_number,
                          'startDate', to_char(z.start_date, 'YYYY-MM-DD'), 'endDate', to_char(z.end_date, 'YYYY-MM-DD'), 'status', z.status) ORDER BY z.seq)
                        FROM ${s}.seizure z WHERE z.unit_number = p.unit_number), '[]'),
  'transfers', coalesce((SELECT json_agg(json_build_object('transferNumber', t.transfer_number, 'fromKind', t.from_kind, 'fromId', t.from_id,
                           'toKind', t.to_kind, 'toId', t.to_id, 'date', to_char(t.transfer_date, 'YYYY-MM-DD'), 'price', t.price) ORDER BY t.transfer_date, t.seq)
                         FROM ${s}.transfer t WHERE t.unit_number = p.unit_number), '[]')
)::text AS ${RECORD_COLUMN}
FROM ${s}.property p
WHERE ${where}`;
}

/** The two statements of the connector, for one schema (checked by the caller: it is spliced in). */
export function realEstateStatements(schema: string): { byUnit: string; byOwner: string } {
  return {
    // $1: text[] of unit numbers.
    byUnit: recordSelect(schema, 'p.unit_number = ANY($1::text[])'),
    // $1: text[] of owner ids (citizen identity numbers and credit codes); a co-owned unit comes once.
    byOwner: `${recordSelect(schema, `p.unit_number IN (SELECT o.unit_number FROM ${schema}.owner o WHERE o.owner_id = ANY($1::text[]))`)}\nORDER BY p.unit_number`,
  };
}
