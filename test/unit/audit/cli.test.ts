import path from 'node:path';
import { openAuditLog } from '../../../src/audit';
import { runAuditExport, runAuditVerify } from '../../../src/cli/audit';
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
    expect(stdout.text).toBe(`audit log ${path.join(dir, 'log')}: valid, 5 records (seq 1 to 5), 1 checkpoint signature verified\n`);
    expect(stderr.text).toBe('audit verify: 5 records checked (100%)\n');
  });

  it('verify exits 6 (verification failed) and names the problem when signatures do not verify', async () => {
    const stdout = sink();
    const { exitCode } = await runAuditVerify({ dir: path.join(dir, 'log'), verify: createTestKeys().verify, stdout, stderr: sink() });
    expect(exitCode).toBe(6);
    expect(stdout.text).toBe(`audit log ${path.join(dir, 'log')}: INVALID: BAD_CHECKPOINT_SIGNATURE: the checkpoint at seq 5 (checkpoints.jsonl line 1) has a bad signature\n`);
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
    const { result } = await runAuditExport({ dir: path.join(dir, 'log'), case: 'CASE-A', subject: `PERSON:${CITIZEN_A}`, format: 'csv', out, sign: keys.sign, subjectKeySecret: SECRET, stdout });
    expect(result.manifest.count).toBe(2);
    expect(stdout.text).toBe(`exported 2 records (seq 1 to 2) to ${out}; signed manifest ${out}.manifest.json\n`);
  });
});
