import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportAuditRecords, openAuditLog, openAuditLogReader, verifyAuditLog, type AuditLog, type AuditLogOptions, type AuditRecord } from '../../../src/audit';
import { canonicalJson } from '../../../src/audit/canonical-json';
import { CHECKPOINT_TYPE, signCheckpoint } from '../../../src/audit/checkpoint';
import { canonicalBody, chainHash, genesisHash, hashedValue, storable, UNSTORABLE_MASK } from '../../../src/audit/record';
import { CITIZEN_A, createTestKeys, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();
const SEGMENT = 'audit-000000000001.jsonl';
const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('storable', () => {
  it('keeps a string of 1 to 256 well-formed characters without controls', () => {
    expect(storable('MZ-2025-000001')).toEqual({ value: 'MZ-2025-000001', hashed: false });
    expect(storable('x'.repeat(256))).toEqual({ value: 'x'.repeat(256), hashed: false });
    expect(storable('经办人 王丽 😀')).toEqual({ value: '经办人 王丽 😀', hashed: false });
  });

  it('hashes what cannot be stored as given: too long, a lone surrogate, a control character, empty', () => {
    expect(storable('x'.repeat(257))).toEqual({ value: sha256('x'.repeat(257)), hashed: true });
    expect(storable('')).toEqual({ value: sha256(''), hashed: true });
    for (const control of ['a\nb', 'a\u0000b', 'a\u007fb', 'a\u0085b', 'a\u2028b', 'a\u202eb', 'a\u2066b']) {
      expect(storable(control)).toEqual({ value: sha256(Buffer.from(control, 'utf8')), hashed: true });
    }
  });

  it('hashes a lone surrogate as U+FFFD in UTF-8', () => {
    expect(storable('a\ud800b')).toEqual({ value: sha256(Buffer.from('a\ufffdb', 'utf8')), hashed: true });
    expect(storable('a\udc00')).toEqual({ value: sha256(Buffer.from('a\ufffd', 'utf8')), hashed: true });
    expect(hashedValue('\ud83d')).toBe(sha256(Buffer.from([0xef, 0xbf, 0xbd])));
  });

  it('takes another cap when given', () => {
    expect(storable('x'.repeat(65), 64).hashed).toBe(true);
  });
});

describe('records whatever the client sent', () => {
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
  const stored = (): AuditRecord[] =>
    readdirSync(dir)
      .filter((f) => /^audit-\d{12}\.jsonl$/.test(f))
      .sort()
      .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord));

  it('stores the correlation id and the source beside the hub-made request id', async () => {
    log = await open();
    await log.append(sampleRecord({ correlationId: 'client-trace-42', source: '2001:db8:1:2::/64' }));
    expect(stored()[0]).toMatchObject({ v: 3, requestId: 'req-1', correlationId: 'client-trace-42', source: '2001:db8:1:2::/64', hashed: [] });
  });

  it('gives one record for a 500 000-character correlation id, a lone surrogate and an empty operation name', async () => {
    log = await open();
    const huge = 'x'.repeat(500_000);
    await log.append(sampleRecord({ requestId: 'r1', correlationId: huge }));
    await log.append(sampleRecord({ requestId: 'r2', consumer: 'civil\ud800affairs', caseNumber: 'MZ\n2025' }));
    await log.append(sampleRecord({ requestId: 'r3', operationName: '' }));
    const [r1, r2, r3] = stored();
    expect(r1).toMatchObject({ requestId: 'r1', correlationId: sha256(huge), hashed: ['correlationId'] });
    expect(r2).toMatchObject({ requestId: 'r2', consumer: sha256(Buffer.from('civil\ufffdaffairs')), caseNumber: sha256('MZ\n2025'), hashed: ['caseNumber', 'consumer'] });
    // An empty operation name is an anonymous operation: null, not a hash.
    expect(r3).toMatchObject({ requestId: 'r3', operationName: null, hashed: [] });
    expect(readFileSync(path.join(dir, SEGMENT)).length).toBeLessThan(10_000);
    expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
  });

  it('hashes empty, odd or oversized operators, purposes, subject ids, coordinates and error codes instead of refusing the record', async () => {
    log = await open();
    await log.append(
      sampleRecord({
        operator: '',
        purpose: 'P'.repeat(300),
        subjects: [{ kind: 'PERSON', id: CITIZEN_A }, { kind: 'PERSON', id: '9'.repeat(100_000) }, { kind: 'PERSON', id: '  ' }],
        fields: { tax: ['Person.taxRecords', 'Person.\u0000'], 'Bad Dept': ['Person.x'], 'real-estate': Array.from({ length: 2000 }, (_, i) => `Person.field${i}`) },
        errorCodes: ['POLICY_DENIED', 'not a code', 'POLICY_DENIED'],
      }),
    );
    const [r] = stored();
    expect(r!.hashed).toEqual(['errorCodes', 'fields', 'operator', 'purpose', 'subjects']);
    expect(r!.operator).toBe(sha256(''));
    expect(r!.purpose).toBe(sha256('P'.repeat(300)));
    expect(r!.subjects.map((s) => s.mask)).toEqual(['110105********002X', UNSTORABLE_MASK, UNSTORABLE_MASK]);
    expect(JSON.stringify(r)).not.toContain('9'.repeat(64));
    expect(r!.fields.tax).toEqual(['Person.taxRecords', sha256(Buffer.from('Person.\u0000'))].sort());
    expect(r!.fields[sha256('Bad Dept')]).toEqual(['Person.x']);
    expect(r!.fields['real-estate']).toHaveLength(1);
    expect(r!.fields['real-estate']![0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r!.errorCodes).toEqual(['POLICY_DENIED', sha256('not a code')]);
  });

  it('finds a subject stored with a hashed mask by its identifier', async () => {
    log = await open();
    const odd = `${CITIZEN_A}\u0000`;
    await log.append(sampleRecord({ subjects: [{ kind: 'PERSON', id: odd }] }));
    const page = await log.queryAccessLog({ subject: { kind: 'PERSON', id: odd } });
    expect(page.edges).toHaveLength(1);
    expect(page.edges[0]!.node.subjects[0]!.mask).toBe(UNSTORABLE_MASK);
  });

  it('stores an aggregate with its count and window, and refuses a malformed one (a programming error)', async () => {
    log = await open();
    const window = { from: '2025-06-01T09:00:00.000Z', to: '2025-06-01T09:00:01.000Z' };
    await log.append(sampleRecord({ requestId: 'agg-1748768400-1', consumer: null, source: '203.0.113.7', outcome: 'DENIED', errorCodes: ['UNAUTHENTICATED'], count: 10_000, window }));
    expect(stored()[0]).toMatchObject({ count: 10_000, window, source: '203.0.113.7' });
    await expect(log.append(sampleRecord({ count: 0, window }))).rejects.toMatchObject({ code: 'AUDIT_RECORD_INVALID' });
    await expect(log.append(sampleRecord({ count: 3 }))).rejects.toMatchObject({ code: 'AUDIT_RECORD_INVALID' });
  });

  it('exports the new fields as the last CSV columns', async () => {
    log = await open();
    await log.append(sampleRecord({ correlationId: 'trace-1', source: '198.51.100.1', operator: '' }));
    await log.close();
    log = undefined;
    const out = path.join(dir, 'export.csv');
    await exportAuditRecords({ dir, filter: {}, format: 'csv', out, sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET });
    const [header, row] = readFileSync(out, 'utf8').split('\r\n');
    // Then the federation columns (docs/federation.md), empty for a request within the hub.
    expect(header!.endsWith(',v,correlationId,source,hashed,count,windowFrom,windowTo,federationRequestId,onBehalfOfHub,onBehalfOfConsumer,onBehalfOfRequest')).toBe(true);
    expect(row!.endsWith(',3,trace-1,198.51.100.1,operator,,,,,,,')).toBe(true);
  });
});

describe('logs written before record version 3 and tree heads', () => {
  let dir: string;
  let remove: () => void;

  beforeEach(() => ({ dir, remove } = tempDir()));
  afterEach(() => remove());

  /** Rewrites the log's records as version 1 records (as an older hub wrote them), re-chained, with the checkpoint an older hub signed on close. */
  async function downgradeToV1(chainId: string): Promise<void> {
    const file = path.join(dir, SEGMENT);
    let previous = genesisHash(chainId);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
      const { correlationId: _c, source: _s, hashed: _h, count: _n, window: _w, ...rest } = JSON.parse(line) as AuditRecord;
      const record = { ...rest, v: 1 as const, hash: '' };
      record.hash = chainHash(previous, canonicalBody(record));
      previous = record.hash;
      return canonicalJson(record);
    });
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
    const last = JSON.parse(lines[lines.length - 1]!) as AuditRecord;
    const checkpoint = await signCheckpoint({ typ: CHECKPOINT_TYPE, chain: chainId, instance: 'hub-1', seq: last.seq, hash: last.hash, time: last.time }, keys.sign);
    writeFileSync(path.join(dir, 'checkpoints.jsonl'), `${checkpoint}\n`);
  }

  it('verifies, reads, continues and exports a chain of version 1 records followed by version 2 records', async () => {
    let log = await openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, chainId: 'old-chain' });
    for (let i = 1; i <= 3; i++) await log.append(sampleRecord({ requestId: `old-${i}` }));
    await log.close();
    await downgradeToV1('old-chain');
    expect(await verifyAuditLog({ dir, verify: keys.verify })).toMatchObject({ ok: true, records: 3 });

    // Opened by this hub: migrated (a tree head over the old records is signed first), then continued.
    log = await openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, verify: keys.verify });
    await log.append(sampleRecord({ requestId: 'new-1', correlationId: 'trace' }));
    await log.close();
    expect(await verifyAuditLog({ dir, verify: keys.verify })).toMatchObject({ ok: true, records: 4, signedThrough: 4, problem: null });

    const reader = await openAuditLogReader({ dir, subjectKeySecret: SECRET });
    const page = await reader.queryAccessLog({ consumer: 'civil-affairs' });
    expect(page.edges.map((e) => [e.node.v, e.node.requestId])).toEqual([[3, 'new-1'], [1, 'old-3'], [1, 'old-2'], [1, 'old-1']]);
    await reader.close();

    const out = path.join(dir, 'export.csv');
    await exportAuditRecords({ dir, filter: {}, format: 'csv', out, sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET });
    const rows = readFileSync(out, 'utf8').split('\r\n').filter(Boolean);
    expect(rows).toHaveLength(5);
    expect(rows[1]!.endsWith(',1,,,,,,,,,,')).toBe(true);
  });

  it('names a record of a version it does not know', async () => {
    const log = await openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, chainId: 'c' });
    await log.append(sampleRecord());
    await log.close();
    const file = path.join(dir, SEGMENT);
    const record = JSON.parse(readFileSync(file, 'utf8')) as AuditRecord;
    const future = { ...record, v: 4 as never, hash: '' };
    future.hash = chainHash(genesisHash('c'), canonicalBody(future));
    writeFileSync(file, `${canonicalJson(future)}\n`);
    rmSync(path.join(dir, 'checkpoints.jsonl'), { force: true });
    expect((await verifyAuditLog({ dir, verify: keys.verify })).problem).toMatchObject({
      kind: 'MALFORMED_RECORD',
      seq: 1,
      message: `the line where seq 1 belongs (${SEGMENT} line 1) has a record format version this verifier does not know (4): a newer hub wrote it, or bytes were changed`,
    });
  });
});
