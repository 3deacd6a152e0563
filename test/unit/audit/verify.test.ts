import { cpSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { openAuditLog, verifyAuditLog, type AuditVerifyProgress } from '../../../src/audit';
import { canonicalJson } from '../../../src/audit/canonical-json';
import { canonicalBody, chainHash, type AuditRecord } from '../../../src/audit/record';
import { createTestKeys, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();
const SEGMENT = 'audit-000000000001.jsonl';
const SEGMENT_2 = 'audit-000000000011.jsonl';
const SEGMENT_3 = 'audit-000000000021.jsonl';
const HEADS = 'checkpoints.jsonl';

describe('verifying an audit log: every way to tamper is INVALID, located', () => {
  let pristine: string;
  let removePristine: () => void;
  let dir: string;
  let remove: () => void;

  // One log of 30 records in three segments of 10; tree heads at open (0), 10, 20, 30 and close (30).
  beforeAll(async () => {
    ({ dir: pristine, remove: removePristine } = tempDir());
    // The log signs a head at least every second by its timer: held still here, so that the heads are
    // exactly those above however long a busy machine takes to write the 30 records.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'performance', 'hrtime'] });
    try {
      const log = await openAuditLog({ dir: pristine, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, verify: keys.verify, checkpointEveryRecords: 1_000_000, segmentMaxRecords: 10 });
      for (let i = 1; i <= 30; i++) {
        await log.append(sampleRecord({ requestId: `r${i}`, consumer: `consumer-${i}` }));
        if (i % 10 === 0) await log.checkpoint();
      }
      await log.close();
    } finally {
      jest.useRealTimers();
    }
  });
  afterAll(() => removePristine());
  beforeEach(() => {
    ({ dir, remove } = tempDir());
    cpSync(pristine, dir, { recursive: true });
  });
  afterEach(() => remove());

  const read = (file = SEGMENT) => readFileSync(path.join(dir, file), 'utf8').split('\n').slice(0, -1);
  const write = (lines: string[], file = SEGMENT) => writeFileSync(path.join(dir, file), lines.map((l) => l + '\n').join(''));
  const verify = (options: { from?: number; to?: number; head?: string } = {}) => verifyAuditLog({ dir, verify: keys.verify, ...options });
  const rechain = (lines: string[], from: number, previous: string, change?: (r: AuditRecord) => void) => {
    for (let i = from; i < lines.length; i++) {
      const record = JSON.parse(lines[i]!) as AuditRecord;
      if (i === from) change?.(record);
      record.hash = chainHash(previous, canonicalBody(record));
      previous = record.hash;
      lines[i] = canonicalJson(record);
    }
    return previous;
  };

  it('accepts an untouched log and says how much it checked', async () => {
    expect(await verify()).toEqual({
      ok: true,
      chainId: expect.stringMatching(/^hub-1\//),
      firstSeq: 1,
      lastSeq: 30,
      records: 30,
      checkpoints: 5,
      heads: 5,
      signedThrough: 30,
      newestHead: { size: 30, root: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), time: expect.any(String), instance: 'hub-1' },
      unsigned: null,
      checkedAgainst: null,
      problem: null,
      notes: [],
    });
  });

  it('one changed byte: a hash mismatch at its seq', async () => {
    const lines = read(SEGMENT_2);
    lines[1] = lines[1]!.replace('consumer-12', 'consumer-13');
    write(lines, SEGMENT_2);
    expect((await verify()).problem).toEqual({ kind: 'HASH_MISMATCH', seq: 12, file: SEGMENT_2, line: 2, message: `hash mismatch at seq 12 (${SEGMENT_2} line 2): the record was changed` });
  });

  it('a changed byte that breaks the JSON: a malformed record at its seq', async () => {
    const lines = read(SEGMENT_2);
    lines[1] = lines[1]!.replace('{', '[');
    write(lines, SEGMENT_2);
    expect((await verify()).problem).toMatchObject({ kind: 'MALFORMED_RECORD', seq: 12, file: SEGMENT_2, line: 2 });
  });

  it('a changed field with its own hash recomputed: named by the next record, which keeps its original hash', async () => {
    const lines = read(SEGMENT_2);
    const twelve = JSON.parse(lines[1]!) as AuditRecord;
    twelve.consumer = 'someone-else';
    twelve.hash = chainHash((JSON.parse(lines[0]!) as AuditRecord).hash, canonicalBody(twelve));
    lines[1] = canonicalJson(twelve);
    write(lines, SEGMENT_2);
    expect((await verify()).problem).toEqual({
      kind: 'HASH_MISMATCH',
      seq: 12,
      file: SEGMENT_2,
      line: 2,
      message: `hash mismatch at seq 12 (${SEGMENT_2} line 2): the record was changed and its hash recomputed (seq 13 names its original hash)`,
    });
  });

  it('every later hash recomputed too: the Merkle root of the next signed head differs', async () => {
    const lines = [...read(SEGMENT_2), ...read(SEGMENT_3)];
    rechain(lines, 1, (JSON.parse(lines[0]!) as AuditRecord).hash, (r) => (r.consumer = 'someone-else'));
    write(lines.slice(0, 10), SEGMENT_2);
    write(lines.slice(10), SEGMENT_3);
    expect((await verify()).problem).toEqual({
      kind: 'HEAD_MISMATCH',
      seq: 20,
      file: HEADS,
      line: 3,
      message: expect.stringContaining("the log's records 1 to 20 differ from the tree head at checkpoints.jsonl line 3"),
    });
  });

  it('a deleted record: a sequence gap naming it', async () => {
    const lines = read(SEGMENT_2);
    lines.splice(1, 1);
    write(lines, SEGMENT_2);
    expect((await verify()).problem).toMatchObject({ kind: 'SEQUENCE_GAP', seq: 12, range: { from: 12, to: 12 }, file: SEGMENT_2, line: 2 });
  });

  it('a deleted range: a sequence gap naming the range', async () => {
    const lines = read(SEGMENT_2);
    lines.splice(2, 5);
    write(lines, SEGMENT_2);
    expect((await verify()).problem).toMatchObject({ kind: 'SEQUENCE_GAP', seq: 13, range: { from: 13, to: 17 } });
  });

  it('a deleted middle segment: a sequence gap naming its records', async () => {
    rmSync(path.join(dir, SEGMENT_2));
    expect((await verify()).problem).toMatchObject({ kind: 'SEQUENCE_GAP', seq: 11, range: { from: 11, to: 20 } });
  });

  it('deleted first segments: the missing range, as no retention record says they were pruned', async () => {
    rmSync(path.join(dir, SEGMENT));
    expect((await verify()).problem).toEqual({
      kind: 'MISSING_SEGMENTS',
      seq: 1,
      range: { from: 1, to: 10 },
      message: 'records 1 to 10 are missing (the oldest segments were removed) and no signed retention record says they were pruned',
    });
    rmSync(path.join(dir, SEGMENT_2));
    expect((await verify()).problem).toMatchObject({ kind: 'MISSING_SEGMENTS', range: { from: 1, to: 20 } });
  });

  it('a deleted last segment, or a cut tail: the records the signed heads attest are named missing', async () => {
    rmSync(path.join(dir, SEGMENT_3));
    expect((await verify()).problem).toMatchObject({ kind: 'TRUNCATED_TAIL', seq: 21, range: { from: 21, to: 30 }, file: HEADS });
    cpSync(pristine, dir, { recursive: true });
    write(read(SEGMENT_3).slice(0, 5), SEGMENT_3);
    expect((await verify()).problem).toMatchObject({ kind: 'TRUNCATED_TAIL', seq: 26, range: { from: 26, to: 30 } });
  });

  it('an incomplete last line: a truncated tail at its seq', async () => {
    const text = readFileSync(path.join(dir, SEGMENT_3), 'utf8');
    writeFileSync(path.join(dir, SEGMENT_3), text.slice(0, text.length - 40));
    expect((await verify()).problem).toMatchObject({ kind: 'TRUNCATED_TAIL', seq: 30, file: SEGMENT_3, line: 10 });
  });

  it('reordered records', async () => {
    const lines = read(SEGMENT_2);
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    write(lines, SEGMENT_2);
    expect((await verify()).problem).toMatchObject({ kind: 'REORDERED_RECORDS', seq: 12, file: SEGMENT_2, line: 3 });
  });

  it('a duplicated record', async () => {
    const lines = read(SEGMENT_2);
    lines.splice(3, 0, lines[2]!);
    write(lines, SEGMENT_2);
    expect((await verify()).problem).toMatchObject({ kind: 'INSERTED_RECORD', seq: 13, file: SEGMENT_2, line: 4, message: `record 13 appears twice: the copy at ${SEGMENT_2} line 4 was inserted` });
  });

  it('an inserted forgery that chains to the record before it', async () => {
    const lines = read(SEGMENT_2);
    const twelve = JSON.parse(lines[1]!) as AuditRecord;
    const forged = { ...twelve, seq: 13, requestId: 'forged', hash: '' };
    forged.hash = chainHash(twelve.hash, canonicalBody(forged));
    lines.splice(2, 0, canonicalJson(forged));
    write(lines, SEGMENT_2);
    expect((await verify()).problem).toMatchObject({ kind: 'INSERTED_RECORD', seq: 13, file: SEGMENT_2, line: 3 });
  });

  it('a forged record appended after the close: records after the closing head', async () => {
    const lines = read(SEGMENT_3);
    const last = JSON.parse(lines[9]!) as AuditRecord;
    const forged = { ...last, seq: 31, requestId: 'forged', hash: '' };
    forged.hash = chainHash(last.hash, canonicalBody(forged));
    write([...lines, canonicalJson(forged)], SEGMENT_3);
    expect((await verify()).problem).toMatchObject({ kind: 'RECORDS_AFTER_CLOSE', seq: 31, range: { from: 31, to: 31 } });
  });

  it('a head line deleted in the middle: the heads no longer chain', async () => {
    const heads = read(HEADS);
    heads.splice(2, 1);
    write(heads, HEADS);
    expect((await verify()).problem).toMatchObject({ kind: 'MISSING_HEAD', seq: 11, range: { from: 11, to: 30 }, file: HEADS, line: 3 });
  });

  it('the last head lines deleted from a closed log: the records after the newest head left, named', async () => {
    write(read(HEADS).slice(0, 3), HEADS);
    expect((await verify()).problem).toMatchObject({ kind: 'MISSING_HEAD', seq: 21, range: { from: 21, to: 30 } });
  });

  it('the first head lines deleted: the first head left names a previous one', async () => {
    write(read(HEADS).slice(2), HEADS);
    expect((await verify()).problem).toMatchObject({ kind: 'MISSING_HEAD', seq: 1, file: HEADS, line: 1 });
  });

  it('every head line, or the heads file, deleted: no head covers the records', async () => {
    write([], HEADS);
    expect((await verify()).problem).toMatchObject({ kind: 'MISSING_HEAD', seq: 1, range: { from: 1, to: 30 } });
    rmSync(path.join(dir, HEADS));
    expect((await verify()).problem).toMatchObject({ kind: 'MISSING_HEAD', seq: 1, range: { from: 1, to: 30 } });
  });

  it('head lines reordered or duplicated', async () => {
    const heads = read(HEADS);
    [heads[1], heads[2]] = [heads[2]!, heads[1]!];
    write(heads, HEADS);
    expect((await verify()).problem).toMatchObject({ kind: 'MISSING_HEAD', file: HEADS, line: 2 });
    const again = read(HEADS);
    write([...again.slice(0, 3), again[2]!, ...again.slice(3)], HEADS);
    cpSync(path.join(pristine, HEADS), path.join(dir, HEADS));
    const pristineHeads = read(HEADS);
    write([...pristineHeads.slice(0, 3), pristineHeads[2]!, ...pristineHeads.slice(3)], HEADS);
    expect((await verify()).problem).toMatchObject({ kind: 'MISSING_HEAD', file: HEADS, line: 4 });
  });

  it('a head whose signature does not verify, and one forged with another key', async () => {
    const heads = read(HEADS);
    const line = JSON.parse(heads[1]!) as { jws: string };
    const [h, p, s] = line.jws.split('.');
    line.jws = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
    heads[1] = JSON.stringify(line);
    write(heads, HEADS);
    expect((await verify()).problem).toMatchObject({ kind: 'BAD_CHECKPOINT_SIGNATURE', seq: 10, file: HEADS, line: 2 });
    expect((await verifyAuditLog({ dir: pristine, verify: createTestKeys().verify })).problem).toMatchObject({ kind: 'BAD_CHECKPOINT_SIGNATURE', seq: 0, line: 1 });
  });

  it('a head whose clear copy was changed: it differs from what was signed', async () => {
    const heads = read(HEADS);
    const line = JSON.parse(heads[2]!) as { checkpoint: { size: number } };
    line.checkpoint.size = 19;
    heads[2] = JSON.stringify(line);
    write(heads, HEADS);
    expect((await verify()).problem).toMatchObject({ kind: 'CHECKPOINT_MISMATCH', file: HEADS, line: 3 });
  });

  it('a fabricated log: another chain whose heads are not the hub\'s, or with no heads at all', async () => {
    const other = tempDir();
    try {
      const forger = createTestKeys();
      const log = await openAuditLog({ dir: other.dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: forger.sign });
      for (let i = 1; i <= 5; i++) await log.append(sampleRecord({ requestId: `f${i}` }));
      await log.close();
      expect((await verifyAuditLog({ dir: other.dir, verify: keys.verify })).problem).toMatchObject({ kind: 'BAD_CHECKPOINT_SIGNATURE', line: 1 });
      rmSync(path.join(other.dir, HEADS));
      expect((await verifyAuditLog({ dir: other.dir, verify: keys.verify })).problem).toMatchObject({ kind: 'MISSING_HEAD', range: { from: 1, to: 5 } });
      // Checked against a head the hub really signed (from a receipt): another chain.
      const real = read(HEADS)[3]!;
      expect((await verifyAuditLog({ dir: other.dir, verify: keys.verify, head: real })).problem).toMatchObject({ kind: 'FOREIGN_CHAIN', seq: 1 });
    } finally {
      other.remove();
    }
  });

  it('a rollback to an earlier copy: valid on its own, INVALID against a head kept from a receipt', async () => {
    const later = read(HEADS)[4]!; // the closing head, as a receipt or the keys directory keeps it
    // The earlier copy: the log as it stood at 20 records.
    write(read(HEADS).slice(0, 3), HEADS);
    rmSync(path.join(dir, SEGMENT_3));
    expect((await verify()).ok).toBe(true);
    expect((await verify({ head: later })).problem).toEqual({
      kind: 'ROLLED_BACK',
      seq: 21,
      range: { from: 21, to: 30 },
      message: expect.stringContaining('records 21 to 30 are missing (a rollback or a cut tail)'),
    });
  });

  it('checks the log against a head kept outside it: agrees, or names the rewrite or the removed head line', async () => {
    const kept = read(HEADS)[2]!; // size 20
    expect(await verify({ head: kept })).toMatchObject({ ok: true, checkedAgainst: { size: 20 } });
    const heads = read(HEADS);
    write([...heads.slice(0, 2), ...heads.slice(3)], HEADS);
    expect((await verify({ head: kept })).ok).toBe(false);
    cpSync(path.join(pristine, HEADS), path.join(dir, HEADS));
    const lines = [...read(SEGMENT_2), ...read(SEGMENT_3)];
    rechain(lines, 1, (JSON.parse(lines[0]!) as AuditRecord).hash, (r) => (r.consumer = 'x'));
    write(lines.slice(0, 10), SEGMENT_2);
    write(lines.slice(10), SEGMENT_3);
    write(read(HEADS).slice(0, 2), HEADS);
    // Heads after 10 removed too: only the kept head shows the rewrite.
    const report = await verify({ head: kept });
    expect(report.problem).toMatchObject({ kind: 'HEAD_MISMATCH', seq: 20 });
  });

  it('verifies a range from the start (every leaf counts for the roots) and stops at `to`', async () => {
    expect(await verify({ from: 15, to: 25 })).toMatchObject({ ok: true, lastSeq: 25 });
  });

  it('reports progress, ending with every byte read', async () => {
    const seen: AuditVerifyProgress[] = [];
    await verifyAuditLog({ dir, verify: keys.verify, onProgress: (p) => seen.push(p) });
    const last = seen[seen.length - 1]!;
    expect(last.records).toBe(30);
    expect(last.bytes).toBe(last.totalBytes);
  });

  it('cannot check a log without its chain description', async () => {
    rmSync(path.join(dir, 'chain.json'));
    expect((await verify()).problem).toEqual({ kind: 'MISSING_CHAIN', seq: 0, file: 'chain.json', message: 'chain.json is missing or unreadable, so the chain cannot be checked' });
  });
});

describe('what verification accepts', () => {
  it('a torn tail after a crash, cut by the next open: valid, every record under a head', async () => {
    const { dir, remove } = tempDir();
    try {
      const log = await openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, verify: keys.verify });
      for (let i = 0; i < 5; i++) await log.append(sampleRecord({ requestId: `r${i}` }));
      await log.checkpoint();
      // A crash: the lock stays, a record is half written.
      const segment = readdirSync(dir).find((f) => f.startsWith('audit-') && f.endsWith('.jsonl'))!;
      writeFileSync(path.join(dir, segment), readFileSync(path.join(dir, segment), 'utf8') + '{"v":3,"seq":6');
      await (log as unknown as { sink: { close(): Promise<void> } }).sink.close();
      expect((await verifyAuditLog({ dir, verify: keys.verify })).problem).toMatchObject({ kind: 'TRUNCATED_TAIL', seq: 6 });
      const reopened = await openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, verify: keys.verify });
      await reopened.append(sampleRecord({ requestId: 'after' }));
      await reopened.close();
      expect(await verifyAuditLog({ dir, verify: keys.verify })).toMatchObject({ ok: true, lastSeq: 6, signedThrough: 6, unsigned: null });
    } finally {
      remove();
    }
  });

  it('records written in the last moment before a crash: valid, reported as unsigned', async () => {
    const { dir, remove } = tempDir();
    try {
      const log = await openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, verify: keys.verify });
      for (let i = 0; i < 3; i++) await log.append(sampleRecord({ requestId: `r${i}` }));
      await log.checkpoint();
      await log.append(sampleRecord({ requestId: 'last' }));
      // A crash: no closing head, and the LOCK of the process that died stays behind.
      await (log as unknown as { sink: { close(): Promise<void> } }).sink.close();
      writeFileSync(path.join(dir, 'LOCK'), '999999\n');
      expect(await verifyAuditLog({ dir, verify: keys.verify })).toMatchObject({ ok: true, signedThrough: 3, unsigned: { from: 4, to: 4 } });
      // Without the LOCK the log says it was closed: then the missing closing head was removed.
      rmSync(path.join(dir, 'LOCK'));
      expect((await verifyAuditLog({ dir, verify: keys.verify })).problem).toMatchObject({ kind: 'MISSING_HEAD', seq: 4, range: { from: 4, to: 4 } });
    } finally {
      remove();
    }
  });

  it('a log whose oldest segments retention removed under a signed retention record', async () => {
    const { dir, remove } = tempDir();
    let now = Date.parse('2026-01-01T00:00:00Z');
    try {
      const open = () => openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, verify: keys.verify, segmentMaxRecords: 10, now: () => new Date(now) });
      const log = await open();
      for (let i = 1; i <= 25; i++) await log.append(sampleRecord({ requestId: `r${i}` }));
      await log.close();
      now += 200 * 86_400_000;
      const later = await open(); // retention runs at open
      await later.append(sampleRecord({ requestId: 'later' }));
      const proof = await later.inclusionProof(26);
      expect(proof.treeSize).toBeGreaterThanOrEqual(26);
      await later.close();
      expect(readdirSync(dir).filter((f) => f.startsWith('audit-0') && f.endsWith('.jsonl')).sort()).toEqual(['audit-000000000021.jsonl']);
      const report = await verifyAuditLog({ dir, verify: keys.verify });
      expect(report).toMatchObject({ ok: true, firstSeq: 21, lastSeq: 26, signedThrough: 26 });
      expect(report.notes).toContainEqual(expect.stringContaining('records 1 to 20 were removed by retention'));
      // Reopened once more: the tree starts from the retention record's frontier.
      const again = await open();
      await again.append(sampleRecord({ requestId: 'again' }));
      await again.close();
      expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
    } finally {
      remove();
    }
  });
});

describe('verifying a log of several segments', () => {
  it('reports progress across segments, ending with every byte read', async () => {
    const { dir, remove } = tempDir();
    try {
      const log = await openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, segmentMaxRecords: 7 });
      for (let i = 0; i < 30; i++) await log.append(sampleRecord({ requestId: `r${i}` }));
      await log.close();
      const seen: AuditVerifyProgress[] = [];
      const report = await verifyAuditLog({ dir, verify: keys.verify, onProgress: (p) => seen.push(p) });
      expect(report).toMatchObject({ ok: true, records: 30 });
      const last = seen[seen.length - 1]!;
      expect(last).toEqual({ records: 30, bytes: last.totalBytes, totalBytes: expect.any(Number) });
      expect(last.totalBytes).toBeGreaterThan(30 * 500);
    } finally {
      remove();
    }
  });
});
