/**
 * What leaves the hub, over HTTP, with a sharing policy in which the real-estate centre sees the
 * names and identity numbers of persons masked: an alias that one union branch gives to
 * `__typename` and another to a masked field cannot steer the mask; the reply bytes and every seal
 * disclosure hold masked values only; no seal's `sub` carries an identifier; and the access record
 * names every owner the reply carried.
 *
 * The same policy makes the tax inspection purpose require the consent of every person whose data
 * the reply carries: a co-owner reached through `Property.owners` without a consent of theirs is
 * withheld (the link is null, with MISSING_CONSENT at its path), yet named in the access record.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSubjectKeyer, openAuditLogReader } from '../../src/audit';
import { auditSubjectSecret } from '../../src/gateway';
import { DEMO_POLICY } from '../../src/policy';
import { createConsentSigner, verifySeal, type PrivateJwk } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-MASK-1', operator: '窗口-测试' };
let hub: TestHub;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'datarun-policy-'));
  const policy = structuredClone(DEMO_POLICY) as { purposes: { code: string; requiresConsent?: boolean }[]; consumers: { id: string; grants?: { mask?: string[] }[] }[] };
  policy.consumers.find((c) => c.id === 'real-estate-centre')!.grants![2]!.mask = ['NAME', 'ID_NUMBER'];
  policy.purposes.find((p) => p.code === 'INVESTIGATION')!.requiresConsent = true;
  const file = path.join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  hub = await startTestHub({ security: 'signed', policyFile: file });
});
afterAll(async () => {
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function recordOf(caseNumber: string) {
  const reader = await openAuditLogReader({ dir: path.join(hub.keysDir, 'audit'), subjectKeySecret: auditSubjectSecret(hub.keysDir) });
  const records = [];
  for await (const r of reader.records({})) if (r.caseNumber === caseNumber) records.push(r);
  await reader.close();
  return records;
}

it('masks by type whatever the aliases, discloses nothing raw in seals or subs, and records every owner', async () => {
  const property = hub.sandboxes.data.properties.find((p) => p.owners.some((o) => o.kind === 'PERSON') && p.owners.some((o) => o.kind === 'ENTERPRISE'))
    ?? hub.sandboxes.data.properties.find((p) => p.owners.some((o) => o.kind === 'PERSON'))!;
  const persons = property.owners.filter((o) => o.kind === 'PERSON').map((o) => hub.sandboxes.data.persons.find((p) => p.idNumber === o.ownerId)!);
  const query = `query($u: ID!) { property(unitNumber: $u) { owners { owner {
    ... on Person { t: name idNumber taxRecords { hasArrears seal { token } } }
    ... on Enterprise { t: __typename }
  } } seal { token } } }`;
  const reply = await hub.clientFor('real-estate-centre').query<any>(query, { u: property.unitNumber }, TRANSFER);
  expect(reply.errors).toBeUndefined();
  expect(reply.status).toBe(200);
  const text = JSON.stringify(reply.data);
  for (const person of persons) {
    expect(text).not.toContain(person.name);
    expect(text).not.toContain(person.idNumber);
  }
  expect(reply.extensions?.masked).toEqual(expect.arrayContaining(['property.owners.0.owner.t']));
  // Seals: nothing disclosed that the reply masks, and no identifier in any sub.
  const tokens = [reply.data.property.seal.token, ...reply.data.property.owners.map((o: any) => o.owner.taxRecords?.seal?.token).filter(Boolean)];
  const jwks = hub.gateway.keyStore.publicJwks();
  for (const token of tokens) {
    const verified = verifySeal(token, { jwks: jwks as never }) as { valid: boolean; subject: string; disclosed: Record<string, unknown> };
    expect(verified.valid).toBe(true);
    const seen = JSON.stringify(verified);
    for (const person of persons) {
      expect(seen).not.toContain(person.name);
      expect(seen).not.toContain(person.idNumber);
    }
    expect(verified.subject).toMatch(/^[A-Za-z0-9_-]{43}$/);
  }
  // The record names the property and every owner the reply carried.
  const records = await recordOf(TRANSFER.caseNumber);
  expect(records).toHaveLength(1);
  expect(records[0]!.subjects.map((s) => s.kind).sort()).toEqual(['PROPERTY', ...property.owners.map((o) => o.kind)].sort());
});

describe('consent for every person the reply carries, over HTTP', () => {
  const QUERY = `query($id: ID!) { person(idNumber: $id) { name properties { unitNumber owners { owner {
    ... on Person { idNumber name }
    ... on Enterprise { creditCode }
  } } } } }`;
  const consentsFor = (subjects: string[]): string[] => {
    const privateJwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('citizen-identity')!, 'utf8')) as PrivateJwk;
    const signer = createConsentSigner({ issuer: 'citizen-identity', privateJwk });
    return subjects.map((subject) => signer.sign({ subject, purpose: 'INVESTIGATION', expiresAt: Date.now() + 600_000 }));
  };
  const coOwned = () => {
    const data = hub.sandboxes.data;
    const property = data.properties.find((p) => p.owners.filter((o) => o.kind === 'PERSON').length >= 2)!;
    const [root, other] = property.owners.filter((o) => o.kind === 'PERSON').map((o) => data.persons.find((p) => p.idNumber === o.ownerId)!);
    return { property, root: root!, other: other! };
  };

  it('withholds a co-owner reached through Property.owners without their consent: null, MISSING_CONSENT, yet recorded', async () => {
    const { property, root, other } = coOwned();
    const context = { purpose: 'INVESTIGATION', caseNumber: 'JC-CONSENT-1', operator: '稽查-王', consents: consentsFor([root.idNumber]) };
    const reply = await hub.clientFor('tax-bureau').query<any>(QUERY, { id: root.idNumber }, context);
    expect(reply.status).toBe(200);
    expect(reply.data.person.name).toBe(root.name);
    const owners = reply.data.person.properties.find((p: any) => p.unitNumber === property.unitNumber).owners.map((o: any) => o.owner);
    expect(owners).toContainEqual({ idNumber: root.idNumber, name: root.name });
    expect(owners).toContainEqual(null);
    const text = JSON.stringify(reply);
    expect(text).not.toContain(other.idNumber);
    expect(text).not.toContain(other.name);
    expect(reply.errors).toEqual(expect.arrayContaining([expect.objectContaining({ extensions: expect.objectContaining({ code: 'MISSING_CONSENT' }) })]));
    expect(reply.errors!.every((e) => (e.extensions as { code: string }).code === 'MISSING_CONSENT')).toBe(true);
    // Withheld, but reached: the record names the co-owner, so their own view of accesses shows it.
    const [record] = await recordOf(context.caseNumber);
    const keyer = createSubjectKeyer(auditSubjectSecret(hub.keysDir));
    expect(record!.subjects.map((s) => s.key)).toEqual(expect.arrayContaining([root, other].map((p) => keyer.key({ kind: 'PERSON', id: p.idNumber }))));
  });

  it('shows the co-owner once their consent is sent too', async () => {
    const { property, root, other } = coOwned();
    const context = { purpose: 'INVESTIGATION', caseNumber: 'JC-CONSENT-2', operator: '稽查-王', consents: consentsFor([root.idNumber, other.idNumber]) };
    const reply = await hub.clientFor('tax-bureau').query<any>(QUERY, { id: root.idNumber }, context);
    expect(reply.errors).toBeUndefined();
    const owners = reply.data.person.properties.find((p: any) => p.unitNumber === property.unitNumber).owners.map((o: any) => o.owner);
    expect(owners).toContainEqual({ idNumber: other.idNumber, name: other.name });
  });
});
