/**
 * The tax connector's hand-written response readers against its zod schemas: every response the
 * schemas accept is read to the same output, and whatever a reader accepts the schema accepts
 * too, with the same output; a response a reader leaves (undefined) goes to the schema.
 */
import fc from 'fast-check';
import { readDeedTaxPayments, readTaxpayers } from '../../connectors/tax/fast-replies';
import { getDeedTaxPaymentsResponse, getTaxpayersResponse } from '../../connectors/tax/schemas';
import { expectReaderMatchesSchema } from '../support/reply-mutations';

const text = fc.constantFrom('', 'x', '12', '000123', '张三');
const idText = fc.constantFrom('x', '000123', '91110000000000000X');
const decimal = fc.constantFrom('0', '12.50', '-3', '1.', '1e3', '12,5', '');
const date = fc.constantFrom('2020-01-02', '2020-1-2', '');
const period = fc.constantFrom('2020-01', '2020-1', '');
const taxType = fc.constantFrom('DEED', 'VALUE_ADDED', 'PROPERTY', 'OTHER');
const kind = fc.constantFrom('PERSON', 'ENTERPRISE', 'person');
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const withoutUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const payment = fc.record({ voucherNumber: idText, taxType, amount: decimal, period, paidAt: date, unitNumber: optional(idText), extra: optional(text) }).map(withoutUndefined);
const arrear = fc.record({ taxType, amount: decimal, since: date }).map(withoutUndefined);
const taxpayer = fc
  .record({
    taxpayerId: idText,
    kind,
    name: text,
    taxOffice: text,
    registeredAt: date,
    creditRating: optional(fc.constantFrom('A', 'M', 'E')),
    payment: optional(fc.array(payment, { maxLength: 3 })),
    arrear: optional(fc.array(arrear, { maxLength: 2 })),
  })
  .map(withoutUndefined);
const taxpayers = fc.record({ taxpayer: optional(fc.array(taxpayer, { maxLength: 3 })), notFound: optional(fc.array(fc.oneof(idText, fc.constant('')), { maxLength: 2 })) }).map(withoutUndefined);
const deedPayment = fc.record({ voucherNumber: idText, amount: decimal, period, paidAt: date, payerKind: kind, payerId: idText }).map(withoutUndefined);
const units = fc
  .record({ unit: optional(fc.array(fc.record({ unitNumber: fc.oneof(idText, fc.constant('')), payment: optional(fc.array(deedPayment, { maxLength: 3 })) }).map(withoutUndefined), { maxLength: 3 })) })
  .map(withoutUndefined);

/** A value with one property somewhere replaced by something of another kind. */

describe('tax response readers', () => {
  it.each([
    ['GetTaxpayersResponse', readTaxpayers, getTaxpayersResponse, taxpayers],
    ['GetDeedTaxPaymentsResponse', readDeedTaxPayments, getDeedTaxPaymentsResponse, units],
  ] as const)('accept only what the schema accepts, with its output (%s)', (_, read, schema, arb) => {
    expectReaderMatchesSchema(read, schema, arb as fc.Arbitrary<unknown>);
  });
});
