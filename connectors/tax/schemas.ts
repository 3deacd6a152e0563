/**
 * The shapes of the tax service's replies (as fast-xml-parser gives them: text values, repeated
 * elements as arrays) and the records the connector hands to the graph. The zod schemas check
 * every field the graph reads and nothing more; the records are built in the same pass.
 */
import { z } from 'zod';
import { partyRef, type CreditRating, type PartyRef, type PropertyRef, type TaxType, type TaxpayerKind } from '../../src/sdk';

/** A tax payment as the graph sees it: `property` for a deed-tax 契税 payment, `payer` who paid. */
export interface TaxPaymentRecord {
  voucherNumber: string;
  taxType: TaxType;
  /** Yuan. */
  amount: number;
  /** YYYY-MM, the tax period 所属期. */
  period: string;
  /** YYYY-MM-DD. */
  paidAt: string;
  property: PropertyRef | null;
  payer: PartyRef;
}

/** An unpaid tax 欠税. */
export interface TaxArrearRecord {
  taxType: TaxType;
  /** Yuan. */
  amount: number;
  /** YYYY-MM-DD. */
  since: string;
}

/** A registered taxpayer with its payments (newest first) and arrears. */
export interface TaxpayerRecord {
  taxpayerId: string;
  kind: TaxpayerKind;
  name: string;
  taxOffice: string;
  registeredAt: string;
  /** 纳税信用等级; null for persons and unrated enterprises. */
  creditRating: CreditRating | null;
  payments: TaxPaymentRecord[];
  arrears: TaxArrearRecord[];
  hasArrears: boolean;
}

const taxType = z.enum(['INDIVIDUAL_INCOME', 'DEED', 'VALUE_ADDED', 'CORPORATE_INCOME', 'PROPERTY']);
const kind = z.enum(['PERSON', 'ENTERPRISE']);
const creditRating = z.enum(['A', 'B', 'M', 'C', 'D']);
const id = z.string().min(1);
/** xs:decimal, parsed here and nowhere else. */
const decimal = z
  .string()
  .regex(/^-?\d+(\.\d+)?$/)
  .transform(Number);
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const period = z.string().regex(/^\d{4}-\d{2}$/);

const arrearShape = z.object({ taxType, amount: decimal, since: date });
const paymentShape = z.object({ voucherNumber: id, taxType, amount: decimal, period, paidAt: date, unitNumber: id.optional() });
const taxpayerShape = z.object({
  taxpayerId: id,
  kind,
  name: z.string(),
  taxOffice: z.string(),
  registeredAt: date,
  creditRating: creditRating.optional(),
  payment: z.array(paymentShape).optional(),
  arrear: z.array(arrearShape).optional(),
});

/** The content of `GetTaxpayersResponse`. */
export const getTaxpayersResponse = z.object({
  taxpayer: z.array(taxpayerShape).optional(),
  notFound: z.array(id).optional(),
});

const deedTaxPaymentShape = z.object({ voucherNumber: id, amount: decimal, period, paidAt: date, payerKind: kind, payerId: id });
const unitShape = z.object({ unitNumber: id, payment: z.array(deedTaxPaymentShape).optional() });

/** The content of `GetDeedTaxPaymentsResponse`. */
export const getDeedTaxPaymentsResponse = z.object({ unit: z.array(unitShape).optional() });

/** The content of `PingResponse` of a healthy service. */
export const pingResponse = z.object({ status: z.literal('OK') });

/** Newest first; stable, so payments of one day keep the department's order (and a sorted list costs one pass). */
function newestFirst(a: { paidAt: string }, b: { paidAt: string }): number {
  return a.paidAt < b.paidAt ? 1 : a.paidAt > b.paidAt ? -1 : 0;
}

/** The record of one parsed `taxpayer` element. */
export function toTaxpayerRecord(t: z.infer<typeof taxpayerShape>): TaxpayerRecord {
  // One payer reference for all of a taxpayer's payments.
  const payer = partyRef(t.kind, t.taxpayerId);
  const payments: TaxPaymentRecord[] = (t.payment ?? []).map((p) => ({
    voucherNumber: p.voucherNumber,
    taxType: p.taxType,
    amount: p.amount,
    period: p.period,
    paidAt: p.paidAt,
    property: p.unitNumber === undefined ? null : { unitNumber: p.unitNumber },
    payer,
  }));
  payments.sort(newestFirst);
  const arrears = t.arrear ?? [];
  return {
    taxpayerId: t.taxpayerId,
    kind: t.kind,
    name: t.name,
    taxOffice: t.taxOffice,
    registeredAt: t.registeredAt,
    creditRating: t.creditRating ?? null,
    payments,
    arrears,
    hasArrears: arrears.length > 0,
  };
}

/** The records of one parsed `unit` element of `GetDeedTaxPaymentsResponse`, newest first. */
export function toDeedTaxRecords(unit: z.infer<typeof unitShape>): TaxPaymentRecord[] {
  const property: PropertyRef = { unitNumber: unit.unitNumber };
  const payments: TaxPaymentRecord[] = (unit.payment ?? []).map((p) => ({
    voucherNumber: p.voucherNumber,
    taxType: 'DEED',
    amount: p.amount,
    period: p.period,
    paidAt: p.paidAt,
    property,
    payer: partyRef(p.payerKind, p.payerId),
  }));
  return payments.sort(newestFirst);
}

const changeShape = z.object({
  id: z.string().regex(/^[1-9]\d{0,14}$/),
  type: z.enum(['ARREARS_ARISEN', 'ARREARS_SETTLED']),
  taxpayerId: id,
  taxpayerKind: kind,
  // xs:dateTime with an offset: the hub hands it on as the event's time.
  occurredAt: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/),
  taxType,
  amount: decimal,
  since: date,
});

/** One change of the tax department's change log. */
export type TaxChangeRecord = z.infer<typeof changeShape>;

/** The content of `GetChangesResponse`. */
export const getChangesResponse = z.object({
  change: z.array(changeShape).optional(),
  nextCursor: z.string().min(1),
  hasMore: z.enum(['true', 'false']).transform((v) => v === 'true'),
});
