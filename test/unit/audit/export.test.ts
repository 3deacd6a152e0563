import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cpSync } from 'node:fs';
import { exportAuditRecords, openAuditLog, verifyAuditExport, CSV_COLUMNS, type AuditRecord } from '../../../src/audit';
import { CITIZEN_A, CITIZEN_B, createTestKeys, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();

describe('exporting audit records', () => {
  let dir: string;
  let remove: () => void;

  beforeAll(async () => {
    ({ dir, remove } = tempDir());
    const log = await openAuditLog({ dir: path.join(dir, 'log'), instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign });
    await log.append(sampleRecord({ requestId: 'r1', consumer: 'tax', caseNumber: '=HYPERLINK("x")' }));
    await log.append(sampleRecord({ requestId: 'r2', consumer: 'civil-affairs', subjects: [{ kind: 'PERSON', id: CITIZEN_B }] }));
    await log.append(sampleRecord({ requestId: 'r3', consumer: 'tax', operator: 'Zhang, "senior"' }));
    await log.close();
  });
  afterAll(() => remove());

  it('writes the matching records as JSON lines with a signed manifest of the file', async () => {
    const out = path.join(dir, 'tax.jsonl');
    const { manifest, manifestPath } = await exportAuditRecords({
      dir: path.join(dir, 'log'),
      filter: { consumer: 'tax', subject: { kind: 'PERSON', id: CITIZEN_A } },
      format: 'jsonl',
      out,
      sign: keys.sign,
      verify: keys.verify,
      subjectKeySecret: SECRET,
      now: () => new Date('2025-06-01T00:00:00Z'),
    });
    const bytes = readFileSync(out);
    const records = bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    expect(records.map((r) => r.requestId)).toEqual(['r1', 'r3']);
    expect(manifest).toEqual({
      typ: 'datarun-audit/1 export',
      chain: expect.stringMatching(/^hub-1\//),
      file: 'tax.jsonl',
      format: 'jsonl',
      count: 2,
      firstSeq: 1,
      lastSeq: 3,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      filter: { consumer: 'tax', subject: { kind: 'PERSON', key: records[0]!.subjects[0]!.key, mask: '110105********002X' } },
      time: '2025-06-01T00:00:00.000Z',
      head: { instance: 'hub-1', size: 3, root: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), time: expect.any(String), jws: expect.any(String) },
      verifiedThrough: 3,
    });
    expect(await verifyAuditExport({ file: out, verify: keys.verify })).toMatchObject({ ok: true, problem: null });
    const written = JSON.parse(readFileSync(manifestPath, 'utf8')) as { manifest: unknown; jws: string };
    const check = keys.verify(written.jws);
    expect(check.valid).toBe(true);
    expect(JSON.parse(Buffer.from(check.payload as Uint8Array).toString('utf8'))).toEqual(manifest);
    expect(readFileSync(manifestPath, 'utf8')).not.toContain(CITIZEN_A);
  });

  it('writes CSV with quoted cells and formula-looking cells defused', async () => {
    const out = path.join(dir, 'all.csv');
    await exportAuditRecords({ dir: path.join(dir, 'log'), filter: {}, format: 'csv', out, sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET });
    const rows = readFileSync(out, 'utf8').split('\r\n');
    expect(rows[0]).toBe(CSV_COLUMNS.join(','));
    expect(rows).toHaveLength(5); // header, three records, the empty string after the last CRLF
    expect(rows[1]).toContain(`,"'=HYPERLINK(""x"")",`);
    expect(rows[3]).toContain(',"Zhang, ""senior""",');
    expect(rows[2]).toContain(',PERSON:371702********1235,');
  });

  it('refuses to overwrite an existing file', async () => {
    const out = path.join(dir, 'exists.jsonl');
    writeFileSync(out, 'keep me');
    await expect(exportAuditRecords({ dir: path.join(dir, 'log'), filter: {}, format: 'jsonl', out, sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET })).rejects.toMatchObject({
      code: 'AUDIT_EXPORT_FAILED',
      message: `The audit export failed: cannot create ${out} (EEXIST); it must not exist yet.`,
    });
    expect(readFileSync(out, 'utf8')).toBe('keep me');
  });

  it('refuses to export a log that does not verify, and writes nothing', async () => {
    const tampered = path.join(dir, 'tampered');
    cpSync(path.join(dir, 'log'), tampered, { recursive: true });
    const segment = path.join(tampered, 'audit-000000000001.jsonl');
    writeFileSync(segment, readFileSync(segment, 'utf8').replace('"r2"', '"r9"'));
    const out = path.join(dir, 'never.jsonl');
    await expect(exportAuditRecords({ dir: tampered, filter: {}, format: 'jsonl', out, sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET })).rejects.toMatchObject({
      code: 'AUDIT_EXPORT_FAILED',
      message: expect.stringContaining('the log does not verify (HASH_MISMATCH at seq 2'),
    });
    expect(() => readFileSync(out)).toThrow();
  });

  it('checks an export offline against its manifest: a changed byte, a dropped line or another key are INVALID', async () => {
    const out = path.join(dir, 'checked.jsonl');
    await exportAuditRecords({ dir: path.join(dir, 'log'), filter: {}, format: 'jsonl', out, sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET });
    expect((await verifyAuditExport({ file: out, verify: keys.verify })).ok).toBe(true);
    expect(await verifyAuditExport({ file: out, verify: createTestKeys().verify })).toMatchObject({ ok: false, problem: expect.stringContaining('signature does not verify') });
    const original = readFileSync(out, 'utf8');
    writeFileSync(out, original.replace('"r2"', '"r8"'));
    expect(await verifyAuditExport({ file: out, verify: keys.verify })).toMatchObject({ ok: false, problem: expect.stringContaining('SHA-256 differs') });
    writeFileSync(out, original);
    expect((await verifyAuditExport({ file: out, verify: keys.verify })).ok).toBe(true);
  });
});
