/**
 * The seal service's memory, which every delivery of an event to several subscribers goes
 * through: a record is signed once per content and that one seal serves every subscriber, each
 * seeing only the disclosures its (masked) reply shows. Checked property-based: the seal served
 * for a record is always one of its current content under its own pseudonymous subject (never an
 * older content's, never another record's), and one shared seal presented to subscribers with
 * different masks discloses to each exactly the values its reply shows. The sealable-field check,
 * remembered per type, still refuses a field the type does not share on every record.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { buildSchema, type GraphQLObjectType } from 'graphql';
import { createSealService, presentSeals, type SealService } from '../../../src/gateway/seals';
import type { SealSpec } from '../../../src/sdk';
import { createKeyStore, verifySeal, type KeyStore, type SealedRecord } from '../../../src/seal';
import { WITH_DEPARTMENTS } from '../../support/keys';

const DEPARTMENT = 'market-regulation';

const schema = buildSchema(`
  enum SharingClass { UNCONDITIONAL CONDITIONAL NOT_SHARED }
  directive @share(class: SharingClass!) on FIELD_DEFINITION
  type Query { firm: Firm }
  type Seal { token: String }
  type Firm {
    code: String @share(class: UNCONDITIONAL)
    name: String @share(class: UNCONDITIONAL)
    status: String @share(class: CONDITIONAL)
    capital: Int @share(class: CONDITIONAL)
    secret: String @share(class: NOT_SHARED)
    seal: Seal
  }
`);
const firmType = schema.getType('Firm') as GraphQLObjectType;

interface Firm {
  code: string;
  name: string;
  status: string;
  capital: number;
  secret?: string;
}

const spec = (withSecret = false): SealSpec => ({
  recordType: 'Firm',
  load: async (parent: unknown) => parent,
  id: (r: Firm) => r.code,
  fields: (r: Firm) => ({ code: r.code, name: r.name, status: r.status, capital: r.capital, ...(withSecret ? { secret: r.secret } : {}) }),
});

let keysDir: string;
let keyStore: KeyStore;

beforeAll(async () => {
  keysDir = await mkdtemp(join(tmpdir(), 'datarun-seal-service-'));
  keyStore = await createKeyStore(keysDir, WITH_DEPARTMENTS);
});

afterAll(async () => {
  await rm(keysDir, { recursive: true, force: true });
});

const newService = (cacheEntries = 8): SealService => createSealService(keyStore, { cacheEntries, subjectSecret: 'the-seal-subject-secret-of-the-memo-test' });

/** What a seal's token discloses when presented whole (every disclosure). */
function disclosedBy(sealed: SealedRecord): Record<string, unknown> {
  const token = `${sealed.jwt}~${Object.values(sealed.disclosures).join('~')}~`;
  const verified = verifySeal(token, { keyStore });
  if (!verified.valid) throw new Error(`seal did not verify: ${verified.reason}`);
  return verified.disclosed;
}

const firmArb: fc.Arbitrary<Firm> = fc.record({
  code: fc.constantFrom('91A', '91B', '91C', '91D'),
  name: fc.constantFrom('甲', '乙', 'Firm & Co'),
  status: fc.constantFrom('ACTIVE', 'REVOKED'),
  capital: fc.integer({ min: 0, max: 3 }),
});

describe('the seal service memory', () => {
  it('serves a record the seal of its current content under its own subject, signing again only when the content changed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(firmArb, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 6 }), async (firms, entries) => {
        const service = newService(entries);
        const subjects = new Map<string, string>();
        const last = new Map<string, { content: string; sealed: SealedRecord }>();
        for (const firm of firms) {
          const signedBefore = service.stats.sealed;
          const sealed = await service.seal(DEPARTMENT, spec(), firm, { type: firmType, schema });
          // Its own current content, nothing else.
          expect(disclosedBy(sealed)).toEqual({ code: firm.code, name: firm.name, recordStatus: firm.status, capital: firm.capital });
          // One pseudonymous subject per record, never shared with another record.
          const subject = subjects.get(firm.code) ?? sealed.subject;
          expect(sealed.subject).toBe(subject);
          subjects.set(firm.code, subject);
          for (const [code, other] of subjects) if (code !== firm.code) expect(other).not.toBe(sealed.subject);
          expect(sealed.subject).not.toContain(firm.code);
          // The same content again is the same seal unless the bounded memory dropped it; a change is signed anew.
          const content = JSON.stringify(disclosedBy(sealed));
          const before = last.get(firm.code);
          if (before && before.content !== content) expect(service.stats.sealed).toBe(signedBefore + 1);
          if (service.stats.sealed === signedBefore) expect(before?.sealed).toBe(sealed);
          last.set(firm.code, { content, sealed });
        }
      }),
      { numRuns: 60 },
    );
  });

  it('signs a record once for many deliveries of it', async () => {
    const service = newService();
    const firm: Firm = { code: '91X', name: '丙', status: 'ACTIVE', capital: 2 };
    const seals = await Promise.all([1, 2, 3, 4].map(() => service.seal(DEPARTMENT, spec(), { ...firm }, { type: firmType, schema })));
    expect(service.stats.sealed).toBe(1);
    expect(service.stats.cached).toBe(3);
    for (const s of seals) expect(s).toBe(seals[0]);
  });

  it('refuses a field the type does not share, every time, also after sealing the type’s shared fields', async () => {
    const service = newService();
    const firm: Firm = { code: '91Y', name: '丁', status: 'ACTIVE', capital: 1, secret: 's' };
    await service.seal(DEPARTMENT, spec(), firm, { type: firmType, schema });
    for (let i = 0; i < 3; i++) {
      await expect(service.seal(DEPARTMENT, spec(true), firm, { type: firmType, schema })).rejects.toThrow(/would seal "secret", which Firm does not share \(NOT_SHARED\)/);
    }
    const unknown: SealSpec = { ...spec(), fields: (r: Firm) => ({ code: r.code, owner: 'x' }) };
    for (let i = 0; i < 2; i++) await expect(service.seal(DEPARTMENT, unknown, firm, { type: firmType, schema })).rejects.toThrow(/"owner", which is not a field of Firm/);
    expect(service.stats.sealed).toBe(1);
  });

  it('refuses a record without an id, cached seals or not', async () => {
    const service = newService();
    await service.seal(DEPARTMENT, spec(), { code: '91Z', name: 'a', status: 'ACTIVE', capital: 0 }, { type: firmType, schema });
    await expect(service.seal(DEPARTMENT, spec(), { code: '', name: 'a', status: 'ACTIVE', capital: 0 }, { type: firmType, schema })).rejects.toThrow(/recordId/);
  });
});

describe('one seal shared by subscribers with different masks', () => {
  const fields = ['code', 'name', 'status', 'capital'] as const;
  // Each subscriber's reply: a field shown, masked (another value), or not selected.
  const view = fc.constantFrom('shown', 'masked', 'absent');
  const views = fc.array(fc.tuple(view, view, view, view), { minLength: 1, maxLength: 5 });

  it('discloses to each subscriber exactly the values its own reply shows', async () => {
    const service = newService();
    await fc.assert(
      fc.asyncProperty(firmArb, views, async (firm, subscribers) => {
        const sealed = await service.seal(DEPARTMENT, spec(), firm, { type: firmType, schema });
        const tokens: string[] = [];
        for (const shown of subscribers) {
          const reply: Record<string, unknown> = {};
          fields.forEach((name, i) => {
            const value = firm[name];
            if (shown[i] === 'shown') reply[name] = value;
            else if (shown[i] === 'masked') reply[name] = typeof value === 'number' ? value + 100 : `${String(value).slice(0, 1)}***`;
          });
          reply.seal = { token: '' };
          presentSeals({ firm: reply }, { pending: [{ path: ['firm', 'seal'], sealed }] });
          const token = (reply.seal as { token: string }).token;
          tokens.push(token);
          const verified = verifySeal(token, { keyStore });
          expect(verified.valid).toBe(true);
          const expected: Record<string, unknown> = {};
          fields.forEach((name, i) => {
            if (shown[i] === 'shown') expected[name === 'status' ? 'recordStatus' : name] = firm[name];
          });
          expect(verified.disclosed).toEqual(expected);
        }
        // Every presentation carries the same issuer signature: one seal per record version.
        for (const token of tokens) expect(token.split('~')[0]).toBe(sealed.jwt);
      }),
      { numRuns: 100 },
    );
  });
});
