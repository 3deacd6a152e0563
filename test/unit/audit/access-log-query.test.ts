import { openAuditLog, openAuditLogReader, type AuditLog, type AuditLogOptions, type AuditRecordInput } from '../../../src/audit';
import { CITIZEN_A, CITIZEN_B, createTestKeys, instrumentedFs, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();
const ENTERPRISE = '91350100M000100Y43';

/** Record i of a synthetic log: citizen B is the subject of records 7, 77 and 777 only (when the log is that long). */
function recordNo(i: number): AuditRecordInput {
  const special = i === 7 || i === 77 || i === 777;
  return sampleRecord({
    requestId: `r${i}`,
    consumer: i % 3 === 0 ? 'tax' : 'civil-affairs',
    caseNumber: `CASE-${i % 10}`,
    outcome: i % 5 === 0 ? 'DENIED' : 'GRANTED',
    fields: i % 2 === 0 ? { tax: ['Person.taxRecords'] } : { 'social-security': ['Person.socialInsurance'] },
    subjects: special ? [{ kind: 'PERSON', id: CITIZEN_B }, { kind: 'PERSON', id: `1101051949${String(i).padStart(7, '0')}1` }] : [{ kind: 'PERSON', id: `2101051949${String(i).padStart(7, '0')}1` }],
  });
}

async function fill(log: AuditLog, count: number): Promise<void> {
  for (let start = 1; start <= count; start += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - start + 1) }, (_, k) => log.append(recordNo(start + k))));
  }
}

describe('querying the access log', () => {
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

  it.each([1_000, 5_000])('finds a subject in a log of %i records reading only the matching records from disk', async (size) => {
    const { fs, counts, reset } = instrumentedFs();
    log = await open({ fs, segmentMaxRecords: 2_000 });
    await fill(log, size);
    await log.close();
    log = await open({ fs, segmentMaxRecords: 2_000 }); // the index is rebuilt at open; only the lookup is counted
    reset();
    const page = await log.queryAccessLog({ subject: { kind: 'PERSON', id: CITIZEN_B } }, { first: 50 });
    expect(page.edges.map((e) => e.node.seq)).toEqual([777, 77, 7]);
    expect(counts.segmentRead).toBe(3);
  });

  it('combines filters and reads only the page it returns', async () => {
    const { fs, counts, reset } = instrumentedFs();
    log = await open({ fs });
    await fill(log, 300);
    reset();
    const page = await log.queryAccessLog({ consumer: 'tax', caseNumber: 'CASE-0', outcome: 'DENIED', department: 'tax' }, { first: 4 });
    // consumer tax: i % 3 == 0; CASE-0: i % 10 == 0; DENIED: i % 5 == 0; tax fields: even i → multiples of 30.
    expect(page.edges.map((e) => e.node.seq)).toEqual([300, 270, 240, 210]);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(counts.segmentRead).toBe(4);
  });

  it('pages with opaque cursors, newest first, without repeats or gaps', async () => {
    log = await open();
    await fill(log, 100);
    const seen: number[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Awaited<ReturnType<AuditLog['queryAccessLog']>> = await log.queryAccessLog({ purpose: 'LIVING_ALLOWANCE', consumer: 'tax' }, { first: 7, after });
      seen.push(...page.edges.map((e) => e.node.seq));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(Array.from({ length: 33 }, (_, k) => 99 - 3 * k));
  });

  it('filters by a time window', async () => {
    let now = Date.parse('2025-03-01T00:00:00Z');
    log = await open({ now: () => new Date(now) });
    for (let i = 1; i <= 10; i++) {
      await log.append(recordNo(i));
      now += 60_000;
    }
    const page = await log.queryAccessLog({ from: '2025-03-01T00:03:00Z', to: new Date('2025-03-01T00:05:00Z') });
    expect(page.edges.map((e) => e.node.seq)).toEqual([6, 5, 4]);
  });

  it('refuses a cursor it did not issue and a page size out of range', async () => {
    log = await open();
    await expect(log.queryAccessLog({}, { after: 'bm90LWEtY3Vyc29y' })).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'Argument "after" is not a cursor of this listing.',
    });
    await expect(log.queryAccessLog({}, { first: 501 })).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: 'Argument "first" must be between 1 and 500.' });
    // A cursor cut short or lengthened decodes to another position: it is no cursor.
    for (let i = 1; i <= 12; i++) await log.append(recordNo(i));
    const page = await log.queryAccessLog({}, { first: 1 });
    const cursor = page.pageInfo.endCursor!;
    for (const changed of [cursor.slice(0, -1), `${cursor}A`, `${cursor}=`]) {
      await expect(log.queryAccessLog({}, { after: changed })).rejects.toMatchObject({ message: 'Argument "after" is not a cursor of this listing.' });
    }
    await expect(log.queryAccessLog({ from: '2026-02-30T00:00:00Z' })).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argument: 'from' } });
    await expect(log.queryAccessLog({ to: '1' })).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argument: 'to' } });
    await expect(log.queryAccessLog({ from: 'yesterday' })).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: 'Argument "from" must be an RFC 3339 date-time with its time zone, such as 2026-12-02T00:00:00Z or 2026-12-02T08:00:00+08:00, but got: "yesterday".' });
  });

  it('answers the same queries from a reader next to the running writer', async () => {
    log = await open();
    await fill(log, 50);
    const reader = await openAuditLogReader({ dir, subjectKeySecret: SECRET });
    try {
      const page = await reader.queryAccessLog({ subject: { kind: 'PERSON', id: CITIZEN_B } });
      expect(page.edges.map((e) => e.node.seq)).toEqual([7]);
    } finally {
      await reader.close();
    }
  });
});

describe("the citizen's view", () => {
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

  it('shows who read the citizen’s data, why and from which departments, and nothing about the other subjects of the request', async () => {
    log = await open();
    await log.append(sampleRecord({ subjects: [{ kind: 'PERSON', id: CITIZEN_A }, { kind: 'PERSON', id: CITIZEN_B }, { kind: 'ENTERPRISE', id: ENTERPRISE }] }));
    await log.append(sampleRecord({ subjects: [{ kind: 'PERSON', id: CITIZEN_B }] }));
    const view = await log.citizenAccesses(CITIZEN_A);
    expect(view).toEqual({
      edges: [
        {
          cursor: expect.any(String),
          node: {
            time: expect.any(String),
            consumer: 'civil-affairs',
            purpose: 'LIVING_ALLOWANCE',
            caseNumber: 'MZ-2025-000001',
            departments: ['real-estate', 'tax'],
            outcome: 'GRANTED',
            reason: null,
            count: 1,
            // Made here, not through another hub (docs/federation.md).
            via: null,
          },
        },
      ],
      pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
    });
    const text = JSON.stringify(view);
    expect(text).not.toMatch(/371702|913501|key|mask|op-0042/);
  });

  it('withholds a confidential purpose until its disclosure date', async () => {
    log = await open({ confidentialPurposes: { CRIMINAL_INVESTIGATION: '2030-01-01T00:00:00Z' } });
    await log.append(sampleRecord({ purpose: 'CRIMINAL_INVESTIGATION', consumer: 'public-security' }));
    await log.append(sampleRecord({ purpose: 'LIVING_ALLOWANCE' }));
    const before = await log.citizenAccesses({ kind: 'PERSON', id: CITIZEN_A }, { now: new Date('2029-12-31T23:59:59Z') });
    expect(before.edges.map((e) => e.node.purpose)).toEqual(['LIVING_ALLOWANCE']);
    const after = await log.citizenAccesses({ kind: 'PERSON', id: CITIZEN_A }, { now: new Date('2030-01-01T00:00:00Z') });
    expect(after.edges.map((e) => e.node.purpose)).toEqual(['LIVING_ALLOWANCE', 'CRIMINAL_INVESTIGATION']);
  });

  it('withholds a confidential purpose for a number of days after each access, without reading withheld records', async () => {
    const { fs, counts, reset } = instrumentedFs();
    const start = Date.parse('2025-01-01T00:00:00Z');
    log = await open({ fs, now: () => new Date(start), confidentialPurposes: { TAX_INSPECTION: { days: 90 } } });
    for (let i = 0; i < 5; i++) await log.append(sampleRecord({ purpose: 'TAX_INSPECTION' }));
    await log.append(sampleRecord({ purpose: 'LIVING_ALLOWANCE' }));
    reset();
    const during = await log.citizenAccesses(CITIZEN_A, { now: new Date(start + 89 * 86_400_000) });
    expect(during.edges).toHaveLength(1);
    expect(counts.segmentRead).toBe(1);
    const later = await log.citizenAccesses(CITIZEN_A, { now: new Date(start + 90 * 86_400_000) });
    expect(later.edges).toHaveLength(6);
  });

  it('refuses a confidential rule that is neither a date nor a number of days', async () => {
    await expect(open({ confidentialPurposes: { X: 'soon' } })).rejects.toMatchObject({
      code: 'AUDIT_OPTIONS_INVALID',
      message: 'Audit option "confidentialPurposes.X" must be a date (2027-01-01, UTC), an RFC 3339 date-time with its time zone, or { days: <positive integer> }.',
    });
  });
});
