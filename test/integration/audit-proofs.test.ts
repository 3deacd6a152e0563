/**
 * The verifiable log over HTTP: a receipt carries the log's newest signed head; the auditor gets
 * the record's inclusion proof and the consistency proof from the receipt's head to a newer one,
 * both checked here by an RFC 9162 implementation written in the tests; /.well-known/audit-head
 * publishes every instance's head, against which `datarun audit verify --head` checks the log.
 * And the hub refuses to start on a log deleted whole or rolled back to an earlier copy, naming
 * the way to open a new chain that records the break.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { propertyTransferExample } from '../../src/cli/examples';
import { runAuditVerify } from '../../src/cli/audit';
import { auditHeadFile, auditVerifier, createGateway, type DepartmentEndpoints } from '../../src/gateway';
import { generateSeed, startSandboxes } from '../../departments';
import { leafOfLine, rootFromPath, rootsFromConsistency } from '../support/rfc9162';
import { startTestHub, type TestHub } from '../support/hub';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-PROOF-1', operator: '窗口-王' };
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-PROOF-1', operator: '审计-李' };
const b64 = (s: string) => Buffer.from(s, 'base64url');
const payloadOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, any>;

describe('proofs over HTTP', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ security: 'signed' });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('a receipt names the record and the newest signed head; the auditor proves the record and the head\'s consistency with a newer one', async () => {
    const reply = await hub.clientFor('real-estate-centre').query<any>('query($u: ID!) { property(unitNumber: $u) { address } }', { u: propertyTransferExample(hub.sandboxes.data).unitNumber }, TRANSFER);
    expect(reply.status).toBe(200);
    const receipt = payloadOf(reply.receipt!);
    expect(receipt).toMatchObject({ auditSeq: expect.any(Number), auditInstance: 'test-hub', auditHead: expect.any(String) });
    const verify = auditVerifier({ keyStore: hub.gateway.keyStore });
    const held = await verify(receipt.auditHead);
    expect(held.valid).toBe(true);
    const heldHead = held.payload as { size: number; root: string; instance: string };
    expect(heldHead.instance).toBe('test-hub');

    const auditor = hub.clientFor('auditor');
    const proof = await auditor.query<any>(
      'query($i: String!, $s: Int!) { auditProof(instance: $i, seq: $s) { instance seq leafIndex treeSize leafHash line path root head { instance size root time jws } } }',
      { i: 'test-hub', s: receipt.auditSeq },
      AUDIT,
    );
    expect(proof.errors).toBeUndefined();
    const p = proof.data.auditProof;
    expect(p).toMatchObject({ instance: 'test-hub', seq: receipt.auditSeq, leafIndex: receipt.auditSeq - 1 });
    expect(p.treeSize).toBeGreaterThanOrEqual(receipt.auditSeq);
    // The head is signed by the hub and is the tree the path leads to.
    const signed = await verify(p.head.jws);
    expect(signed.valid).toBe(true);
    expect(signed.payload).toMatchObject({ size: p.treeSize, root: p.root });
    expect(rootFromPath(p.leafIndex, p.treeSize, b64(p.leafHash), p.path.map(b64))?.toString('base64url')).toBe(p.root);
    // The leaf is this record: its stored line hashes to it and names the receipt's request.
    expect(leafOfLine(p.line).toString('base64url')).toBe(p.leafHash);
    expect(JSON.parse(p.line)).toMatchObject({ seq: receipt.auditSeq, requestId: receipt.requestId, caseNumber: TRANSFER.caseNumber });

    // The record the proof is about: its stored line hashes to the leaf.
    const records = await auditor.query<any>('query($c: String) { accessLog(filter: { caseNumber: $c }) { edges { node { seq instance hash } } } }', { c: TRANSFER.caseNumber }, AUDIT);
    expect(records.data.accessLog.edges.map((e: any) => e.node.seq)).toEqual([receipt.auditSeq]);

    // The receipt's head and the newer one: the later tree extends the earlier.
    if (heldHead.size > 0 && heldHead.size < p.treeSize) {
      const c = await auditor.query<any>('query($f: Int!, $t: Int!) { auditConsistency(instance: "test-hub", from: $f, to: $t) { fromRoot toRoot path } }', { f: heldHead.size, t: p.treeSize }, AUDIT);
      expect(c.data.auditConsistency.fromRoot).toBe(heldHead.root);
      const rebuilt = rootsFromConsistency(heldHead.size, p.treeSize, b64(heldHead.root), c.data.auditConsistency.path.map(b64));
      expect(rebuilt?.old.toString('base64url')).toBe(heldHead.root);
      expect(rebuilt?.new.toString('base64url')).toBe(p.root);
    }
  });

  it('refuses the proof API to a department system, and names a bad seq', async () => {
    const denied = await hub.clientFor('real-estate-centre').query<any>('{ auditHeads { size } }', {}, TRANSFER);
    expect(denied.errors?.[0]?.extensions?.code).toBe('POLICY_DENIED');
    const bad = await hub.clientFor('auditor').query<any>('{ auditProof(instance: "test-hub", seq: 999999) { seq } }', {}, AUDIT);
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('seq') });
  });

  it('publishes every instance\'s newest head, against which the log verifies offline', async () => {
    const res = await fetch(`${hub.url}/.well-known/audit-head`);
    expect(res.status).toBe(200);
    const published = (await res.json()) as { heads: { instance: string; size: number; jws: string }[] };
    expect(published.heads).toEqual([expect.objectContaining({ instance: 'test-hub', size: expect.any(Number), jws: expect.any(String) })]);
    const auditors = await hub.clientFor('auditor').query<any>('{ auditHeads { instance size jws } }', {}, AUDIT);
    expect(auditors.data.auditHeads[0].instance).toBe('test-hub');
    let text = '';
    const { exitCode } = await runAuditVerify({ dir: path.join(hub.keysDir, 'audit'), verify: auditVerifier({ keyStore: hub.gateway.keyStore }), head: published.heads[0]!.jws, stdout: { write: (s: string) => (text += s) } });
    expect(text).toMatch(/valid/);
    expect(exitCode).toBe(0);
  });
});

describe('a hub that opens its log verifies it first', () => {
  it('refuses a log deleted whole or rolled back to an earlier copy, naming the problem and the way to a new chain', async () => {
    const keysDir = mkdtempSync(path.join(tmpdir(), 'datarun-keys-'));
    const auditDir = path.join(keysDir, 'audit');
    const sandboxes = await startSandboxes(generateSeed({ seed: 1, size: 50 }));
    const config = { connectorTimeoutMs: 10_000, keys: { dir: keysDir }, security: { mode: 'open' as const, clockSkewSec: 60 }, audit: { enabled: true, dir: auditDir, instanceId: 'hub-restart' } };
    const start = () => createGateway(config, sandboxes.endpoints as DepartmentEndpoints, { sandboxes: Object.keys(sandboxes.endpoints) });
    const ask = async (gateway: Awaited<ReturnType<typeof start>>) => {
      const reply = await gateway.execute({ contentType: 'application/json', body: Buffer.from(JSON.stringify({ query: '{ __typename }' })), peer: { address: '127.0.0.1' } });
      expect(reply.code).toBeNull();
    };
    try {
      let gateway = await start();
      await ask(gateway);
      await gateway.stop();
      const earlier = `${auditDir}.copy`;
      cpSync(auditDir, earlier, { recursive: true });
      gateway = await start();
      await ask(gateway);
      await ask(gateway);
      await gateway.stop();
      expect(JSON.parse(readFileSync(auditHeadFile(keysDir, 'hub-restart'), 'utf8')).checkpoint.size).toBe(3);

      // Rolled back: the earlier copy holds one record, the kept head three.
      rmSync(auditDir, { recursive: true });
      cpSync(earlier, auditDir, { recursive: true });
      await expect(start()).rejects.toMatchObject({ code: 'AUDIT_LOG_CORRUPT', message: expect.stringMatching(/covers 3 records but the log in .* holds 1: records 2 to 3 are missing \(a cut tail or a rollback\)\. To start a new chain that records the break as evidence, run: datarun audit new-chain/) });

      // Deleted whole: a fresh log under a known instance id.
      rmSync(auditDir, { recursive: true });
      await expect(start()).rejects.toMatchObject({ code: 'AUDIT_LOG_CORRUPT', message: expect.stringMatching(/the newest head of instance hub-restart .* is of chain .* with 3 records .* but the log in .* is chain .* with 0 records: the log was deleted, replaced or rolled back/) });
    } finally {
      await sandboxes.close();
      rmSync(keysDir, { recursive: true, force: true });
    }
  });
});
