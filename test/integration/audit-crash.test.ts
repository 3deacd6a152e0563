import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openAuditLog, verifyAuditLog, type AuditLogEvent } from '../../src/audit';
import { sampleRecord, tempDir } from '../fixtures/audit/support';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'audit', 'append-under-load.js');
const SECRET = 'a test subject-key secret of 32+ bytes';

/** The seqs of every complete line in the log's segments. */
function storedSeqs(dir: string): Set<number> {
  const seqs = new Set<number>();
  for (const file of readdirSync(dir).filter((f) => /^audit-\d{12}\.jsonl$/.test(f))) {
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n').slice(0, -1)) seqs.add((JSON.parse(line) as { seq: number }).seq);
  }
  return seqs;
}

/** Runs the child until it has acknowledged `acks` records, then SIGKILLs it; resolves with every seq it acknowledged. */
function appendUntilKilled(dir: string, signingKeyPem: string, acks: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, dir, '50'], { env: { ...process.env, AUDIT_TEST_SIGNING_KEY: signingKeyPem }, stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    let buffered = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!; // only complete lines count as acknowledgements
      for (const line of lines) if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
      if (!killed && acked.length >= acks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (_code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`the child exited before it was killed: ${stderr}`));
    });
  });
}

describe('the audit log after a crash under load', () => {
  it('keeps every acknowledged record, verifies up to its last complete record, and can be repaired and appended to', async () => {
    const { dir, remove } = tempDir('audit-crash-');
    try {
      // The child signs checkpoints with this key; the parent verifies with its public half.
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const verify = (jws: string) => {
        const [h, p, s] = jws.split('.');
        const valid = cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s ?? '', 'base64url'));
        return { valid, payload: valid ? Buffer.from(p ?? '', 'base64url') : undefined };
      };
      const b64 = (d: Uint8Array | string) => Buffer.from(d).toString('base64url');
      const sign = (payload: Uint8Array | string) => {
        const input = `${b64(JSON.stringify({ alg: 'ES256' }))}.${b64(payload)}`;
        return `${input}.${b64(cryptoSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
      };

      const acked = await appendUntilKilled(dir, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 400);
      expect(acked.length).toBeGreaterThanOrEqual(400);

      // Every acknowledged record survived the kill.
      const stored = storedSeqs(dir);
      expect(acked.filter((seq) => !stored.has(seq))).toEqual([]);

      // The log verifies up to its last complete record; a torn last line, if the kill left one, is a truncated tail.
      const afterKill = await verifyAuditLog({ dir, verify });
      if (!afterKill.ok) expect(afterKill.problem).toMatchObject({ kind: 'TRUNCATED_TAIL' });
      const lastComplete = Math.max(...stored);
      expect(afterKill.lastSeq).toBe(lastComplete);

      // A kill rarely lands inside write(2), so tear the tail ourselves: half a record, no newline.
      const segment = readdirSync(dir).filter((f) => /^audit-\d{12}\.jsonl$/.test(f)).sort().pop()!;
      appendFileSync(path.join(dir, segment), '{"caseNumber":"MZ-1","consumer":"civil-af');
      const torn = await verifyAuditLog({ dir, verify });
      expect(torn.problem).toMatchObject({ kind: 'TRUNCATED_TAIL', seq: lastComplete + 1, file: segment });
      expect(torn.problem!.message).toMatch(new RegExp(`the log ends after seq ${lastComplete} with a torn record$`));

      // Reopening cuts the torn tail (keeping its bytes aside), then the chain continues.
      const events: AuditLogEvent[] = [];
      const log = await openAuditLog({ dir, instanceId: 'hub-restarted', subjectKeySecret: SECRET, sign, onEvent: (e) => events.push(e) });
      expect(events).toContainEqual(expect.objectContaining({ type: 'torn-tail-repaired', segment }));
      expect(readdirSync(dir).some((f) => f.startsWith(segment) && f.endsWith('.torn'))).toBe(true);
      expect((await log.append(sampleRecord())).seq).toBe(lastComplete + 1);
      await log.close();

      const repaired = await verifyAuditLog({ dir, verify });
      expect(repaired).toMatchObject({ ok: true, lastSeq: lastComplete + 1, signedThrough: lastComplete + 1 });
      expect(acked.filter((seq) => !storedSeqs(dir).has(seq))).toEqual([]);
    } finally {
      remove();
    }
  });
});
