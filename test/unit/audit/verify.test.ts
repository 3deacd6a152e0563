import { cpSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { openAuditLog, verifyAuditLog, type AuditVerifyProgress } from '../../../src/audit';
import { canonicalJson } from '../../../src/audit/canonical-json';
import { canonicalBody, chainHash, type AuditRecord } from '../../../src/audit/record';
import { createTestKeys, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();
const SEGMENT = 'audit-000000000001.jsonl';

describe('verifying an audit log', () => {
  let pristine: string;
  let removePristine: () => void;
  let dir: string;
  let remove: () => void;

  // One log of 30 records, checkpoints at 10, 20 and 30; each test tampers with a copy.
  beforeAll(async () => {
    ({ dir: pristine, remove: removePristine } = tempDir());
    const log = await openAuditLog({ dir: pristine, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, checkpointEveryRecords: 10 });
    for (let i = 1; i <= 30; i++) await log.append(sampleRecord({ requestId: `r${i}`, consumer: `consumer-${i}` }));
    await log.close();
  });
  afterAll(() => removePristine());
  beforeEach(() => {
    ({ dir, remove } = tempDir());
    cpSync(pristine, dir, { recursive: true });
  });
  afterEach(() => remove());

  const read = (file = SEGMENT) => readFileSync(path.join(dir, file), 'utf8').split('\n').slice(0, -1);
  const write = (lines: string[], file = SEGMENT) => writeFileSync(path.join(dir, file), lines.map((l) => l + '\n').join(''));
  const verify = (options: { from?: number; to?: number } = {}) => verifyAuditLog({ dir, verify: keys.verify, ...options });

  it('accepts an untouched log and says how much it checked', async () => {
    expect(await verify()).toEqual({
      ok: true,
      chainId: expect.stringMatching(/^hub-1\//),
      firstSeq: 1,
      lastSeq: 30,
      records: 30,
      checkpoints: 3,
      signedThrough: 30,
      problem: null,
      notes: [],
    });
  });

  it('locates a changed byte as a hash mismatch at its seq', async () => {
    const lines = read();
    lines[11] = lines[11]!.replace('consumer-12', 'consumer-13');
    write(lines);
    expect((await verify()).problem).toEqual({
      kind: 'HASH_MISMATCH',
      seq: 12,
      file: SEGMENT,
      line: 12,
      message: `hash mismatch at seq 12 (${SEGMENT} line 12): the record was changed`,
    });
  });

  it('locates a changed byte that breaks the JSON as a malformed record', async () => {
    const lines = read();
    lines[11] = lines[11]!.replace('{', '[');
    write(lines);
    expect((await verify()).problem).toEqual({
      kind: 'MALFORMED_RECORD',
      seq: 12,
      file: SEGMENT,
      line: 12,
      message: `the line where seq 12 belongs (${SEGMENT} line 12) is not valid JSON: bytes were changed`,
    });
  });

  it('locates a changed seq as a hash mismatch, not as missing records', async () => {
    const lines = read();
    lines[11] = lines[11]!.replace('"seq":12', '"seq":19');
    write(lines);
    expect((await verify()).problem).toMatchObject({ kind: 'HASH_MISMATCH', seq: 12, line: 12 });
  });

  it('locates a deleted record as a sequence gap', async () => {
    const lines = read();
    lines.splice(11, 1);
    write(lines);
    expect((await verify()).problem).toEqual({
      kind: 'SEQUENCE_GAP',
      seq: 12,
      file: SEGMENT,
      line: 12,
      message: `seq 12 is missing after seq 11: records were deleted before ${SEGMENT} line 12`,
    });
  });

  it('locates an inserted copy of an earlier record', async () => {
    const lines = read();
    lines.splice(12, 0, lines[4]!);
    write(lines);
    expect((await verify()).problem).toEqual({
      kind: 'INSERTED_RECORD',
      seq: 13,
      file: SEGMENT,
      line: 13,
      message: `a record claiming seq 5 was inserted at ${SEGMENT} line 13, after seq 12`,
    });
  });

  it('locates an inserted forgery that chains correctly to the record before it', async () => {
    const lines = read();
    const twelve = JSON.parse(lines[11]!) as AuditRecord;
    const forged = { ...twelve, seq: 13, requestId: 'forged', hash: '' };
    forged.hash = chainHash(twelve.hash, canonicalBody(forged));
    lines.splice(12, 0, canonicalJson(forged));
    write(lines);
    expect((await verify()).problem).toEqual({
      kind: 'INSERTED_RECORD',
      seq: 13,
      file: SEGMENT,
      line: 13,
      message: `the record at ${SEGMENT} line 13 was inserted: the next record also continues the chain from seq 12`,
    });
  });

  it('locates reordered records', async () => {
    const lines = read();
    [lines[11], lines[12]] = [lines[12]!, lines[11]!];
    write(lines);
    expect((await verify()).problem).toEqual({
      kind: 'REORDERED_RECORDS',
      seq: 12,
      file: SEGMENT,
      line: 13,
      message: `seq 12 appears at ${SEGMENT} line 13, after seq 13 (${SEGMENT} line 12): records were reordered`,
    });
  });

  it('reports an incomplete last line as a truncated tail', async () => {
    const text = readFileSync(path.join(dir, SEGMENT), 'utf8');
    writeFileSync(path.join(dir, SEGMENT), text.slice(0, text.length - 40));
    expect((await verify()).problem).toEqual({
      kind: 'TRUNCATED_TAIL',
      seq: 30,
      file: SEGMENT,
      line: 30,
      message: `the last line of ${SEGMENT} (line 30) is incomplete: the log ends after seq 29 with a torn record`,
    });
  });

  it('reports records cut off cleanly at a line end when a checkpoint attests them', async () => {
    write(read().slice(0, 25));
    expect((await verify()).problem).toEqual({
      kind: 'TRUNCATED_TAIL',
      seq: 26,
      file: 'checkpoints.jsonl',
      line: 3,
      message: 'a signed checkpoint attests seq 30 but the log ends at seq 25: records after it were removed',
    });
  });

  it('reports a checkpoint whose signature does not verify', async () => {
    const checkpoints = read('checkpoints.jsonl');
    const line = JSON.parse(checkpoints[1]!) as { jws: string };
    const [h, p, s] = line.jws.split('.');
    line.jws = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
    checkpoints[1] = JSON.stringify(line);
    write(checkpoints, 'checkpoints.jsonl');
    expect((await verify()).problem).toEqual({
      kind: 'BAD_CHECKPOINT_SIGNATURE',
      seq: 20,
      file: 'checkpoints.jsonl',
      line: 2,
      message: 'the checkpoint at seq 20 (checkpoints.jsonl line 2) has a bad signature',
    });
  });

  it('refuses checkpoints signed by a key other than the hub’s', async () => {
    const report = await verifyAuditLog({ dir, verify: createTestKeys().verify });
    expect(report.problem).toMatchObject({ kind: 'BAD_CHECKPOINT_SIGNATURE', seq: 10, line: 1 });
  });

  it('catches a rewrite that recomputed every hash after it at the next signed checkpoint', async () => {
    const lines = read();
    let previous = (JSON.parse(lines[10]!) as AuditRecord).hash;
    for (let i = 11; i < lines.length; i++) {
      const record = JSON.parse(lines[i]!) as AuditRecord;
      if (i === 11) record.consumer = 'someone-else';
      record.hash = chainHash(previous, canonicalBody(record));
      previous = record.hash;
      lines[i] = canonicalJson(record);
    }
    write(lines);
    expect((await verify()).problem).toEqual({
      kind: 'CHECKPOINT_MISMATCH',
      seq: 20,
      file: 'checkpoints.jsonl',
      line: 2,
      message: "the log's hash at seq 20 differs from the signed checkpoint (checkpoints.jsonl line 2): records up to seq 20 were rewritten",
    });
  });

  it('verifies a range from the nearest signed checkpoint before it', async () => {
    const lines = read();
    lines[3] = lines[3]!.replace('consumer-4', 'consumer-5'); // outside the range
    write(lines);
    expect(await verify({ from: 15, to: 25 })).toMatchObject({ ok: true, firstSeq: 11, lastSeq: 25, records: 15 });
  });

  it('says that records after the newest checkpoint are not yet signed', async () => {
    const checkpoints = read('checkpoints.jsonl');
    write(checkpoints.slice(0, 2), 'checkpoints.jsonl');
    expect(await verify()).toMatchObject({ ok: true, signedThrough: 20, notes: ['records after seq 20 are chained but not yet covered by a signed checkpoint'] });
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
    expect((await verify()).problem).toEqual({
      kind: 'MISSING_CHAIN',
      seq: 0,
      file: 'chain.json',
      message: 'chain.json is missing or unreadable, so the chain cannot be checked',
    });
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
      expect(report).toMatchObject({ ok: true, records: 30, checkpoints: 5 });
      const last = seen[seen.length - 1]!;
      expect(last).toEqual({ records: 30, bytes: last.totalBytes, totalBytes: expect.any(Number) });
      expect(last.totalBytes).toBeGreaterThan(30 * 500);
    } finally {
      remove();
    }
  });
});
