/**
 * The memo of signatures found valid (src/seal/signature-memo.ts) changes no verdict: with it or
 * without it, every token verifies the same way, in any order; only the signature is remembered
 * (time and trust are checked on every use), under the very key object it verified with, and a
 * token that failed is never remembered.
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { createKeyStore, createSealer, createSignatureMemo, importJwks, SIGNATURE_MEMO_ENTRY_BYTES, presentSeal, verifySeal, type KeyStore, type SealedRecord } from '../../../src/seal';
import { WITH_DEPARTMENTS } from '../../support/keys';
import { removeTempDirs, tempDir } from './fixture';

const NOW = Date.parse('2025-06-01T09:00:00Z');
const DAY = 86_400_000;
const FIELDS = { idNumber: '371702199001011234', name: '张三', deedTaxPaid: true, paidAmount: 12345.67, paidAt: null };

let store: KeyStore;
let sealed: SealedRecord[];

beforeAll(async () => {
  store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: new Date(NOW - DAY) });
  const sealer = createSealer({ keyStore: store, subjectSecret: 'signature-memo-test-subject-secret-0123456789' });
  sealed = ['DT-1', 'DT-2', 'DT-3'].map((recordId, i) => sealer.sealRecord({ department: i === 2 ? 'market-regulation' : 'tax', recordType: 'DeedTaxPayment', recordId, fields: FIELDS, issuedAt: NOW }));
});
afterAll(removeTempDirs);

/** A token changed in one character of its issuer JWT (header, payload or signature), or one of its disclosures dropped. */
function tampered(token: string, at: number): string {
  const jwt = token.slice(0, token.indexOf('~'));
  const i = at % jwt.length;
  const c = jwt[i] === 'A' ? 'B' : 'A';
  return `${jwt.slice(0, i)}${c}${jwt.slice(i + 1)}${token.slice(jwt.length)}`;
}

describe('signature memo', () => {
  it('gives every token, valid or not, the verdict it gets without the memo, in any order and repeated', () => {
    const names = Object.keys(FIELDS);
    const token = fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.subarray(names), fc.option(fc.nat(), { nil: undefined }))
      .map(([record, shown, tamper]) => {
        const presented = presentSeal(sealed[record]!, shown);
        return tamper === undefined ? presented : tampered(presented, tamper);
      });
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 30 }), (tokens, minutes) => {
        const memo = createSignatureMemo();
        const now = NOW + minutes * 60_000;
        for (const t of [...tokens, ...tokens]) {
          expect(verifySeal(t, { keyStore: store, now, signatures: memo })).toEqual(verifySeal(t, { keyStore: store, now }));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('remembers only valid signatures, under the key object they verified with', () => {
    const memo = createSignatureMemo();
    const good = presentSeal(sealed[0]!, ['name']);
    const jwt = good.slice(0, good.indexOf('~'));
    expect(verifySeal(tampered(good, jwt.length - 3), { keyStore: store, now: NOW, signatures: memo })).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    expect(memo.size).toBe(0);
    const jwks = importJwks(store.publicJwks());
    expect(verifySeal(good, { jwks, now: NOW, signatures: memo })).toMatchObject({ valid: true });
    expect(memo.size).toBe(1);
    const kid = store.currentKeyId('tax', 'seal')!;
    expect(memo.has(jwks.resolveKey(kid)!.publicKey, jwt)).toBe(true);
    // Another key object (a peer's rotated or re-imported key) does not count.
    expect(memo.has(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, jwt)).toBe(false);
  });

  it('checks time and trust on every use: a remembered seal read before its time, or against keys without its key, is refused', () => {
    const memo = createSignatureMemo();
    const good = presentSeal(sealed[1]!, ['deedTaxPaid']);
    expect(verifySeal(good, { keyStore: store, now: NOW, signatures: memo })).toMatchObject({ valid: true });
    expect(memo.size).toBe(1);
    expect(verifySeal(good, { keyStore: store, now: NOW - DAY, signatures: memo })).toMatchObject({ valid: false, reason: 'NOT_YET_VALID' });
    expect(verifySeal(good, { jwks: { keys: [] }, now: NOW, signatures: memo })).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY' });
  });

  it('stays within its budget, whatever the tokens\' length: the least recently used goes first', () => {
    const memo = createSignatureMemo({ maxBytes: 2 * SIGNATURE_MEMO_ENTRY_BYTES });
    const tokens = sealed.map((s) => presentSeal(s, []));
    for (const token of tokens) verifySeal(token, { keyStore: store, now: NOW, signatures: memo });
    expect(memo.size).toBe(2);
    const keyOf = (token: string) => store.resolveKey(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')).kid as string)!.publicKey;
    expect(tokens.map((token) => memo.has(keyOf(token), token.split('~')[0]!))).toEqual([false, true, true]);
  });
});
