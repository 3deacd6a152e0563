/**
 * Every record a peer hub answers is checked against its seal, selected or not: the document
 * asked of the peer selects each sealed object's seal (a check of its own, taken out again), and
 * a record whose data disagrees with its seal, whose seal does not verify, or that comes unsealed
 * becomes an error naming the peer. The peer here is played by graphql-js over the peer's SDL,
 * with real seals cut to its reply as a hub cuts them (`presentSeals`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { buildASTSchema, defaultFieldResolver, execute, parse, type FieldNode, type GraphQLFieldResolver, type OperationDefinitionNode } from 'graphql';
import { forwardDocument, isSealCheck } from '../../../src/gateway/federation/forward';
import { derivePeerSchema } from '../../../src/gateway/federation/peer-schema';
import { verifyPeerValue, type PeerReplyCheck } from '../../../src/gateway/federation/verify-reply';
import { presentSeals, type SealRegistry } from '../../../src/gateway/seals';
import { HubError } from '../../../src/sdk';
import { createKeyStore, createSealer, verifySeal, type KeyStore, type SealedRecord } from '../../../src/seal';
import { WITH_DEPARTMENTS } from '../../support/keys';

const SHARE = '@share(class: "CONDITIONAL", purposes: ["PROPERTY_TRANSFER"], department: "tax", updateCycle: "DAILY")';
const OPEN = '@share(class: "UNCONDITIONAL", department: "seal", updateCycle: "REAL_TIME")';
const PEER_SDL = `
directive @share(class: String!, purposes: [String!], department: String!, updateCycle: String!, sensitivity: String) on FIELD_DEFINITION
type Query { person(idNumber: ID!): Person ${SHARE} }
type Person {
  idNumber: ID! ${SHARE}
  name: String ${SHARE}
  taxRecords: Taxpayer ${SHARE}
  dealings: [Dealing!]! ${SHARE}
}
type Taxpayer {
  hasArrears: Boolean! ${SHARE}
  rating: String ${SHARE}
  payments: [Payment!]! ${SHARE}
  seal: Seal ${OPEN}
}
type Payment {
  amount: Int! ${SHARE}
  voucher: String ${SHARE}
  seal: Seal ${OPEN}
}
type Refund { refunded: Int! ${SHARE} }
union Dealing = Payment | Refund
type Seal {
  token: String! ${OPEN}
  issuer: String! ${OPEN}
  keyId: String! ${OPEN}
}
`;
const peer = derivePeerSchema({ connector: 'heze', prefix: 'Heze', rootFields: ['person'], sdl: PEER_SDL });
const hubSchema = buildASTSchema(parse(`directive @share(class: String!, purposes: [String!], department: String!, updateCycle: String!, sensitivity: String) on FIELD_DEFINITION\ntype Query { ping: String }\n${peer.typeDefs}`));

let dir: string;
let keys: KeyStore;
let sealer: ReturnType<typeof createSealer>;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'datarun-peer-verify-'));
  keys = await createKeyStore(dir, WITH_DEPARTMENTS);
  sealer = createSealer({ keyStore: keys });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Each record sealed once (as a hub keeps its seals), by record id. */
const sealedOnce = new Map<string, SealedRecord>();
const sealOf = (recordType: string, recordId: string, fields: Record<string, unknown>): SealedRecord => {
  let sealed = sealedOnce.get(recordId);
  if (!sealed) sealedOnce.set(recordId, (sealed = sealer.sealRecord({ department: 'tax', recordType, recordId, fields })));
  return sealed;
};

/** The peer's records, each sealed object with its seal. */
function records(): { person: Record<string, unknown>; seals: Map<object, SealedRecord> } {
  const seals = new Map<object, SealedRecord>();
  const payment = (amount: number, voucher: string) => {
    const p = { __typename: 'Payment', amount, voucher };
    seals.set(p, sealOf('TaxPayment', voucher, { amount, voucher }));
    return p;
  };
  const payments = [payment(10, 'V-1'), payment(20, 'V-2')];
  const taxRecords = { hasArrears: false, rating: 'A', payments };
  seals.set(taxRecords, sealOf('Taxpayer', 'T-1', { hasArrears: false, rating: 'A' }));
  const person = { idNumber: '371702199001011234', name: '王芳', taxRecords, dealings: [payments[0], { __typename: 'Refund', refunded: 5 }] };
  return { person, seals };
}

/** The peer answering a forwarded document as a hub does: its records, their seals cut to the reply. */
async function peerAnswers(query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { person, seals } = records();
  const registry: SealRegistry = { pending: [] };
  const fieldResolver: GraphQLFieldResolver<unknown, unknown> = (source, args, ctx, info) => {
    if (info.fieldName !== 'seal') return defaultFieldResolver(source, args, ctx, info);
    const sealed = seals.get(source as object)!;
    const at: (string | number)[] = [];
    for (let p: typeof info.path | undefined = info.path; p; p = p.prev) at.unshift(p.key);
    registry.pending.push({ path: at, sealed });
    return { token: '', issuer: sealed.department, keyId: sealed.keyId };
  };
  const result = await execute({ schema: peer.remote, document: parse(query), variableValues: variables, rootValue: { person: () => person }, fieldResolver });
  expect(result.errors).toBeUndefined();
  presentSeals(result.data, registry);
  return JSON.parse(JSON.stringify(result.data)) as Record<string, unknown>;
}

/** This hub's check: the peer's keys, errors naming the peer. */
const check = (verify?: PeerReplyCheck['verify']): PeerReplyCheck => ({
  remote: peer.remote,
  verify:
    verify ??
    (async (token) => {
      const v = verifySeal(token, { keyStore: keys });
      return v.valid ? { valid: true, issuer: v.issuer, keyId: v.keyId, algorithm: v.algorithm, issuedAt: v.issuedAt, recordType: v.recordType, disclosed: v.disclosed } : { valid: false, problem: v.reason };
    }),
  invalid: (problem) => new HubError('UPSTREAM_INVALID_RESPONSE', `peer hub heze (heze): ${problem}`, { hub: 'heze' }),
});

/** The document asked of the peer for a query at this hub (one root field `hezePerson`). */
function forward(query: string) {
  const document = parse(query);
  const operation = document.definitions[0] as OperationDefinitionNode;
  const node = operation.selectionSet.selections[0] as FieldNode;
  return forwardDocument([{ remoteField: 'person', node, typeName: 'HezePerson' }], {
    schema: hubSchema,
    fragments: {},
    operation,
    variableValues: {},
    remoteNames: peer.remoteNames,
    sealedTypes: new Set(peer.sealedTypes),
  });
}

/** Asks the peer (through `tamper`) and checks its reply as the connector does. */
async function ask(query: string, tamper: (reply: any) => void = () => undefined): Promise<{ value: any; asked: string }> {
  const forwarded = forward(query);
  const reply = await peerAnswers(forwarded.query, forwarded.variables);
  tamper(reply.f0);
  return { value: await verifyPeerValue(reply.f0, forwarded.fields[0]!, check()), asked: forwarded.query };
}

/** Errors anywhere in a checked value. */
function errorsIn(value: unknown): HubError[] {
  if (value instanceof HubError) return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value as object).flatMap(errorsIn);
}

describe('a peer hub\'s reply, checked against its seals', () => {
  it('asks the seal of every sealed object, under a key the caller\'s selection does not use, and takes it out of the verified reply', async () => {
    const forwarded = forward('{ hezePerson(idNumber: "x") { name taxRecords { datarunSealCheck: rating hasArrears payments { amount } } } }');
    expect(forwarded.query.replace(/\s+/g, ' ')).toContain('taxRecords { datarunSealCheck: rating hasArrears payments { amount datarunSealCheck: seal { token } } datarunSealCheck1: seal { token } }');
    const checks: FieldNode[] = [];
    const find = (node: FieldNode): void => {
      if (isSealCheck(node)) checks.push(node);
      for (const s of node.selectionSet?.selections ?? []) if (s.kind === 'Field') find(s);
    };
    find(forwarded.fields[0]!);
    expect(checks).toHaveLength(2);
    // Under a union, per sealed possible type.
    expect(forward('{ hezePerson(idNumber: "x") { dealings { ... on HezeRefund { refunded } } } }').query.replace(/\s+/g, ' ')).toContain('dealings { ... on Refund { refunded } __typename ... on Payment { datarunSealCheck: seal { token } } }');

    const { value } = await ask('{ hezePerson(idNumber: "x") { name taxRecords { datarunSealCheck: rating hasArrears payments { amount } } dealings { ... on HezeRefund { refunded } } } }');
    expect(errorsIn(value)).toEqual([]);
    expect(value).toEqual({ name: '王芳', taxRecords: { datarunSealCheck: 'A', hasArrears: false, payments: [{ amount: 10 }, { amount: 20 }] }, dealings: [{ __typename: 'Payment' }, { __typename: 'Refund', refunded: 5 }] });
  });

  it('refuses, naming the peer, a record whose data is not what its seal discloses, though the caller did not select seal', async () => {
    const { value } = await ask('{ hezePerson(idNumber: "x") { name taxRecords { hasArrears payments { amount } } } }', (r) => {
      r.taxRecords.hasArrears = true;
    });
    expect(value.name).toBe('王芳');
    expect(value.taxRecords).toBeInstanceOf(HubError);
    expect(value.taxRecords).toMatchObject({ code: 'UPSTREAM_INVALID_RESPONSE', extensions: { hub: 'heze' } });
    expect(value.taxRecords.message).toBe('peer hub heze (heze): a Taxpayer record came with a value of hasArrears other than the one its seal discloses');
  });

  it('refuses an unsealed record, a seal that does not verify, and a seal whose shown key id is not its token\'s', async () => {
    const q = '{ hezePerson(idNumber: "x") { taxRecords { hasArrears payments { amount seal { keyId } } } } }';
    const unsealed = await ask(q, (r) => {
      delete r.taxRecords.datarunSealCheck;
    });
    expect(unsealed.value.taxRecords.message).toContain('a Taxpayer record came without its seal');
    const forged = await ask(q, (r) => {
      const [h, p, s] = (r.taxRecords.payments[1].datarunSealCheck.token as string).split('~')[0]!.split('.');
      r.taxRecords.payments[1].datarunSealCheck.token = `${h}.${p}.${s!.slice(0, -4)}AAAA~`;
    });
    expect(forged.value.taxRecords.payments[0]).toEqual({ amount: 10, seal: { keyId: expect.any(String) } });
    expect(forged.value.taxRecords.payments[1].message).toMatch(/a Payment record came with a seal that does not verify against the peer hub's keys \(BAD_SIGNATURE\)/);
    const relabelled = await ask(q, (r) => {
      r.taxRecords.payments[0].seal.keyId = 'tax.seal.other';
    });
    expect(relabelled.value.taxRecords.payments[0].message).toContain('a Payment record came with a seal whose keyId is not the one its token carries');
    const notAnObject = await ask(q, (r) => {
      r.taxRecords = 'yes';
    });
    expect(notAnObject.value.taxRecords.message).toContain('answered string where a Taxpayer was asked for');
  });

  it('gives every random selection, with or without seal, the peer\'s data verified, or an error naming the peer where the reply was changed', async () => {
    const taxFields = fc.subarray(['hasArrears', 'rating', 'aliased: rating', 'seal { token }', 'seal { issuer keyId }', 'shown: seal { token keyId }']);
    const paymentFields = fc.subarray(['amount', 'voucher', 'seal { token }', 'seal { keyId }', 'v: voucher']);
    const tamper = fc.constantFrom('none', 'hasArrears', 'rating', 'amount', 'voucher', 'drop-seal', 'swap-seals');
    await fc.assert(
      fc.asyncProperty(taxFields, paymentFields, tamper, async (tax, pay, how) => {
        const payments = pay.length > 0 ? `payments { ${pay.join(' ')} }` : '';
        const selection = [...tax, payments].join(' ');
        if (selection.trim() === '') return;
        const query = `{ hezePerson(idNumber: "x") { name taxRecords { ${selection} } } }`;
        const honest = await ask(query);
        expect(errorsIn(honest.value)).toEqual([]);
        expect(JSON.stringify(honest.value)).not.toContain('datarunSealCheck');
        let changed = false;
        const { value } = await ask(query, (r) => {
          const t = r.taxRecords;
          const p0 = t.payments?.[0];
          if (how === 'hasArrears' && 'hasArrears' in t) (t.hasArrears = !t.hasArrears), (changed = true);
          if (how === 'rating' && 'rating' in t) (t.rating = 'C'), (changed = true);
          if (how === 'amount' && p0 && 'amount' in p0) (p0.amount += 1), (changed = true);
          if (how === 'voucher' && p0 && 'voucher' in p0) (p0.voucher = 'V-9'), (changed = true);
          if (how === 'drop-seal') for (const k of Object.keys(t)) if (k.startsWith('datarunSealCheck') && typeof t[k] === 'object') (t[k] = null), (changed = true);
          if (how === 'swap-seals' && p0 && t.payments[1]) {
            const key = Object.keys(p0).find((k) => k.startsWith('datarunSealCheck'))!;
            [p0[key], t.payments[1][key]] = [t.payments[1][key], p0[key]];
            changed = p0.amount !== undefined || p0.voucher !== undefined;
          }
        });
        const errors = errorsIn(value);
        if (!changed) {
          expect(errors).toEqual([]);
          expect(value).toEqual(honest.value);
        } else {
          expect(errors.length).toBeGreaterThan(0);
          for (const e of errors) expect(e).toMatchObject({ code: 'UPSTREAM_INVALID_RESPONSE', extensions: { hub: 'heze' } });
          // What is served is the honest reply's, never the changed value.
          const served = JSON.stringify(value, (_, v) => (v instanceof HubError ? undefined : v));
          expect(served).not.toMatch(/"V-9"|"rating":"C"/);
        }
      }),
      { numRuns: 60 },
    );
  });
});
