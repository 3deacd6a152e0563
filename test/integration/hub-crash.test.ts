/**
 * The hub process is killed (SIGKILL) while it serves signed requests: every reply that reached
 * a client must have its record in the access log, and the log must verify up to its last
 * complete record. Restarted, the hub checks the log against its newest signed head, repairs a
 * torn tail and signs a head over every record first, so after a clean stop the log verifies
 * with no unsigned record.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAuditLogReader, verifyAuditLog } from '../../src/audit';
import { createDataRunClient } from '../../src/client';
import { auditHeadFile, auditSubjectSecret, auditVerifier } from '../../src/gateway/audit';
import { loadKeyStore } from '../../src/seal';

const root = path.resolve(__dirname, '../..');
const CONCURRENCY = 8;

function startHubProcess(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-r', path.join(root, 'test/fixtures/audit/register-ts.js'), path.join(root, 'src/cli/main.ts'), 'serve', '--port', '0'], {
    cwd: root,
    env: { ...process.env, DATARUN_KEYS_DIR: path.join(dir, 'keys'), DATARUN_AUDIT_DIR: path.join(dir, 'audit'), DATARUN_LOG_LEVEL: 'error', DATARUN_INSTANCE_ID: 'crash-test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`hub did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /hub ready at (http:\/\/[^/\s]+)\/graphql/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`hub exited with ${code}: ${out}`)));
  });
}

describe('a hub killed under load', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has the record of every reply a client received, and its log verifies up to the last complete record', async () => {
    const { child, url } = await startHubProcess(dir);
    const keyStore = await loadKeyStore(path.join(dir, 'keys'));
    const client = createDataRunClient({ hubUrl: url, consumerId: 'real-estate-centre', keyFile: keyStore.privateKeyPath('real-estate-centre')! });
    const acknowledged: { seq: number; requestId: string }[] = [];
    let stop = false;
    let failures = 0;

    async function worker(n: number): Promise<void> {
      for (let i = 0; !stop && i < 2000; i++) {
        try {
          const reply = await client.query('query($u: ID!) { property(unitNumber: $u) { address area } }', { u: '370811004023GB22847F68736932' }, { purpose: 'PROPERTY_TRANSFER', caseNumber: `CRASH-${n}-${i}`, operator: 'load' });
          const verified = await client.verifyReply(reply);
          if (verified.valid) acknowledged.push({ seq: verified.receipt.auditSeq!, requestId: verified.receipt.requestId });
        } catch {
          failures++; // the connection died with the hub
        }
      }
    }
    const load = Promise.all(Array.from({ length: CONCURRENCY }, (_, n) => worker(n)));
    while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    stop = true;
    await load;
    expect(acknowledged.length).toBeGreaterThanOrEqual(150);

    const report = await verifyAuditLog({ dir: path.join(dir, 'audit'), verify: auditVerifier({ keyStore }) });
    // A record torn by the kill may end the log; every complete record before it verifies.
    if (!report.ok) expect(report.problem!.kind).toBe('TRUNCATED_TAIL');
    const maxAcked = Math.max(...acknowledged.map((a) => a.seq));
    expect(report.lastSeq).toBeGreaterThanOrEqual(maxAcked);

    const reader = await openAuditLogReader({ dir: path.join(dir, 'audit'), subjectKeySecret: auditSubjectSecret(path.join(dir, 'keys')) });
    const logged = new Map<number, string>();
    for await (const record of reader.records({})) logged.set(record.seq, record.requestId);
    await reader.close();
    const missing = acknowledged.filter((a) => logged.get(a.seq) !== a.requestId);
    expect(missing).toEqual([]);

    // Restarted on the same log and stopped with SIGTERM: every record, the acknowledged ones included, is under a signed head.
    const restarted = await startHubProcess(dir);
    let output = '';
    restarted.child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    restarted.child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => restarted.child.once('exit', (code, signal) => resolve({ code, signal })));
    restarted.child.kill('SIGTERM');
    const ended = await exited;
    if (ended.code !== 0) throw new Error(`the restarted hub ended with ${JSON.stringify(ended)}: ${output}`);
    const after = await verifyAuditLog({ dir: path.join(dir, 'audit'), verify: auditVerifier({ keyStore }), head: readFileSync(auditHeadFile(path.join(dir, 'keys'), 'crash-test'), 'utf8') });
    expect(after).toMatchObject({ ok: true, unsigned: null, checkedAgainst: { size: after.lastSeq } });
    expect(after.signedThrough).toBe(after.lastSeq);
    expect(after.lastSeq).toBeGreaterThanOrEqual(maxAcked);
  });
});
