/**
 * 跨域通办 between two hubs in this process, over real sockets: hub A (Tai'an) puts hub B's
 * (Heze's) `person` and `property` behind its own as `hezePerson` and `hezeProperty`. A signed
 * query at A mixes A's own fields with B's; A asks B in one signed request as B's consumer, B's
 * departments' seals reach A's consumer and verify against B's keys (A withholds the disclosures
 * its masks change, and signs nothing); B down gives A's fields and a coded error naming B for
 * B's; B's policy refusing A gives POLICY_DENIED naming B, for B's fields only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { DEMO_POLICY } from '../../src/policy';
import { verifySeal } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-FED-001', operator: 'clerk-7' };
let a: TestHub;
let b: TestHub;
let dir: string;

/** A's policy: the demo policy, and the real-estate centre may read B's persons for property transfers. */
function policyOfA(): string {
  const policy = JSON.parse(JSON.stringify(DEMO_POLICY)) as { consumers: { id: string; grants: { fields: string[]; purposes?: string[] }[] }[] };
  const centre = policy.consumers.find((c) => c.id === 'real-estate-centre')!;
  centre.grants.push({ fields: ['Query.hezePerson', 'HezePerson.idNumber', 'HezePerson.name', 'HezePerson.taxRecords', 'HezeTaxpayer', 'HezeTaxPayment'], purposes: ['PROPERTY_TRANSFER'] });
  // A grants what B does not grant the centre (the fund account): B's refusal is B's to give.
  centre.grants.push({ fields: ['HezePerson.providentFund', 'HezeFundAccount.status'], purposes: ['PROPERTY_TRANSFER'] });
  const file = path.join(dir, 'policy-a.json');
  writeFileSync(file, JSON.stringify(policy));
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'datarun-federation-'));
  b = await startTestHub({ security: 'signed' });
  const schemaFile = path.join(dir, 'heze.graphql');
  writeFileSync(schemaFile, printSchemaWithDirectives(b.gateway.schema));
  a = await startTestHub({
    security: 'signed',
    policyFile: policyOfA(),
    connectors: {
      heze: {
        type: 'hub',
        url: `${b.url}/graphql`,
        hub: b.gateway.keyStore.hubId,
        // A is B's consumer "real-estate-centre" here; its key is B's demo key for it.
        consumer: 'real-estate-centre',
        keyFile: b.gateway.keyStore.privateKeyPath('real-estate-centre')!,
        prefix: 'Heze',
        fields: ['person', 'property'],
        schemaFile,
      },
    },
  });
}, 240_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  rmSync(dir, { recursive: true, force: true });
});

const QUERY = `query($unit: ID!, $seller: ID!) {
  property(unitNumber: $unit) { unitNumber address }
  seller: hezePerson(idNumber: $seller) {
    idNumber name
    taxRecords { hasArrears payments(taxType: DEED) { voucherNumber amount } seal { issuer keyId token } }
  }
}`;

describe('跨域通办: hub A puts hub B\'s persons behind its own', () => {
  it('answers A\'s and B\'s fields in one reply; B\'s seal passes through and verifies against B\'s keys', async () => {
    const unit = a.sandboxes.data.properties[0]!.unitNumber;
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const reply = await a.clientFor('real-estate-centre').query<any>(QUERY, { unit, seller }, TRANSFER);
    expect(reply.errors).toBeUndefined();
    expect(reply.data.property.unitNumber).toBe(unit);
    const direct = await b.clientFor('real-estate-centre').query<any>(
      'query($id: ID!) { person(idNumber: $id) { idNumber name taxRecords { hasArrears payments(taxType: DEED) { voucherNumber amount } } } }',
      { id: seller },
      TRANSFER,
    );
    expect(direct.errors).toBeUndefined();
    const { seal, ...records } = reply.data.seller.taxRecords;
    expect({ ...reply.data.seller, taxRecords: records }).toEqual(direct.data.person);
    expect(seal.issuer).toBe('tax');
    const verified = verifySeal(seal.token, { keyStore: b.gateway.keyStore });
    expect(verified).toMatchObject({ valid: true, issuer: 'tax' });
    // A's keys do not know B's department keys: a seal A had made would verify there.
    expect(verifySeal(seal.token, { keyStore: a.gateway.keyStore })).toMatchObject({ valid: false });
  });

  it('answers A\'s fields and POLICY_DENIED naming B, for B\'s fields only, when B\'s policy refuses', async () => {
    const unit = a.sandboxes.data.properties[1]!.unitNumber;
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const reply = await a.clientFor('real-estate-centre').query<any>(
      'query($unit: ID!, $seller: ID!) { property(unitNumber: $unit) { unitNumber } seller: hezePerson(idNumber: $seller) { name providentFund { status } } }',
      { unit, seller },
      { ...TRANSFER, caseNumber: 'BDC-2026-FED-002' },
    );
    expect(reply.data.property.unitNumber).toBe(unit);
    expect(reply.data.seller).toBeNull();
    expect(reply.errors).toHaveLength(1);
    expect(reply.errors![0]).toMatchObject({ path: ['seller'], extensions: { code: 'POLICY_DENIED', hub: b.gateway.keyStore.hubId } });
    expect(reply.errors![0]!.message).toContain(`peer hub ${b.gateway.keyStore.hubId}`);
  });

  it('answers A\'s fields and CONNECTOR_UNAVAILABLE naming B when B is down', async () => {
    await b.server.close();
    const unit = a.sandboxes.data.properties[2]!.unitNumber;
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const reply = await a.clientFor('real-estate-centre').query<any>(QUERY, { unit, seller }, { ...TRANSFER, caseNumber: 'BDC-2026-FED-003' });
    expect(reply.data.property.unitNumber).toBe(unit);
    expect(reply.data.seller).toBeNull();
    expect(reply.errors).toEqual([expect.objectContaining({ path: ['seller'], extensions: expect.objectContaining({ code: 'CONNECTOR_UNAVAILABLE' }) })]);
    expect(reply.errors![0]!.message).toContain('heze');
  });

});
