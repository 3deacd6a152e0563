import path from 'node:path';
import { openAuditLog } from '../../../src/audit';
import { runAuditConsistency, runAuditExport, runAuditProve, runAuditVerify, runAuditVerifyExport } from '../../../src/cli/audit';
import { CITIZEN_A, createTestKeys, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();

/** A stand-in for stdout or stderr that keeps what was written. */
function sink() {
  let text = '';
  return {
    write: (s: string) => (text += s),
    get text() {
      return text;
    },
  };
}

describe('the audit commands', () => {
  let dir: string;
  let remove: () => void;

  beforeAll(async () => {
    ({ dir, remove } = tempDir());
    const log = await openAuditLog({ dir: path.join(dir, 'log'), instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign });
    for (let i = 0; i < 5; i++) await log.append(sampleRecord({ requestId: `r${i}`, caseNumber: i < 2 ? 'CASE-A' : 'CASE-B' }));
    await log.close();
  });
  afterAll(() => remove());

  it('verify prints the outcome, reports progress on stderr and exits 0 for a valid log', async () => {
    const stdout = sink();
    const stderr = sink();
    const { exitCode } = await runAuditVerify({ dir: path.join(dir, 'log'), verify: keys.verify, stdout, stderr });
    expect(exitCode).toBe(0);
    expect(stdout.text).toMatch(new RegExp(`^audit log ${path.join(dir, 'log')}: valid, 5 records \\(seq 1 to 5\\), 2 signatures verified\nnewest signed tree head: instance hub-1, size 5, root [A-Za-z0-9_-]{43}, signed [^\\n]+\nunsigned window: none, every record is under a signed head\n$`));
    expect(stderr.text).toBe('audit verify: 5 records checked (100%)\n');
  });

  it('verify exits 6 (verification failed) and names the problem when signatures do not verify', async () => {
    const stdout = sink();
    const { exitCode } = await runAuditVerify({ dir: path.join(dir, 'log'), verify: createTestKeys().verify, stdout, stderr: sink() });
    expect(exitCode).toBe(6);
    expect(stdout.text).toBe(`audit log ${path.join(dir, 'log')}: INVALID: BAD_CHECKPOINT_SIGNATURE: the tree head of size 0 (checkpoints.jsonl line 1) has a signature that does not verify with the hub's keys\n`);
  });

  it('verify refuses a --from that is not a sequence number', async () => {
    await expect(runAuditVerify({ dir: path.join(dir, 'log'), verify: keys.verify, from: 'abc' })).rejects.toMatchObject({
      code: 'AUDIT_OPTIONS_INVALID',
      message: 'Audit option "from" must be a sequence number of at least 1.',
    });
  });

  it('export filters by case and subject given as KIND:id', async () => {
    const stdout = sink();
    const out = path.join(dir, 'case-a.csv');
    const { result } = await runAuditExport({ dir: path.join(dir, 'log'), case: 'CASE-A', subject: `PERSON:${CITIZEN_A}`, format: 'csv', out, sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET, stdout });
    expect(result.manifest.count).toBe(2);
    expect(stdout.text).toMatch(new RegExp(`^exported 2 records \\(seq 1 to 2\\) to ${out}; signed manifest ${out}.manifest.json\nthe log was verified first, against its signed tree head of size 5 \\(`));
    const check = { write: (s: string) => (checked += s), text: '' };
    let checked = '';
    expect((await runAuditVerifyExport({ file: out, verify: keys.verify, stdout: check })).exitCode).toBe(0);
    expect(checked).toMatch(/^export .*: valid, 2 records \(seq 1 to 2\) of chain hub-1\//);
  });

  it('export refuses a subject that is no valid identifier, naming the check, and says so when a valid one is named by no record', async () => {
    const base = { dir: path.join(dir, 'log'), format: 'csv' as const, out: path.join(dir, 'none.csv'), sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET };
    await expect(runAuditExport({ ...base, subject: 'PERSON:12345', stdout: sink() })).rejects.toMatchObject({ code: 'AUDIT_OPTIONS_INVALID', message: expect.stringMatching(/^Audit option "subject" must be a valid citizen identity number \(.+\)\.$/) });
    await expect(runAuditExport({ ...base, subject: '110101199003070000', stdout: sink() })).rejects.toMatchObject({ code: 'AUDIT_OPTIONS_INVALID' });
    await expect(runAuditExport({ ...base, subject: 'ENTERPRISE:not-a-code', stdout: sink() })).rejects.toMatchObject({ message: expect.stringContaining('a valid unified social credit code') });
    const stdout = sink();
    // A well-formed identity number (check character included) that no record names.
    const unknown = '110101199003074477';
    const { result } = await runAuditExport({ ...base, subject: unknown, stdout });
    expect(result.manifest.count).toBe(0);
    expect(stdout.text).toContain(`no access record names PERSON:${unknown}: no request about this subject was recorded in this log`);
  });

  it('prove prints a record\'s inclusion proof checked against the newest signed head; consistency between two sizes', async () => {
    let text = '';
    const stdout = { write: (s: string) => (text += s) };
    expect((await runAuditProve({ dir: path.join(dir, 'log'), seq: 3, verify: keys.verify, subjectKeySecret: SECRET, stdout })).exitCode).toBe(0);
    expect(text).toContain('"leafIndex": 2');
    expect(text).toMatch(/VALID: record 3 is leaf 2 of the tree of 5 records, whose root the hub signed at /);
    text = '';
    expect((await runAuditConsistency({ dir: path.join(dir, 'log'), from: 2, to: 5, subjectKeySecret: SECRET, stdout })).exitCode).toBe(0);
    expect(text).toContain('VALID: the tree of 5 records extends the tree of 2');
    await expect(runAuditProve({ dir: path.join(dir, 'log'), seq: 9, verify: keys.verify, subjectKeySecret: SECRET, stdout })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
