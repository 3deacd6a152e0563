/**
 * What leaves the hub, over HTTP, with a sharing policy in which the real-estate centre sees the
 * names and identity numbers of persons masked: an alias that one union branch gives to
 * `__typename` and another to a masked field cannot steer the mask; the reply bytes and every seal
 * disclosure hold masked values only; no seal's `sub` carries an identifier; and the access record
 * names every owner the reply carried.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAuditLogReader } from '../../src/audit';
import { auditSubjectSecret } from '../../src/gateway';
import { DEMO_POLICY } from '../../src/policy';
import { verifySeal } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-MASK-1', operator: '窗口-测试' };
let hub: TestHub;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'datarun-policy-'));
  const policy = structuredClone(DEMO_POLICY) as { consumers: { id: string; grants?: { mask?: string[] }[] }[] };
  policy.consumers.find((c) => c.id === 'real-estate-centre')!.grants![2]!.mask = ['NAME', 'ID_NUMBER'];
  const file = path.join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  hub = await startTestHub({ security: 'signed', policyFile: file });
});
afterAll(async () => {
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

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
  const reader = await openAuditLogReader({ dir: path.join(hub.keysDir, 'audit'), subjectKeySecret: auditSubjectSecret(hub.keysDir) });
  const records = [];
  for await (const r of reader.records({})) if (r.caseNumber === TRANSFER.caseNumber) records.push(r);
  await reader.close();
  expect(records).toHaveLength(1);
  expect(records[0]!.subjects.map((s) => s.kind).sort()).toEqual(['PROPERTY', ...property.owners.map((o) => o.kind)].sort());
});
