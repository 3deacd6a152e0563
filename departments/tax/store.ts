/**
 * The tax department's own store: taxpayer entries keyed by taxpayer id and deed-tax payments
 * keyed by unit number, built once from the seed and kept in the shape the SOAP service
 * answers with (element order of the WSDL), so an operation only looks entries up and writes them out.
 */
import type { CreditRating, OwnerKind, SeedData, TaxType } from '../seed/model';

/** A payment as the WSDL's `Payment` type; `unitNumber` only for deed tax. */
export interface PaymentEntry {
  voucherNumber: string;
  taxType: TaxType;
  amount: string;
  period: string;
  paidAt: string;
  unitNumber?: string;
}

/** An unpaid tax 欠税 as the WSDL's `Arrear` type. */
export interface ArrearEntry {
  taxType: TaxType;
  amount: string;
  since: string;
}

/** A taxpayer as the WSDL's `Taxpayer` type; `creditRating` only when rated. */
export interface TaxpayerEntry {
  taxpayerId: string;
  kind: OwnerKind;
  name: string;
  taxOffice: string;
  registeredAt: string;
  creditRating?: CreditRating;
  payment: PaymentEntry[];
  arrear: ArrearEntry[];
}

/** A deed-tax 契税 payment for one unit as the WSDL's `DeedTaxPayment` type. */
export interface DeedTaxEntry {
  voucherNumber: string;
  amount: string;
  period: string;
  paidAt: string;
  payerKind: OwnerKind;
  payerId: string;
}

/** The kinds of change the department records in its change log. */
export const TAX_CHANGE_TYPES = ['ARREARS_ARISEN', 'ARREARS_SETTLED'] as const;

/** A recorded change of a taxpayer, as the WSDL's `Change` type. */
export interface TaxChangeEntry {
  /** Increasing position in the log (what the opaque cursor encodes). */
  id: number;
  type: (typeof TAX_CHANGE_TYPES)[number];
  taxpayerId: string;
  taxpayerKind: OwnerKind;
  /** xs:dateTime with offset. */
  occurredAt: string;
  taxType: TaxType;
  /** The arrear's amount (yuan, two decimals). */
  amount: string;
  /** Since when the tax was owed. */
  since: string;
}

/** The tax department's indexes, and its change log (appended to by `raiseArrear` and `settleArrear`). */
export interface TaxStore {
  readonly taxpayers: ReadonlyMap<string, TaxpayerEntry>;
  readonly deedTaxByUnit: ReadonlyMap<string, readonly DeedTaxEntry[]>;
  readonly changes: TaxChangeEntry[];
}

/** A change the taxpayer's state does not allow (an arrear of a type already owed, or none to settle). */
export class TaxStateError extends Error {}

/** Records an unpaid tax 欠税 of one type (one arrear per tax type) and appends ARREARS_ARISEN. */
export function raiseArrear(store: TaxStore, taxpayerId: string, taxType: TaxType, amount: number, since: string, occurredAt: string): TaxChangeEntry {
  const entry = store.taxpayers.get(taxpayerId);
  if (!entry) throw new TypeError('raiseArrear: no taxpayer has this id');
  if (entry.arrear.some((a) => a.taxType === taxType)) throw new TaxStateError(`the taxpayer already owes ${taxType} tax: settle it first`);
  const arrear: ArrearEntry = { taxType, amount: yuan(amount), since };
  entry.arrear = [...entry.arrear, arrear];
  return appendChange(store, 'ARREARS_ARISEN', entry, arrear, occurredAt);
}

/** Settles the arrear of one tax type (paid in full) and appends ARREARS_SETTLED. */
export function settleArrear(store: TaxStore, taxpayerId: string, taxType: TaxType, occurredAt: string): TaxChangeEntry {
  const entry = store.taxpayers.get(taxpayerId);
  if (!entry) throw new TypeError('settleArrear: no taxpayer has this id');
  const arrear = entry.arrear.find((a) => a.taxType === taxType);
  if (!arrear) throw new TaxStateError(`the taxpayer owes no ${taxType} tax`);
  entry.arrear = entry.arrear.filter((a) => a !== arrear);
  return appendChange(store, 'ARREARS_SETTLED', entry, arrear, occurredAt);
}

function appendChange(store: TaxStore, type: TaxChangeEntry['type'], entry: TaxpayerEntry, arrear: ArrearEntry, occurredAt: string): TaxChangeEntry {
  const change: TaxChangeEntry = {
    id: (store.changes.at(-1)?.id ?? 0) + 1,
    type,
    taxpayerId: entry.taxpayerId,
    taxpayerKind: entry.kind,
    occurredAt,
    taxType: arrear.taxType,
    amount: arrear.amount,
    since: arrear.since,
  };
  store.changes.push(change);
  return change;
}

/** Money as the department writes it: yuan with two decimals (xs:decimal). */
function yuan(amount: number): string {
  return amount.toFixed(2);
}

/** Builds the store from the tax part of the seed (copies every value; the seed is not kept). */
export function createTaxStore(data: Pick<SeedData, 'taxpayers'>): TaxStore {
  const taxpayers = new Map<string, TaxpayerEntry>();
  const deedTaxByUnit = new Map<string, DeedTaxEntry[]>();
  for (const t of data.taxpayers) {
    const entry: TaxpayerEntry = {
      taxpayerId: t.taxpayerId,
      kind: t.kind,
      name: t.name,
      taxOffice: t.taxOffice,
      registeredAt: t.registeredAt,
      ...(t.creditRating === null ? {} : { creditRating: t.creditRating }),
      payment: t.payments.map((p) => ({
        voucherNumber: p.voucherNumber,
        taxType: p.taxType,
        amount: yuan(p.amount),
        period: p.period,
        paidAt: p.paidAt,
        ...(p.unitNumber === null ? {} : { unitNumber: p.unitNumber }),
      })),
      arrear: t.arrears.map((a) => ({ taxType: a.taxType, amount: yuan(a.amount), since: a.since })),
    };
    taxpayers.set(t.taxpayerId, entry);
    for (const p of t.payments) {
      if (p.taxType !== 'DEED' || p.unitNumber === null) continue;
      let list = deedTaxByUnit.get(p.unitNumber);
      if (list === undefined) deedTaxByUnit.set(p.unitNumber, (list = []));
      list.push({ voucherNumber: p.voucherNumber, amount: yuan(p.amount), period: p.period, paidAt: p.paidAt, payerKind: t.kind, payerId: t.taxpayerId });
    }
  }
  // Newest first, as the department lists payments everywhere else.
  for (const list of deedTaxByUnit.values()) list.sort((a, b) => b.paidAt.localeCompare(a.paidAt) || a.voucherNumber.localeCompare(b.voucherNumber));
  return { taxpayers, deedTaxByUnit, changes: [] };
}
