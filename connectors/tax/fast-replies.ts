/**
 * Hand-written readers of the two hot responses, `GetTaxpayersResponse` and
 * `GetDeedTaxPaymentsResponse`: each accepts only what its zod schema (schemas.ts) accepts and
 * builds the same output (schema keys only, optional keys only when present, amounts as numbers).
 * Anything they do not accept answers undefined and goes to the zod schema, which then names the
 * problem as before.
 */
import type { z } from 'zod';
import type { getDeedTaxPaymentsResponse, getTaxpayersResponse } from './schemas';

type Taxpayers = z.infer<typeof getTaxpayersResponse>;
type DeedTaxPayments = z.infer<typeof getDeedTaxPaymentsResponse>;
type Taxpayer = NonNullable<Taxpayers['taxpayer']>[number];
type Payment = NonNullable<Taxpayer['payment']>[number];
type Arrear = NonNullable<Taxpayer['arrear']>[number];
type Unit = NonNullable<DeedTaxPayments['unit']>[number];
type DeedPayment = NonNullable<Unit['payment']>[number];
type Json = Record<string, unknown>;

const TAX_TYPES = new Set(['INDIVIDUAL_INCOME', 'DEED', 'VALUE_ADDED', 'CORPORATE_INCOME', 'PROPERTY']);
const KINDS = new Set(['PERSON', 'ENTERPRISE']);
const CREDIT_RATINGS = new Set(['A', 'B', 'M', 'C', 'D']);
// The schemas' own patterns.
const DECIMAL = /^-?\d+(\.\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const PERIOD = /^\d{4}-\d{2}$/;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isMember = (set: ReadonlySet<string>, value: unknown): value is string => typeof value === 'string' && set.has(value);
const matches = (pattern: RegExp, value: unknown): value is string => typeof value === 'string' && pattern.test(value);

/** The records `item` reads from an optional repeated element, or undefined when one is not accepted (`null` when absent). */
function list<R>(value: unknown, item: (value: unknown) => R | undefined): R[] | undefined | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) return undefined;
  const out = new Array<R>(value.length);
  for (let i = 0; i < value.length; i++) {
    const record = item(value[i]);
    if (record === undefined) return undefined;
    out[i] = record;
  }
  return out;
}

function payment(p: unknown): Payment | undefined {
  if (!isObject(p)) return undefined;
  const { voucherNumber, taxType, amount, period, paidAt, unitNumber } = p;
  if (!isId(voucherNumber) || !isMember(TAX_TYPES, taxType) || !matches(DECIMAL, amount) || !matches(PERIOD, period) || !matches(DATE, paidAt)) return undefined;
  if (unitNumber !== undefined && !isId(unitNumber)) return undefined;
  const out: Payment = { voucherNumber, taxType: taxType as Payment['taxType'], amount: Number(amount), period, paidAt };
  if (unitNumber !== undefined) out.unitNumber = unitNumber;
  return out;
}

function arrear(a: unknown): Arrear | undefined {
  if (!isObject(a)) return undefined;
  const { taxType, amount, since } = a;
  if (!isMember(TAX_TYPES, taxType) || !matches(DECIMAL, amount) || !matches(DATE, since)) return undefined;
  return { taxType: taxType as Arrear['taxType'], amount: Number(amount), since };
}

function taxpayer(t: unknown): Taxpayer | undefined {
  if (!isObject(t)) return undefined;
  const { taxpayerId, kind, name, taxOffice, registeredAt, creditRating } = t;
  if (!isId(taxpayerId) || !isMember(KINDS, kind) || typeof name !== 'string' || typeof taxOffice !== 'string' || !matches(DATE, registeredAt)) return undefined;
  if (creditRating !== undefined && !isMember(CREDIT_RATINGS, creditRating)) return undefined;
  const payments = list(t['payment'], payment);
  const arrears = list(t['arrear'], arrear);
  if (payments === undefined || arrears === undefined) return undefined;
  const out: Taxpayer = { taxpayerId, kind: kind as Taxpayer['kind'], name, taxOffice, registeredAt };
  if (creditRating !== undefined) out.creditRating = creditRating as Taxpayer['creditRating'];
  if (payments !== null) out.payment = payments;
  if (arrears !== null) out.arrear = arrears;
  return out;
}

function deedPayment(p: unknown): DeedPayment | undefined {
  if (!isObject(p)) return undefined;
  const { voucherNumber, amount, period, paidAt, payerKind, payerId } = p;
  if (!isId(voucherNumber) || !matches(DECIMAL, amount) || !matches(PERIOD, period) || !matches(DATE, paidAt) || !isMember(KINDS, payerKind) || !isId(payerId)) return undefined;
  return { voucherNumber, amount: Number(amount), period, paidAt, payerKind: payerKind as DeedPayment['payerKind'], payerId };
}

function unit(u: unknown): Unit | undefined {
  if (!isObject(u) || !isId(u['unitNumber'])) return undefined;
  const payments = list(u['payment'], deedPayment);
  if (payments === undefined) return undefined;
  return payments === null ? { unitNumber: u['unitNumber'] } : { unitNumber: u['unitNumber'], payment: payments };
}

const id = (value: unknown): string | undefined => (isId(value) ? value : undefined);

/** `getTaxpayersResponse`'s output for a response it accepts, or undefined (then ask the schema). */
export function readTaxpayers(response: unknown): Taxpayers | undefined {
  if (!isObject(response)) return undefined;
  const taxpayers = list(response['taxpayer'], taxpayer);
  const notFound = list(response['notFound'], id);
  if (taxpayers === undefined || notFound === undefined) return undefined;
  const out: Taxpayers = {};
  if (taxpayers !== null) out.taxpayer = taxpayers;
  if (notFound !== null) out.notFound = notFound;
  return out;
}

/** `getDeedTaxPaymentsResponse`'s output for a response it accepts, or undefined (then ask the schema). */
export function readDeedTaxPayments(response: unknown): DeedTaxPayments | undefined {
  if (!isObject(response)) return undefined;
  const units = list(response['unit'], unit);
  if (units === undefined) return undefined;
  return units === null ? {} : { unit: units };
}
