import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openAuditLog, verifyAuditLog, type AuditLog, type AuditLogOptions } from '../../../src/audit';
import { nodeAuditFs, type AuditFs } from '../../../src/audit/fs';
import { createTestKeys, errno, instrumentedFs, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();
const isSegment = (p?: string) => /audit-\d{12}\.jsonl$/.test(p ?? '');

function segmentLines(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^audit-\d{12}\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => l.length > 0));
}

describe('the audit log when its disk fails', () => {
  let dir: string;
  let remove: () => void;
  let log: AuditLog | undefined;

  beforeEach(() => ({ dir, remove } = tempDir()));
  afterEach(async () => {
    await log?.close();
    log = undefined;
    remove();
  });

  const open = (options: Partial<AuditLogOptions> = {}) => openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, ...options });

  /** Opens a log whose segment writes fail with `code` once `failing.on` is set. */
  async function openFailing(op: 'write' | 'datasync', code: string) {
    const failing = { on: false };
    const { fs } = instrumentedFs({ [op]: (p?: string) => (failing.on && isSegment(p) ? errno(code) : undefined) });
    log = await open({ fs });
    return failing;
  }

  it('rejects every append of the failed batch with AUDIT_UNAVAILABLE when the disk is full, acknowledging none', async () => {
    const failing = await openFailing('write', 'ENOSPC');
    await log!.append(sampleRecord({ requestId: 'before' }));
    failing.on = true;
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => log!.append(sampleRecord({ requestId: `r${i}` }))));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
      message: 'The audit log is unavailable: the disk is full.',
      extensions: { code: 'AUDIT_UNAVAILABLE', reason: 'DISK_FULL' },
    });
    expect(segmentLines(dir)).toHaveLength(1);
  });

  it('refuses further appends during the back-off, and a reopened log continues after the last acknowledged record', async () => {
    const failing = { on: false };
    const { fs } = instrumentedFs({ write: (p?: string) => (failing.on && isSegment(p) ? errno('ENOSPC') : undefined) });
    log = await open({ fs, recoveryFirstMs: 600_000 });
    await log!.append(sampleRecord({ requestId: 'before' }));
    failing.on = true;
    await expect(log!.append(sampleRecord())).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    failing.on = false;
    await expect(log!.append(sampleRecord())).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
      extensions: { reason: 'DISK_FULL' },
    });
    expect(log!.health()).toMatchObject({ writable: false, reason: 'DISK_FULL', seq: 1 });
    await log!.close();
    log = await open();
    expect((await log.append(sampleRecord({ requestId: 'after' }))).seq).toBe(2);
    await log.close();
    expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
  });

  it('maps a read-only file system to READ_ONLY and an fsync failure to IO_ERROR', async () => {
    let failing = await openFailing('write', 'EROFS');
    failing.on = true;
    await expect(log!.append(sampleRecord())).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE', message: 'The audit log is unavailable: the log is read-only.' });
    await log!.close();
    failing = await openFailing('datasync', 'EIO');
    failing.on = true;
    await expect(log!.append(sampleRecord())).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE', message: 'The audit log is unavailable: an I/O error occurred.' });
  });

  it('cuts a batch that was written but not fsynced back off, so no unacknowledged record stays in the log', async () => {
    const failing = await openFailing('datasync', 'EIO');
    await log!.append(sampleRecord({ requestId: 'acknowledged' }));
    failing.on = true;
    await expect(log!.append(sampleRecord({ requestId: 'lost' }))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    expect(segmentLines(dir).map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(['acknowledged']);
  });

  it('leaves no half record when a write stops part-way and even the cleanup fails; reopening repairs the tail', async () => {
    let broken = false;
    const fs: AuditFs = {
      ...nodeAuditFs,
      async write(fd, data, position) {
        if (!broken || data.length < 10) return nodeAuditFs.write(fd, data, position);
        await nodeAuditFs.write(fd, data.subarray(0, Math.floor(data.length / 2)), position);
        throw errno('ENOSPC');
      },
      truncate: async (fd, length) => (broken ? Promise.reject(errno('EIO')) : nodeAuditFs.truncate(fd, length)),
    };
    log = await open({ fs });
    await log.append(sampleRecord({ requestId: 'acknowledged' }));
    broken = true;
    await expect(log.append(sampleRecord({ requestId: 'torn' }))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE', message: 'The audit log is unavailable: the disk is full.' });
    await log.close();
    expect((await verifyAuditLog({ dir, verify: keys.verify })).problem).toMatchObject({ kind: 'TRUNCATED_TAIL', seq: 2 });
    const events: unknown[] = [];
    log = await open({ onEvent: (e) => events.push(e) });
    expect(events).toContainEqual(expect.objectContaining({ type: 'torn-tail-repaired', segment: 'audit-000000000001.jsonl' }));
    expect((await log.append(sampleRecord({ requestId: 'after' }))).seq).toBe(2);
    await log.close();
    expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
  });

  it('resumes by itself once writes succeed again: the tail re-read from disk, the chain continued, an audit-resumed event', async () => {
    const failing = { on: false };
    const { fs } = instrumentedFs({ write: () => (failing.on ? errno('ENOSPC') : undefined) });
    const events: { type: string }[] = [];
    log = await open({ fs, recoveryFirstMs: 20, recoveryMaxMs: 50, onEvent: (e) => events.push(e) });
    await log.append(sampleRecord({ requestId: 'before' }));
    failing.on = true;
    await expect(log.append(sampleRecord({ requestId: 'refused' }))).rejects.toMatchObject({ extensions: { reason: 'DISK_FULL' } });
    expect(log.health()).toMatchObject({ writable: false, reason: 'DISK_FULL' });
    // Wait for a recovery attempt (a busy machine may delay its timer), not for a fixed time.
    const tried = Date.now() + 30_000;
    while (!events.some((e) => e.type === 'recovery-failed') && Date.now() < tried) await new Promise((r) => setTimeout(r, 20));
    expect(log.health().writable).toBe(false); // still full: every try fails
    expect(events).toContainEqual(expect.objectContaining({ type: 'recovery-failed', reason: 'DISK_FULL' }));
    failing.on = false;
    const deadline = Date.now() + 30_000;
    while (!log.health().writable && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(log.health()).toMatchObject({ writable: true, seq: 1 });
    expect(events).toContainEqual(expect.objectContaining({ type: 'audit-resumed', seq: 1, failedFor: 'DISK_FULL' }));
    expect((await log.append(sampleRecord({ requestId: 'after' }))).seq).toBe(2);
    await log.close();
    log = undefined;
    expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
    expect(segmentLines(dir).map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(['before', 'after']);
  });

  it('on resuming, cuts a half record and an unacknowledged record that a failed clean-up left behind', async () => {
    let mode: 'ok' | 'half' | 'whole' = 'ok';
    const fs: AuditFs = {
      ...nodeAuditFs,
      async write(fd, data, position) {
        if (mode === 'ok' || data.length < 10) return nodeAuditFs.write(fd, data, position);
        if (mode === 'half') {
          await nodeAuditFs.write(fd, data.subarray(0, Math.floor(data.length / 2)), position);
          throw errno('ENOSPC');
        }
        return nodeAuditFs.write(fd, data, position);
      },
      datasync: async (fd) => (mode === 'whole' ? Promise.reject(errno('EIO')) : nodeAuditFs.datasync(fd)),
      truncate: async (fd, length) => (mode !== 'ok' ? Promise.reject(errno('EIO')) : nodeAuditFs.truncate(fd, length)),
    };
    for (const broken of ['half', 'whole'] as const) {
      const events: { type: string }[] = [];
      log = await open({ fs, recoveryFirstMs: 600_000, onEvent: (e) => events.push(e) });
      const { seq } = await log.append(sampleRecord({ requestId: 'acknowledged' }));
      mode = broken;
      await expect(log.append(sampleRecord({ requestId: 'never acknowledged' }))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
      expect(segmentLines(dir).at(-1)).not.toContain('"acknowledged"');
      mode = 'ok';
      // The back-off is long: the test drives the retry through the private hook the timer uses.
      await (log as unknown as { recover(): Promise<boolean> }).recover();
      expect(log.health().writable).toBe(true);
      expect(events).toContainEqual(expect.objectContaining({ type: 'torn-tail-repaired' }));
      expect((await log.append(sampleRecord({ requestId: 'after' }))).seq).toBe(seq + 1);
      await log.close();
      log = undefined;
      expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
      expect(segmentLines(dir).some((l) => l.includes('never acknowledged'))).toBe(false);
    }
  });

  it('stays refused when an acknowledged record is missing on disk after the failure, naming where the log ends', async () => {
    const failing = { on: false };
    const { fs } = instrumentedFs({ write: (p?: string) => (failing.on && isSegment(p) ? errno('ENOSPC') : undefined) });
    const events: { type: string; reason?: string }[] = [];
    log = await open({ fs, recoveryFirstMs: 600_000, onEvent: (e) => events.push(e as never) });
    await log.append(sampleRecord({ requestId: 'one' }));
    await log.append(sampleRecord({ requestId: 'two' }));
    failing.on = true;
    await expect(log.append(sampleRecord())).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    failing.on = false;
    // What a lost page cache looks like: the second acknowledged record is not on disk.
    const segment = readdirSync(dir).find((f) => /^audit-\d{12}\.jsonl$/.test(f))!;
    const lines = readFileSync(path.join(dir, segment), 'utf8').split('\n');
    writeFileSync(path.join(dir, segment), lines[0] + '\n');
    expect(await (log as unknown as { recover(): Promise<boolean> }).recover()).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'recovery-failed', retryInMs: null }));
    expect(events.find((e) => e.type === 'recovery-failed')!.reason).toContain('ends at record 1, not at the last acknowledged record 2');
    await expect(log.append(sampleRecord())).rejects.toMatchObject({ extensions: { reason: 'FAILED_EARLIER' } });
    expect(log.health().writable).toBe(false);
  });

  // A real kernel refusal that holds even for root: an immutable segment (chattr +i) fails
  // writes through the already-open descriptor with EPERM. Skipped where chattr is missing or
  // not permitted (no CAP_LINUX_IMMUTABLE, or a file system without the flag).
  const canChattr = (() => {
    const probe = tempDir('chattr-');
    try {
      const file = path.join(probe.dir, 'probe');
      writeFileSync(file, '');
      execFileSync('chattr', ['+i', file], { stdio: 'ignore' });
      execFileSync('chattr', ['-i', file], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    } finally {
      probe.remove();
    }
  })();

  (canChattr ? it : it.skip)('reports AUDIT_UNAVAILABLE when the kernel refuses the write (immutable segment, works as root)', async () => {
    log = await open();
    await log.append(sampleRecord({ requestId: 'before' }));
    const segment = path.join(dir, 'audit-000000000001.jsonl');
    execFileSync('chattr', ['+i', segment]);
    try {
      await expect(log.append(sampleRecord({ requestId: 'refused' }))).rejects.toMatchObject({
        code: 'AUDIT_UNAVAILABLE',
        message: 'The audit log is unavailable: the log is read-only.',
      });
    } finally {
      execFileSync('chattr', ['-i', segment]);
    }
    expect(segmentLines(dir)).toHaveLength(1);
  });
});
