import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openAuditLog, verifyAuditLog, type AuditLog, type AuditLogOptions } from '../../../src/audit';
import { canonicalJson } from '../../../src/audit/canonical-json';
import { chainHash, genesisHash, type AuditRecord } from '../../../src/audit/record';
import { CITIZEN_A, CITIZEN_B, createTestKeys, instrumentedFs, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();

function lines(dir: string, file: string): string[] {
  return readFileSync(path.join(dir, file), 'utf8').split('\n').filter((l) => l.length > 0);
}

function records(dir: string): AuditRecord[] {
  return readdirSync(dir)
    .filter((f) => /^audit-\d{12}\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => lines(dir, f).map((l) => JSON.parse(l) as AuditRecord));
}

describe('the audit log', () => {
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

  it('acknowledges each record with its seq and the hash that chains it to the previous one', async () => {
    log = await open({ chainId: 'test-chain' });
    const first = await log.append(sampleRecord({ requestId: 'r1' }));
    const second = await log.append(sampleRecord({ requestId: 'r2' }));
    expect([first.seq, second.seq]).toEqual([1, 2]);
    const [r1, r2] = records(dir) as [AuditRecord, AuditRecord];
    const { hash: _h1, ...body1 } = r1;
    const { hash: _h2, ...body2 } = r2;
    expect(first.hash).toBe(chainHash(genesisHash('test-chain'), canonicalJson(body1)));
    expect(second.hash).toBe(chainHash(first.hash, canonicalJson(body2)));
    expect(r1.hash).toBe(first.hash);
  });

  it('stores each line in canonical form with everything the issue asks for', async () => {
    log = await open({ chainId: 'test-chain' });
    await log.append(sampleRecord());
    const [line] = lines(dir, 'audit-000000000001.jsonl');
    const record = JSON.parse(line!) as AuditRecord;
    expect(canonicalJson(record)).toBe(line);
    expect(record).toEqual({
      v: 3,
      seq: 1,
      prev: genesisHash('test-chain'),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      instance: 'hub-1',
      requestId: 'req-1',
      correlationId: null,
      source: null,
      hashed: [],
      consumer: 'civil-affairs',
      operator: 'op-0042',
      purpose: 'LIVING_ALLOWANCE',
      caseNumber: 'MZ-2025-000001',
      operationName: 'LivingAllowance',
      operationHash: 'a'.repeat(64),
      subjects: [{ kind: 'PERSON', key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), mask: '110105********002X' }],
      fields: { 'real-estate': ['Person.properties'], tax: ['Person.taxRecords'] },
      outcome: 'GRANTED',
      errorCodes: [],
      replyHash: 'b'.repeat(64),
      receiptId: 'rcpt-1',
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('never writes a subject identifier, only its keyed hash and its mask', async () => {
    log = await open();
    await log.append(sampleRecord({ subjects: [{ kind: 'PERSON', id: CITIZEN_A }, { kind: 'PERSON', id: CITIZEN_B }] }));
    await log.close();
    const files = readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n');
    expect(files).not.toContain(CITIZEN_A);
    expect(files).not.toContain(CITIZEN_B);
    expect(files).toContain('371702********1235');
  });

  it('groups the fsyncs of concurrent appends: 500 appends, a handful of fsyncs', async () => {
    const { fs, counts, reset } = instrumentedFs();
    log = await open({ fs });
    reset();
    const acks = await Promise.all(Array.from({ length: 500 }, (_, i) => log!.append(sampleRecord({ requestId: `r${i}` }))));
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(counts.segmentDatasync).toBeLessThanOrEqual(2);
    expect(counts.segmentWrite).toBe(counts.segmentDatasync);
  });

  it('puts appends that arrive while an fsync is in flight into the next batch', async () => {
    const { fs, counts, reset } = instrumentedFs();
    let release!: () => void;
    let gate: Promise<void> | undefined;
    const slowFs = { ...fs, datasync: async (fd: number) => (await gate, fs.datasync(fd)) };
    log = await open({ fs: slowFs });
    reset();
    gate = new Promise<void>((resolve) => (release = resolve));
    const first = log.append(sampleRecord({ requestId: 'first' }));
    await new Promise((r) => setTimeout(r, 20)); // the first batch is now waiting in fsync
    const later = Array.from({ length: 50 }, (_, i) => log!.append(sampleRecord({ requestId: `later-${i}` })));
    release();
    await Promise.all([first, ...later]);
    expect(counts.segmentWrite).toBe(2);
    expect(counts.segmentDatasync).toBe(2);
  });

  it('fsyncs once per record when appends wait for each other', async () => {
    const { fs, counts, reset } = instrumentedFs();
    log = await open({ fs });
    reset();
    for (let i = 0; i < 20; i++) await log.append(sampleRecord({ requestId: `r${i}` }));
    expect(counts.segmentDatasync).toBe(20);
  });

  it('refuses a malformed record, naming the field and not its value, without using up a seq', async () => {
    log = await open();
    const bad = log.append(sampleRecord({ outcome: 'MAYBE' as never }));
    await expect(bad).rejects.toMatchObject({ code: 'AUDIT_RECORD_INVALID', message: 'Audit record field "outcome" must be one of GRANTED, DENIED, FAILED, PARTIAL.' });
    await expect(log.append(sampleRecord({ subjects: [{ kind: 'PET' as never, id: 'x' }] }))).rejects.toMatchObject({
      code: 'AUDIT_RECORD_INVALID',
      message: 'Audit record field "subjects" must hold {kind, id} with kind one of PERSON, ENTERPRISE, PROPERTY.',
    });
    expect((await log.append(sampleRecord())).seq).toBe(1);
  });

  it('refuses appends once closed, as AUDIT_UNAVAILABLE', async () => {
    log = await open();
    await log.close();
    await expect(log.append(sampleRecord())).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
      message: 'The audit log is unavailable: the log is closed.',
      extensions: { code: 'AUDIT_UNAVAILABLE', reason: 'CLOSED' },
    });
    expect(log.health()).toMatchObject({ writable: false, reason: 'CLOSED' });
  });

  it('refuses a second writer on the same directory', async () => {
    log = await open();
    await expect(open()).rejects.toMatchObject({ code: 'AUDIT_LOG_LOCKED', message: `The audit log in ${dir} is held by process ${process.pid}.` });
  });

  it('continues the chain when reopened', async () => {
    log = await open();
    await log.append(sampleRecord());
    await log.close();
    log = await open();
    expect((await log.append(sampleRecord())).seq).toBe(2);
    await log.close();
    expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
  });

  it('signs a tree head at open, every N records, when asked and on close, each naming the one before', async () => {
    log = await open({ checkpointEveryRecords: 5 });
    for (let i = 0; i < 12; i++) await log.append(sampleRecord({ requestId: `r${i}` }));
    await log.checkpoint();
    await log.close();
    const heads = lines(dir, 'checkpoints.jsonl').map((l) => JSON.parse(l) as { checkpoint: { size: number; reason: string; prev: string | null; typ: string }; jws: string });
    // A busy machine may take more than a second over the twelve appends: the once-a-second heads ('tick') it then signs
    // are in the chain like the others, but not what this test counts.
    expect(heads.filter((h) => h.checkpoint.reason !== 'tick').map((h) => [h.checkpoint.size, h.checkpoint.reason])).toEqual([[0, 'start'], [5, 'count'], [10, 'count'], [12, 'manual'], [12, 'close']]);
    expect(heads[0]!.checkpoint.prev).toBeNull();
    for (let i = 1; i < heads.length; i++) expect(heads[i]!.checkpoint.prev).toBe(createHash('sha256').update(heads[i - 1]!.jws).digest('base64url'));
    expect(heads.every((h) => h.checkpoint.typ === 'datarun-audit/1 tree-head')).toBe(true);
    const report = await verifyAuditLog({ dir, verify: keys.verify });
    expect(report).toMatchObject({ ok: true, heads: 5, signedThrough: 12 });
  });

  it('signs a checkpoint after T milliseconds when records were added', async () => {
    log = await open({ checkpointEveryMs: 100, checkpointEveryRecords: 1000 });
    await log.append(sampleRecord());
    await new Promise((r) => setTimeout(r, 350));
    expect(lines(dir, 'checkpoints.jsonl')).toHaveLength(2); // the start head and one tick
    expect(log.health()).toEqual({ writable: true, seq: 1, checkpointSeq: 1 });
  });

  it('rotates segments by record count', async () => {
    log = await open({ segmentMaxRecords: 10, checkpointEveryRecords: 1000 });
    for (let i = 0; i < 25; i++) await log.append(sampleRecord({ requestId: `r${i}` }));
    await log.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.jsonl') && f.startsWith('audit-')).sort()).toEqual([
      'audit-000000000001.jsonl',
      'audit-000000000011.jsonl',
      'audit-000000000021.jsonl',
    ]);
    const sizes = lines(dir, 'checkpoints.jsonl').map((l) => (JSON.parse(l) as { checkpoint: { size: number } }).checkpoint.size);
    expect(sizes).toEqual([0, 25]);
    expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
  });

  it('rotates segments by size, never splitting a batch', async () => {
    log = await open({ segmentMaxBytes: 4096 });
    for (let i = 0; i < 20; i++) await log.append(sampleRecord({ requestId: `r${i}` }));
    await log.close();
    const segments = readdirSync(dir).filter((f) => /^audit-\d{12}\.jsonl$/.test(f));
    expect(segments.length).toBeGreaterThan(1);
    for (const f of segments) expect(readFileSync(path.join(dir, f)).length).toBeLessThanOrEqual(4096);
  });

  it('removes whole segments older than the retention period, keeping the active one, and still verifies', async () => {
    let now = Date.parse('2025-01-01T00:00:00Z');
    const clock = () => new Date(now);
    log = await open({ segmentMaxRecords: 10, now: clock });
    for (let i = 0; i < 25; i++) await log.append(sampleRecord({ requestId: `old-${i}` }));
    await log.close();
    now += 181 * 86_400_000;
    log = await open({ segmentMaxRecords: 10, now: clock });
    expect(readdirSync(dir).filter((f) => /^audit-\d{12}\.jsonl$/.test(f))).toEqual(['audit-000000000021.jsonl']);
    await log.append(sampleRecord({ requestId: 'new' }));
    const page = await log.queryAccessLog({ consumer: 'civil-affairs' }, { first: 50 });
    expect(page.edges.map((e) => e.node.seq)).toEqual([26, 25, 24, 23, 22, 21]);
    await log.close();
    const report = await verifyAuditLog({ dir, verify: keys.verify });
    expect(report).toMatchObject({ ok: true, firstSeq: 21, lastSeq: 26 });
  });

  it('refuses to open when its first head cannot be signed, and leaves the directory unlocked', async () => {
    const failingSign = () => {
      throw new Error('the seal module is down');
    };
    await expect(open({ sign: failingSign })).rejects.toThrow('the seal module is down');
    log = await open();
    await log.append(sampleRecord());
    expect(log.health()).toMatchObject({ writable: true, seq: 1 });
  });

  it('refuses a retention shorter than 180 days, naming the setting', async () => {
    await expect(open({ retentionDays: 30 })).rejects.toMatchObject({
      code: 'AUDIT_OPTIONS_INVALID',
      message: 'Audit option "retentionDays" must be an integer of at least 180.',
    });
  });

  it('refuses a subject-key secret shorter than 32 bytes', async () => {
    await expect(open({ subjectKeySecret: 'short' })).rejects.toMatchObject({
      code: 'AUDIT_OPTIONS_INVALID',
      message: 'Audit option "subjectKeySecret" must be at least 32 bytes.',
    });
  });
});
