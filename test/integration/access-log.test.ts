import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { verifyAuditLog } from '../../src/audit';
import { propertyTransferExample } from '../../src/cli/examples';
import { auditVerifier } from '../../src/gateway/audit';
import { createConsentSigner, createRequestSigner, type PrivateJwk } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';
import { eventually } from '../support/redis';

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
  // The citizen identity platform signs the citizen's consent; the hall never signs the consent it uses itself.
  const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('citizen-identity')!, 'utf8')) as PrivateJwk;
  return createConsentSigner({ issuer: 'citizen-identity', privateJwk: jwk }).sign({ subject, purpose, expiresAt: Date.now() + 600_000 });
}

const RECORD_FIELDS = 'seq requestId correlationId source hashed count windowFrom windowTo consumer operator purpose caseNumber outcome errorCodes subjects { kind mask } fields { department coordinates } replyHash receiptId hash';

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
    hub.sandboxes.sandboxes.tax!.control.setFaults({ mode: 'down' });
    const partial = await hub.clientFor('real-estate-centre').query<any>('query($b: ID!) { person(idNumber: $b) { name taxRecords { hasArrears } } }', { b: v.buyer }, { ...TRANSFER, caseNumber: 'BDC-PARTIAL-1' });
    hub.sandboxes.sandboxes.tax!.control.reset();
    expect(partial.data.person.taxRecords).toBeNull();
    // Unsigned: refused before authentication, so counted in its source's aggregate for that second.
    await hub.query('{ __typename }');

    const [d] = await auditorReads({ caseNumber: 'BDC-DENIED-1' });
    expect(d).toMatchObject({ outcome: 'DENIED', errorCodes: ['POLICY_DENIED'], consumer: 'real-estate-centre', replyHash: null });
    const [p] = await auditorReads({ caseNumber: 'BDC-PARTIAL-1' });
    expect(p).toMatchObject({ outcome: 'PARTIAL', errorCodes: ['CONNECTOR_UNAVAILABLE'] });
    // The aggregate is written once its second has closed.
    let u: any;
    await eventually(async () => {
      u = (await auditorReads({ outcome: 'DENIED' })).find((r) => r.errorCodes.includes('UNAUTHENTICATED'));
      return u !== undefined;
    }, 'the aggregate record of the unsigned request');
    expect(u).toMatchObject({ consumer: null, source: '127.0.0.1', count: 1, errorCodes: ['MISSING', 'UNAUTHENTICATED'], outcome: 'DENIED' });
    expect(Date.parse(u.windowTo) - Date.parse(u.windowFrom)).toBe(1000);
  });

  it('records every person and enterprise the reply carries as a subject, however the query reached them', async () => {
    const property = hub.sandboxes.data.properties.find((p) => p.owners.length > 0 && p.transfers.length > 0)!;
    const reply = await hub
      .clientFor('real-estate-centre')
      .query<any>(
        'query($u: ID!) { property(unitNumber: $u) { owners { owner { ... on Person { n: name } ... on Enterprise { n: name } } } transfers { to { __typename } } } }',
        { u: property.unitNumber },
        { ...TRANSFER, caseNumber: 'BDC-LINKED-1' },
      );
    expect(reply.status).toBe(200);
    const [record] = await auditorReads({ caseNumber: 'BDC-LINKED-1' });
    const expected = [
      `PROPERTY:${property.unitNumber}`,
      ...property.owners.map((o) => `${o.kind}:${o.ownerId}`),
      ...property.transfers.map((t) => `${t.toKind}:${t.toId}`),
    ];
    // Each subject once, found by exact identifier through the index.
    expect(record.subjects).toHaveLength(new Set(expected).size);
    const owner = property.owners[0]!;
    const found = await auditorReads({ subject: { kind: owner.kind, id: owner.ownerId } });
    expect(found.map((r) => r.caseNumber)).toContain('BDC-LINKED-1');
  });

  it('finds the accesses to one subject from the index, by exact identifier', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const records = await auditorReads({ subject: { kind: 'PERSON', id: v.buyer } });
    expect(records.length).toBeGreaterThanOrEqual(2);
    expect(records.every((r) => r.subjects.some((s: any) => s.mask === `${v.buyer.slice(0, 6)}********${v.buyer.slice(14)}`))).toBe(true);
    const seqs = records.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
  });

  it('refuses a consumer filter that names no consumer and finds nothing, rather than answering "no access"', async () => {
    const query = 'query($f: AccessLogFilter) { accessLog(filter: $f, first: 5) { edges { node { seq } } } }';
    const typo = await hub.clientFor('auditor').query<any>(query, { f: { consumer: 'real-estate-centr' } }, AUDIT);
    expect(typo.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argument: 'filter.consumer' }, message: 'Argument "filter.consumer" names no consumer of this hub, and no record holds it: "real-estate-centr".' });
    // A known consumer without records is answered with an empty page.
    expect((await auditorReads({ consumer: 'one-window-hall', caseNumber: 'NO-SUCH-CASE' }))).toEqual([]);
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

  it('shows the citizen that the audit office looked up their records, and the refusals of requests that named them, with the reason', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const citizen = v.seller;
    const audited = await hub.clientFor('auditor').query<any>('query($f: AccessLogFilter) { accessLog(filter: $f) { edges { node { seq } } } }', { f: { subject: { kind: 'PERSON', id: citizen } } }, { ...AUDIT, caseNumber: 'SJ-WATCH-1' });
    expect(audited.status).toBe(200);

    // Refused before authentication: no token; a token whose signature does not verify.
    const body = JSON.stringify({ query: 'query($p: ID!) { person(idNumber: $p) { name } }', variables: { p: citizen } });
    const unsigned = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(unsigned.status).toBe(401);
    const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('real-estate-centre')!, 'utf8')) as PrivateJwk;
    const token = createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwk }).authorization(body, { ...TRANSFER, caseNumber: 'BDC-WATCH-1' });
    const tampered = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const badSignature = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: tampered }, body });
    expect(badSignature.status).toBe(401);
    // Authenticated, then refused as a replay.
    expect((await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: token }, body })).status).toBe(200);
    const replayed = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: token }, body });
    expect(replayed.status).toBe(401);

    const query = 'query($id: ID!) { dataAccesses(idNumber: $id, first: 100) { edges { node { time consumer purpose caseNumber outcome reason count } } } }';
    let nodes: any[] = [];
    // Refusals before authentication are written once their second has closed.
    await eventually(async () => {
      const reply = await hub.clientFor('one-window-hall').query<any>(query, { id: citizen }, { ...VIEW, consents: [consent(citizen, 'CITIZEN_ACCESS_VIEW')] });
      expect(reply.errors).toBeUndefined();
      nodes = reply.data.dataAccesses.edges.map((e: any) => e.node);
      return nodes.some((n) => n.reason === 'BAD_SIGNATURE') && nodes.some((n) => n.reason === 'MISSING');
    }, 'the refusals to reach the citizen view');
    const lookup = nodes.find((n) => n.caseNumber === 'SJ-WATCH-1');
    expect(lookup).toMatchObject({ consumer: 'auditor', purpose: 'AUDIT', outcome: 'GRANTED', reason: null, count: 1 });
    expect(Date.parse(lookup.time)).not.toBeNaN();
    expect(nodes.find((n) => n.reason === 'MISSING')).toMatchObject({ consumer: null, purpose: null, outcome: 'DENIED', count: 1 });
    expect(nodes.find((n) => n.reason === 'BAD_SIGNATURE')).toMatchObject({ consumer: null, outcome: 'DENIED', count: 1 });
    expect(nodes.find((n) => n.reason === 'REPLAYED')).toMatchObject({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-WATCH-1', outcome: 'DENIED' });
    // The first use (served) and the replay (refused): two entries of that case.
    expect(nodes.filter((n) => n.caseNumber === 'BDC-WATCH-1')).toHaveLength(2);
    // Another citizen sees none of it.
    const other = hub.sandboxes.data.persons.find((p) => p.idNumber !== citizen && p.idNumber !== v.buyer)!.idNumber;
    const theirs = await hub.clientFor('one-window-hall').query<any>(query, { id: other }, { ...VIEW, consents: [consent(other, 'CITIZEN_ACCESS_VIEW')] });
    expect(theirs.data.dataAccesses.edges.map((e: any) => e.node.caseNumber)).not.toContain('SJ-WATCH-1');
    expect(theirs.data.dataAccesses.edges.some((e: any) => e.node.reason === 'BAD_SIGNATURE')).toBe(false);
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
    // The hub's log on a tiny file system of its own, which then fills up: writes fail with ENOSPC, as on a full disk.
    const disk = mkdtempSync(path.join(tmpdir(), 'datarun-full-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
    let own: TestHub | undefined;
    try {
      own = await startTestHub({ security: 'signed', auditDir: disk });
      const v = propertyTransferExample(own.sandboxes.data);
      const client = own.clientFor('real-estate-centre');
      const q = 'query($u: ID!) { property(unitNumber: $u) { address } }';
      expect((await client.query<any>(q, { u: v.unitNumber }, TRANSFER)).status).toBe(200);
      try {
        writeFileSync(path.join(disk, 'filler'), Buffer.alloc(64 * 1024));
      } catch {
        // ENOSPC: the disk is now full.
      }

      // The log's last page may still hold a record or two; the first write past it fails.
      let reply = await client.query<any>(q, { u: v.unitNumber }, TRANSFER);
      for (let i = 0; i < 20 && reply.status === 200; i++) reply = await client.query<any>(q, { u: v.unitNumber }, { ...TRANSFER, caseNumber: `BDC-FULL-${i}` });
      expect(reply.status).toBe(503);
      expect(reply.data).toBeUndefined();
      expect(reply.errors).toEqual([{ message: 'The access log cannot be written: no data is sent without its record.', extensions: { code: 'AUDIT_UNAVAILABLE', reason: 'DISK_FULL' } }]);
      expect(reply.receipt).toBeUndefined();
      const ready = await fetch(`${own.url}/readyz`);
      expect(ready.status).toBe(503);
    } finally {
      await own?.close();
      try {
        execFileSync('umount', [disk]);
      } catch {
        // not mounted
      }
      rmSync(disk, { recursive: true, force: true });
    }
  });
});
