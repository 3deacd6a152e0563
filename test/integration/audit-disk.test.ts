/**
 * The access log on a real, size-limited tmpfs (root only; CI runs as root): the disk fills up
 * and later has room again; the file system is remounted read-only and later read-write. While
 * the log cannot write, signed requests get 503 AUDIT_UNAVAILABLE with the reason; once it can,
 * the hub serves again without a restart, and the log verifies with every acknowledged record.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAuditLogReader, verifyAuditLog } from '../../src/audit';
import { auditSubjectSecret, auditVerifier } from '../../src/gateway/audit';
import { propertyTransferExample } from '../../src/cli/examples';
import { startTestHub, type TestHub } from '../support/hub';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', operator: 'disk-test' };
const SIZE = '4m';

function mount(args: string[]): void {
  try {
    execFileSync('mount', args, { stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`this test needs root and a working mount (CI runs as root): "mount ${args.join(' ')}" failed: ${stderr || (error as Error).message}`);
  }
}

/** Fills the file system with a file until ENOSPC; returns its path. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) {
      try {
        writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        // Fill the last pages too, byte runs smaller than a chunk.
        for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
          try {
            for (;;) writeSync(fd, chunk.subarray(0, n));
          } catch {
            // next smaller size
          }
        }
        return file;
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the access log on a file system that fills up or turns read-only', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'datarun-disk-'));
  const mnt = path.join(base, 'mnt');
  let mounted = false;
  let hub: TestHub | undefined;

  beforeAll(() => {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error(`this test must run as root (uid ${process.getuid()}): it mounts a size-limited tmpfs; CI runs it as root`);
    }
    mkdirSync(mnt);
    mount(['-t', 'tmpfs', '-o', `size=${SIZE}`, 'tmpfs', mnt]);
    mounted = true;
  });

  afterAll(async () => {
    await hub?.close().catch(() => undefined);
    if (mounted) {
      try {
        execFileSync('mount', ['-o', 'remount,rw', mnt], { stdio: 'ignore' });
      } catch {
        // already read-write
      }
      execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
    }
    rmSync(base, { recursive: true, force: true });
  });

  it('answers 503 with the reason while it cannot write, and serves again by itself once it can; nothing acknowledged is lost', async () => {
    const auditDir = path.join(mnt, 'audit');
    hub = await startTestHub({ security: 'signed', auditDir });
    const client = hub.clientFor('real-estate-centre');
    const v = propertyTransferExample(hub.sandboxes.data);
    const acknowledged = new Map<number, string>();
    let n = 0;
    const ask = async () => {
      const reply = await client.query<any>('query($u: ID!) { property(unitNumber: $u) { address } }', { u: v.unitNumber }, { ...TRANSFER, caseNumber: `DISK-${n++}` });
      if (reply.status === 200) {
        const verified = await client.verifyReply(reply);
        if (!verified.valid) throw new Error(`receipt did not verify: ${verified.reason}`);
        acknowledged.set(verified.receipt.auditSeq!, verified.receipt.requestId);
      }
      return reply;
    };
    const ready = async () => (await fetch(`${hub!.url}/readyz`)).status === 200;

    for (let i = 0; i < 5; i++) expect((await ask()).status).toBe(200);

    // The disk fills up. A record may still fit in the segment's last page: ask until one does not.
    const filler = fill(mnt);
    let full = await ask();
    for (let i = 0; i < 100 && full.status === 200; i++) full = await ask();
    expect(full.status).toBe(503);
    expect(full.errors?.[0]?.extensions).toMatchObject({ code: 'AUDIT_UNAVAILABLE', reason: 'DISK_FULL' });
    expect(full.data ?? null).toBeNull();
    expect(await ready()).toBe(false);
    const again = await ask();
    expect(again.status).toBe(503);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'AUDIT_UNAVAILABLE', reason: 'DISK_FULL' });

    // Room again: no restart, the hub resumes on its own.
    unlinkSync(filler);
    await until('the hub to be ready after the disk had room again', ready);
    for (let i = 0; i < 5; i++) expect((await ask()).status).toBe(200);

    // Read-only. Linux refuses to remount a file system read-only while a file on it is open for
    // writing (EBUSY), as the healthy log's segment is; a failed log holds nothing open for
    // writing between its attempts to resume, so: fill the disk again, remount read-only once
    // the log let go, and see the attempts fail as READ_ONLY; then read-write, room, resumed.
    const filler2 = fill(mnt);
    let failed = await ask();
    for (let i = 0; i < 100 && failed.status === 200; i++) failed = await ask();
    expect(failed.status).toBe(503);
    await until('a read-only remount to be allowed', () => {
      try {
        execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: 'pipe' });
        return true;
      } catch {
        return false;
      }
    });
    await until('the log to report the read-only file system', async () => {
      const ro = await ask();
      expect(ro.status).toBe(503);
      return (ro.errors?.[0]?.extensions as { reason?: string } | undefined)?.reason === 'READ_ONLY';
    });
    expect(await ready()).toBe(false);
    const readiness = (await (await fetch(`${hub.operatorUrl}/readyz`)).json()) as { audit?: { reason?: string } };
    expect(readiness.audit?.reason).toBe('READ_ONLY');
    mount(['-o', 'remount,rw', mnt]);
    unlinkSync(filler2);
    await until('the hub to be ready after the read-write remount', ready);
    for (let i = 0; i < 5; i++) expect((await ask()).status).toBe(200);

    const keysDir = hub.keysDir;
    const keyStore = hub.gateway.keyStore;
    await hub.server.close();
    await hub.gateway.stop();
    const report = await verifyAuditLog({ dir: auditDir, verify: auditVerifier({ keyStore }) });
    expect(report.problem ?? null).toBeNull();
    expect(report.ok).toBe(true);
    const reader = await openAuditLogReader({ dir: auditDir, subjectKeySecret: auditSubjectSecret(keysDir) });
    const logged = new Map<number, string>();
    for await (const record of reader.records({})) logged.set(record.seq, record.requestId);
    await reader.close();
    expect(acknowledged.size).toBeGreaterThanOrEqual(15);
    expect([...acknowledged].filter(([seq, id]) => logged.get(seq) !== id)).toEqual([]);
    await hub.sandboxes.close();
    rmSync(keysDir, { recursive: true, force: true });
    hub = undefined;
  }, 240_000);
});
