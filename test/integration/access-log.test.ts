import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { verifyAuditLog } from '../../src/audit';
import { propertyTransferExample } from '../../src/cli/examples';
import { auditVerifier } from '../../src/gateway/audit';
import { createConsentSigner, type PrivateJwk } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-000777', operator: '窗口-王芳' };
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-0012', operator: '审计员-赵强' };
const VIEW = { purpose: 'CITIZEN_ACCESS_VIEW', caseNumber: 'YC-2026-0099', operator: '窗口-陈静' };

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ security: 'signed' });
});
afterAll(async () => {
  await hub?.close();
});

function consent(subject: string, purpose: string): string {
  const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('one-window-hall')!, 'utf8')) as PrivateJwk;
  return createConsentSigner({ issuer: 'one-window-hall', privateJwk: jwk }).sign({ subject, purpose, expiresAt: Date.now() + 600_000 });
}

const RECORD_FIELDS = 'seq requestId consumer operator purpose caseNumber outcome errorCodes subjects { kind mask } fields { department coordinates } replyHash receiptId hash';

async function auditorReads(filter: Record<string, unknown>, first = 50): Promise<any[]> {
  const reply = await hub.clientFor('auditor').query<any>(`query($f: AccessLogFilter, $n: Int) { accessLog(filter: $f, first: $n) { edges { node { ${RECORD_FIELDS} } } pageInfo { hasNextPage } } }`, { f: filter, n: first }, AUDIT);
  expect(reply.errors).toBeUndefined();
  return reply.data.accessLog.edges.map((e: any) => e.node);
}

describe('the access log', () => {
  it('records a granted request before its reply, with the seq the receipt carries and no values', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const client = hub.clientFor('real-estate-centre');
    const reply = await client.query<any>('query T($u: ID!, $b: ID!) { property(unitNumber: $u) { address mortgages { status } } buyer: person(idNumber: $b) { name } }', { u: v.unitNumber, b: v.buyer }, { ...TRANSFER, operationName: 'T' });
    expect(reply.status).toBe(200);
    const verified = await client.verifyReply(reply);
    if (!verified.valid) throw new Error(`receipt did not verify: ${verified.reason}`);
    const receipt = verified.receipt;
    const seq = receipt.auditSeq!;
    expect(seq).toBeGreaterThan(0);

    const [record] = (await auditorReads({ caseNumber: TRANSFER.caseNumber })).filter((r) => r.seq === seq);
    expect(record).toMatchObject({
      consumer: 'real-estate-centre',
      operator: '窗口-王芳',
      purpose: 'PROPERTY_TRANSFER',
      outcome: 'GRANTED',
      errorCodes: [],
      fields: [{ department: 'real-estate', coordinates: ['Mortgage.status', 'Property.address', 'Property.mortgages'] }, { department: 'social-security', coordinates: ['Person.name'] }],
    });
    expect(record.receiptId).toBe(receipt.requestId);
    expect(record.subjects.map((s: any) => s.kind).sort()).toEqual(['PERSON', 'PROPERTY']);
    // Masked identifiers, and no value of the reply anywhere in the record.
    const text = JSON.stringify(record);
    expect(text).not.toContain(v.buyer);
    expect(text).not.toContain(v.unitNumber);
    expect(text).not.toContain(reply.data.property.address);
    expect(record.subjects.find((s: any) => s.kind === 'PERSON').mask).toBe(`${v.buyer.slice(0, 6)}********${v.buyer.slice(14)}`);
  });

  it('records denied, unauthenticated and failed requests too', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const denied = await hub.clientFor('real-estate-centre').query<any>('query($b: ID!) { person(idNumber: $b) { socialInsurance { scheme } } }', { b: v.buyer }, { ...TRANSFER, caseNumber: 'BDC-DENIED-1' });
    expect(denied.status).toBe(403);
    hub.sandboxes.sandboxes.tax.control.setFaults({ mode: 'down' });
    const partial = await hub.clientFor('real-estate-centre').query<any>('query($b: ID!) { person(idNumber: $b) { name taxRecords { hasArrears } } }', { b: v.buyer }, { ...TRANSFER, caseNumber: 'BDC-PARTIAL-1' });
    hub.sandboxes.sandboxes.tax.control.reset();
    expect(partial.data.person.taxRecords).toBeNull();
    await hub.query('{ __typename }');

    const [d] = await auditorReads({ caseNumber: 'BDC-DENIED-1' });
    expect(d).toMatchObject({ outcome: 'DENIED', errorCodes: ['POLICY_DENIED'], consumer: 'real-estate-centre', replyHash: null });
    const [p] = await auditorReads({ caseNumber: 'BDC-PARTIAL-1' });
    expect(p).toMatchObject({ outcome: 'PARTIAL', errorCodes: ['CONNECTOR_UNAVAILABLE'] });
    const [u] = await auditorReads({ outcome: 'DENIED' }, 1);
    expect(u).toMatchObject({ consumer: null, errorCodes: ['UNAUTHENTICATED'] });
  });

  it('finds the accesses to one subject from the index, by exact identifier', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const records = await auditorReads({ subject: { kind: 'PERSON', id: v.buyer } });
    expect(records.length).toBeGreaterThanOrEqual(2);
    expect(records.every((r) => r.subjects.some((s: any) => s.mask === `${v.buyer.slice(0, 6)}********${v.buyer.slice(14)}`))).toBe(true);
    const seqs = records.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
  });

  it('keeps the roles apart: data consumers cannot read the log, the auditor reads no department data', async () => {
    const consumer = await hub.clientFor('real-estate-centre').query<any>('{ accessLog { edges { node { seq } } } }', undefined, TRANSFER);
    expect(consumer.status).toBe(403);
    expect(consumer.errors![0]!.extensions).toMatchObject({ code: 'POLICY_DENIED', denied: expect.arrayContaining(['Query.accessLog']) });
    const auditor = await hub.clientFor('auditor').query<any>('{ person(idNumber: "11010519491231002X") { name } }', undefined, AUDIT);
    expect(auditor.status).toBe(403);
  });

  it('shows a citizen who accessed their data, with their consent, and nothing about other subjects', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const other = hub.sandboxes.data.persons.find((p) => p.idNumber !== v.buyer)!.idNumber;
    // One request about the buyer and another person together, one under a confidential purpose.
    await hub.clientFor('real-estate-centre').query<any>('query($a: ID!, $b: ID!) { a: person(idNumber: $a) { name } b: person(idNumber: $b) { name } }', { a: v.buyer, b: other }, { ...TRANSFER, caseNumber: 'BDC-TWO-SUBJECTS' });
    const secret = await hub.clientFor('tax-bureau').query<any>('query($a: ID!) { person(idNumber: $a) { name } }', { a: v.buyer }, { purpose: 'INVESTIGATION', caseNumber: 'JC-2026-SECRET', operator: '稽查-孙' });
    expect(secret.status).toBe(200);

    const query = 'query($id: ID!) { dataAccesses(idNumber: $id, first: 100) { edges { node { time consumer purpose caseNumber departments outcome } } } }';
    const without = await hub.clientFor('one-window-hall').query<any>(query, { id: v.buyer }, VIEW);
    expect(without.status).toBe(403);
    expect(without.errors![0]!.extensions!.missingConsent).toHaveLength(1);

    const reply = await hub.clientFor('one-window-hall').query<any>(query, { id: v.buyer }, { ...VIEW, consents: [consent(v.buyer, 'CITIZEN_ACCESS_VIEW')] });
    expect(reply.errors).toBeUndefined();
    const nodes = reply.data.dataAccesses.edges.map((e: any) => e.node);
    expect(nodes.map((n: any) => n.caseNumber)).toContain('BDC-TWO-SUBJECTS');
    expect(nodes.map((n: any) => n.caseNumber)).not.toContain('JC-2026-SECRET');
    expect(nodes.find((n: any) => n.caseNumber === 'BDC-TWO-SUBJECTS')).toMatchObject({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', departments: ['social-security'] });
    expect(JSON.stringify(reply.data)).not.toContain(other);
    expect(JSON.stringify(reply.data)).not.toContain(other.slice(14));
  });

  it('verifies with `datarun audit verify`, checkpoints included', async () => {
    await hub.gateway.audit!.checkpoint();
    const report = await verifyAuditLog({ dir: path.join(hub.keysDir, 'audit'), verify: auditVerifier({ keyStore: hub.gateway.keyStore }) });
    expect(report).toMatchObject({ ok: true });
    expect(report.checkpoints).toBeGreaterThan(0);
  });
});

describe('no audit, no data', () => {
  it('answers AUDIT_UNAVAILABLE (503) and sends no data when the disk holding the log is full', async () => {
    const own = await startTestHub({ security: 'signed' });
    const disk = path.join(own.keysDir, 'full-disk');
    mkdirSync(disk);
    try {
      // A tiny file system of its own, filled up: writes fail with ENOSPC, as on a full disk.
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
      const v = propertyTransferExample(own.sandboxes.data);
      const client = own.clientFor('real-estate-centre');
      const q = 'query($u: ID!) { property(unitNumber: $u) { address } }';
      expect((await client.query<any>(q, { u: v.unitNumber }, TRANSFER)).status).toBe(200);

      // The hub's log, opened on the small file system, which then fills up.
      const { openHubAuditLog, auditSubjectSecret } = await import('../../src/gateway/audit');
      await own.gateway.audit!.close();
      const full = await openHubAuditLog({ dir: disk, instanceId: 'test-hub', keyStore: own.gateway.keyStore, policy: own.gateway.policy, confidentialPurposes: [], subjectKeySecret: auditSubjectSecret(own.keysDir) });
      (own.gateway as { audit: unknown }).audit = full;
      try {
        writeFileSync(path.join(disk, 'filler'), Buffer.alloc(64 * 1024));
      } catch {
        // ENOSPC: the disk is now full.
      }

      own.resetSandboxes();
      const reply = await client.query<any>(q, { u: v.unitNumber }, TRANSFER);
      expect(reply.status).toBe(503);
      expect(reply.data).toBeUndefined();
      expect(reply.errors).toEqual([{ message: 'The access log cannot be written: no data is sent without its record.', extensions: { code: 'AUDIT_UNAVAILABLE' } }]);
      expect(reply.receipt).toBeUndefined();
      const ready = await fetch(`${own.url}/readyz`);
      expect(ready.status).toBe(503);
      await full.close().catch(() => undefined);
    } finally {
      try {
        execFileSync('umount', [disk]);
      } catch {
        // not mounted
      }
      rmSync(disk, { recursive: true, force: true });
      (own.gateway as { audit: unknown }).audit = undefined;
      await own.close();
    }
  });
});
