/**
 * Pushed cases through the hub (审管联动, docs/cases.md), over HTTP on a real signed hub with an
 * injected clock: mutations only over POST and only with a grant of their coordinate; claims and
 * reports by the case's own department; deadlines in working days across a weekend and a 调休
 * make-up day; the overdue listing for electronic supervision; every step in the access log with
 * the state change it made, the log still verifying. Property-based: for random sequences of
 * claims and reports by random consumers, one record per request, and the cases' states are what
 * the accepted records' changes say.
 */
import path from 'node:path';
import fc from 'fast-check';
import { openAuditLogReader, verifyAuditLog, type AuditRecord } from '../../src/audit';
import { auditSubjectSecret } from '../../src/gateway';
import { auditVerifier } from '../../src/gateway/audit';
import { startTestHub, type TestHub } from '../support/hub';

const FEEDBACK = (caseNumber: string, operator = 'staff-001') => ({ purpose: 'CASE_FEEDBACK', caseNumber, operator });
const SUPERVISION = (caseNumber: string) => ({ purpose: 'ELECTRONIC_SUPERVISION', caseNumber, operator: 'monitor-01' });

// Thursday 26 February 2026, 10:00 in Beijing: Friday 27 and the make-up Saturday 28 count, Sunday 1 March does not.
const PUSHED_AT = '2026-02-26T02:00:00.000Z';
let clock = new Date(PUSHED_AT);
let hub: TestHub;
let creditCode: string;
let events = 0;

beforeAll(async () => {
  hub = await startTestHub({ security: 'signed', now: () => clock });
  creditCode = hub.sandboxes.data.enterprises[0]!.creditCode;
});
afterAll(async () => {
  await hub?.close();
});

/** Opens a LICENCE_ISSUED event's cases at `at` for the departments; resolves to their ids by department. */
async function push(departments: string[], at = PUSHED_AT, type = 'LICENCE_ISSUED'): Promise<Record<string, string>> {
  clock = new Date(at);
  const opened = await hub.gateway.cases.open({ id: `test:${++events}`, type, subject: { kind: 'ENTERPRISE', id: creditCode }, occurredAt: at }, departments);
  return Object.fromEntries(opened.cases.map((c) => [c.department, c.caseId]));
}

const CASE_FIELDS = 'id state department claimDeadline feedbackDeadline deadlineProvisional claimedAt claimedBy claimedLate reportedAt reportedBy reportedLate outcome note subject { kind id }';
const CLAIM = `mutation Claim($id: ID!) { claimCase(caseId: $id) { ${CASE_FIELDS} } }`;
const REPORT = `mutation Report($id: ID!, $outcome: CaseOutcome!, $note: String) { reportCase(caseId: $id, outcome: $outcome, note: $note) { ${CASE_FIELDS} } }`;

async function records(filter: (r: AuditRecord) => boolean): Promise<AuditRecord[]> {
  const reader = await openAuditLogReader({ dir: path.join(hub.keysDir, 'audit'), subjectKeySecret: auditSubjectSecret(hub.keysDir) });
  const found: AuditRecord[] = [];
  for await (const r of reader.records({})) if (filter(r)) found.push(r);
  await reader.close();
  return found;
}
const recordsOf = (caseNumber: string) => records((r) => r.caseNumber === caseNumber);

describe('mutations over HTTP', () => {
  it('are refused over GET with 405 METHOD_NOT_ALLOWED, and change nothing', async () => {
    const ids = await push(['tax-bureau']);
    const url = `${hub.url}/graphql?query=${encodeURIComponent(`mutation { claimCase(caseId: "${ids['tax-bureau']}") { state } }`)}`;
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('METHOD_NOT_ALLOWED');
    expect(body.errors[0]!.message).toMatch(/mutation is never accepted over GET/);
    expect((await hub.gateway.cases.service.get(ids['tax-bureau']!))!.state).toBe('PUSHED');
  });

  it('without a grant of Mutation.claimCase are refused with POLICY_DENIED before anything changes', async () => {
    const ids = await push(['tax-bureau']);
    // civil-affairs holds no grant of the cases; the tax bureau holds one for CASE_FEEDBACK only.
    const civil = await hub.clientFor('civil-affairs').query<any>(CLAIM, { id: ids['tax-bureau'] }, { purpose: 'LIVING_ALLOWANCE', caseNumber: 'C-DENY-1', operator: 'staff-9' });
    expect(civil.status).toBe(403);
    expect(civil.errors![0]!.extensions).toMatchObject({ code: 'POLICY_DENIED', denied: expect.arrayContaining(['Mutation.claimCase']) });
    const wrongPurpose = await hub.clientFor('tax-bureau').query<any>(CLAIM, { id: ids['tax-bureau'] }, { purpose: 'INVESTIGATION', caseNumber: 'C-DENY-2', operator: 'staff-9' });
    expect(wrongPurpose.status).toBe(403);
    expect(wrongPurpose.errors![0]!.extensions!.code).toBe('POLICY_DENIED');
    expect((await hub.gateway.cases.service.get(ids['tax-bureau']!))!.state).toBe('PUSHED');
    for (const caseNumber of ['C-DENY-1', 'C-DENY-2']) {
      const [record, ...more] = await recordsOf(caseNumber);
      expect(more).toHaveLength(0);
      expect(record).toMatchObject({ outcome: 'DENIED', errorCodes: ['POLICY_DENIED'] });
      expect(record!.changes).toBeUndefined();
    }
  });

  it('refuses a subscription operation', async () => {
    const reply = await hub.clientFor('tax-bureau').query<any>('subscription { cases { id } }', {}, FEEDBACK('C-SUB-1'));
    expect(reply.status).toBe(400);
    expect(reply.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('claims and reports', () => {
  it('a consumer claiming another department\'s case is refused with CASE_NOT_RECIPIENT, recorded without a change', async () => {
    const ids = await push(['tax-bureau', 'social-security-bureau']);
    const reply = await hub.clientFor('social-security-bureau').query<any>(CLAIM, { id: ids['tax-bureau'] }, FEEDBACK('C-OTHER-1'));
    expect(reply.status).toBe(200);
    expect(reply.data).toBeNull();
    expect(reply.errors![0]!.extensions!.code).toBe('CASE_NOT_RECIPIENT');
    expect((await hub.gateway.cases.service.get(ids['tax-bureau']!))!.state).toBe('PUSHED');
    const [record, ...more] = await recordsOf('C-OTHER-1');
    expect(more).toHaveLength(0);
    expect(record).toMatchObject({ consumer: 'social-security-bureau', outcome: 'FAILED', errorCodes: ['CASE_NOT_RECIPIENT'], fields: { cases: expect.arrayContaining(['Mutation.claimCase']) } });
    expect(record!.changes).toBeUndefined();
  });

  it('claim then report end to end: deadlines across a weekend and a 调休 day, late flags, records with their changes', async () => {
    const ids = await push(['tax-bureau', 'market-regulation-bureau']);
    const mine = await hub.clientFor('tax-bureau').query<any>(`query { cases(state: PUSHED) { ${CASE_FIELDS} } }`, {}, FEEDBACK('C-E2E-0'));
    expect(mine.errors).toBeUndefined();
    const listed = mine.data.cases.find((c: any) => c.id === ids['tax-bureau']);
    // 3 working days: Fri 27, Sat 28 (make-up), Mon 2 March; 10: … Wed 11 March (docs/cases.md's worked example).
    expect(listed).toMatchObject({ state: 'PUSHED', department: 'tax-bureau', claimDeadline: '2026-03-02T15:59:59.999Z', feedbackDeadline: '2026-03-11T15:59:59.999Z', deadlineProvisional: false, subject: { kind: 'ENTERPRISE', id: creditCode } });
    expect(mine.data.cases.every((c: any) => c.department === 'tax-bureau')).toBe(true);

    // Claimed on Monday 2 March at 23:00 Beijing time: still within the deadline.
    clock = new Date('2026-03-02T15:00:00Z');
    const claimed = await hub.clientFor('tax-bureau').query<any>(CLAIM, { id: ids['tax-bureau'] }, FEEDBACK('C-E2E-1', 'staff-007'));
    expect(claimed.errors).toBeUndefined();
    expect(claimed.data.claimCase).toMatchObject({ state: 'CLAIMED', claimedAt: '2026-03-02T15:00:00.000Z', claimedBy: 'staff-007', claimedLate: false, reportedAt: null });
    const again = await hub.clientFor('tax-bureau').query<any>(CLAIM, { id: ids['tax-bureau'] }, FEEDBACK('C-E2E-2', 'staff-007'));
    expect(again.errors![0]!.extensions!.code).toBe('CASE_ALREADY_CLAIMED');

    // Reported on Thursday 12 March: a day after the feedback deadline, accepted and marked late.
    clock = new Date('2026-03-12T02:00:00Z');
    const reported = await hub.clientFor('tax-bureau').query<any>(REPORT, { id: ids['tax-bureau'], outcome: 'INSPECTED_COMPLIANT', note: '已核查 compliant' }, FEEDBACK('C-E2E-3', 'staff-008'));
    expect(reported.errors).toBeUndefined();
    expect(reported.data.reportCase).toMatchObject({ state: 'REPORTED', reportedBy: 'staff-008', reportedLate: true, outcome: 'INSPECTED_COMPLIANT', note: '已核查 compliant' });

    const [claimRecord] = await recordsOf('C-E2E-1');
    expect(claimRecord).toMatchObject({ outcome: 'GRANTED', consumer: 'tax-bureau', operator: 'staff-007' });
    expect(claimRecord!.changes).toEqual([{ entity: 'case', caseId: ids['tax-bureau'], eventId: expect.any(String), department: 'tax-bureau', action: 'CLAIM', by: 'staff-007', at: '2026-03-02T15:00:00.000Z', from: 'PUSHED', to: 'CLAIMED', late: false }]);
    expect(claimRecord!.subjects.map((s) => s.kind)).toEqual(['ENTERPRISE']);
    const [refusedRecord] = await recordsOf('C-E2E-2');
    expect(refusedRecord).toMatchObject({ outcome: 'FAILED', errorCodes: ['CASE_ALREADY_CLAIMED'] });
    expect(refusedRecord!.changes).toBeUndefined();
    const [reportRecord] = await recordsOf('C-E2E-3');
    expect(reportRecord!.changes).toEqual([expect.objectContaining({ action: 'REPORT', from: 'CLAIMED', to: 'REPORTED', late: true, outcome: 'INSPECTED_COMPLIANT', noteHash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) })]);
    // The note's text is in the case, never in the log.
    expect(JSON.stringify(reportRecord)).not.toContain('已核查');
  });

  it('refuses a report before the claim, an unknown case and a bad outcome with their codes', async () => {
    const ids = await push(['market-regulation-bureau']);
    const client = hub.clientFor('market-regulation-bureau');
    const early = await client.query<any>(REPORT, { id: ids['market-regulation-bureau'], outcome: 'NOT_APPLICABLE' }, FEEDBACK('C-BAD-1'));
    expect(early.errors![0]!.extensions!.code).toBe('CASE_NOT_CLAIMED');
    const unknown = await client.query<any>(CLAIM, { id: 'case-00000000000000000000000000000000' }, FEEDBACK('C-BAD-2'));
    expect(unknown.errors![0]!.extensions!.code).toBe('CASE_NOT_FOUND');
    const badOutcome = await client.query<any>(REPORT, { id: ids['market-regulation-bureau'], outcome: 'MAYBE' }, FEEDBACK('C-BAD-3'));
    expect(badOutcome.status).toBe(400);
    const badOperator = await client.query<any>(CLAIM, { id: ids['market-regulation-bureau'] }, FEEDBACK('C-BAD-4', '窗口 测试'));
    expect(badOperator.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(badOperator.errors![0]!.message).toMatch(/operator/);
    expect((await hub.gateway.cases.service.get(ids['market-regulation-bureau']!))!.state).toBe('PUSHED');
  });

  it('counts a deadline reaching a year the calendar does not hold on weekends, marked provisional', async () => {
    // Monday 28 December 2026: 10 working days reach into 2027, not in the shipped calendar.
    const ids = await push(['social-security-bureau'], '2026-12-28T02:00:00.000Z');
    const reply = await hub.clientFor('social-security-bureau').query<any>(`query { cases { id claimDeadline feedbackDeadline deadlineProvisional } }`, {}, FEEDBACK('C-2027-1'));
    const c = reply.data.cases.find((x: any) => x.id === ids['social-security-bureau']);
    // Claim: Tue 29, Wed 30, Thu 31 December (2026: known, but the feedback count reaches 2027); feedback: … Mon 11 January 2027.
    expect(c).toEqual({ id: ids['social-security-bureau'], claimDeadline: '2026-12-31T15:59:59.999Z', feedbackDeadline: '2027-01-11T15:59:59.999Z', deadlineProvisional: true });
  });

  it('opens nothing for an event type without deadlines', async () => {
    const opened = await hub.gateway.cases.open({ id: 'test:no-deadline', type: 'ADDRESS_CHANGED', subject: { kind: 'ENTERPRISE', id: creditCode }, occurredAt: PUSHED_AT }, ['tax-bureau']);
    expect(opened).toEqual({ cases: [], changes: [] });
  });
});

describe('electronic supervision', () => {
  it('lists an unclaimed case after its deadline for the supervising consumer, and refuses it to others', async () => {
    const ids = await push(['tax-bureau']);
    const query = 'query($d: String) { overdueCases(department: $d) { step deadline overdueWorkingDays case { id department state } } }';
    // Thursday 5 March, 09:00: the claim was due Monday 2 March; overdue by Tue 3, Wed 4, Thu 5.
    clock = new Date('2026-03-05T01:00:00Z');
    const reply = await hub.clientFor('supervision-office').query<any>(query, { d: 'tax-bureau' }, SUPERVISION('S-1'));
    expect(reply.errors).toBeUndefined();
    expect(reply.data.overdueCases).toContainEqual({ step: 'CLAIM', deadline: '2026-03-02T15:59:59.999Z', overdueWorkingDays: 3, case: { id: ids['tax-bureau'], department: 'tax-bureau', state: 'PUSHED' } });
    // A mistyped department is refused, not answered with an empty list that would read as "nothing overdue".
    const typo = await hub.clientFor('supervision-office').query<any>(query, { d: 'tax-bureu' }, SUPERVISION('S-1b'));
    expect(typo.data?.overdueCases ?? null).toBeNull();
    expect(typo.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argument: 'department' }, message: expect.stringContaining('names no consumer of this hub ("tax-bureu")') });
    // Before the deadline it is not listed.
    clock = new Date('2026-03-02T15:00:00Z');
    const early = await hub.clientFor('supervision-office').query<any>(query, { d: 'tax-bureau' }, SUPERVISION('S-2'));
    expect(early.data.overdueCases.map((o: any) => o.case.id)).not.toContain(ids['tax-bureau']);
    // A department may not list the overdue cases, nor may the auditor.
    const refused = await hub.clientFor('tax-bureau').query<any>(query, { d: 'tax-bureau' }, FEEDBACK('S-3'));
    expect(refused.status).toBe(403);
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'POLICY_DENIED', denied: expect.arrayContaining(['Query.overdueCases']) });
    const auditor = await hub.clientFor('auditor').query<any>(query, {}, { purpose: 'AUDIT', caseNumber: 'S-4', operator: 'aud-1' });
    expect(auditor.status).toBe(403);
    // The supervisor cannot claim.
    const claim = await hub.clientFor('supervision-office').query<any>(CLAIM, { id: ids['tax-bureau'] }, SUPERVISION('S-5'));
    expect(claim.status).toBe(403);
    expect(claim.errors![0]!.extensions!.code).toBe('POLICY_DENIED');
  });

  it('shows the write grants in the catalogue of the consumer', async () => {
    const reply = await hub.clientFor('tax-bureau').query<any>('query { __type(name: "Mutation") { fields { name } } }', {}, FEEDBACK('CAT-1'));
    expect(reply.errors).toBeUndefined();
    expect(reply.data.__type.fields.map((f: any) => f.name).sort()).toEqual(['claimCase', 'registerWebhook', 'removeWebhook', 'reportCase']);
    const catalogue = await hub.clientFor('tax-bureau').query<any>('query { catalog(department: "cases") { coordinate class } myGrants(purpose: "CASE_FEEDBACK") { fields { coordinate purpose } } }', {}, FEEDBACK('CAT-0'));
    expect(catalogue.errors).toBeUndefined();
    expect(catalogue.data.catalog).toEqual(expect.arrayContaining([{ coordinate: 'Mutation.claimCase', class: 'UNCONDITIONAL' }, { coordinate: 'Mutation.reportCase', class: 'UNCONDITIONAL' }, { coordinate: 'Query.overdueCases', class: 'UNCONDITIONAL' }]));
    expect(catalogue.data.myGrants.fields).toEqual(expect.arrayContaining([{ coordinate: 'Mutation.claimCase', purpose: 'CASE_FEEDBACK' }, { coordinate: 'Mutation.reportCase', purpose: 'CASE_FEEDBACK' }]));
    expect(catalogue.data.myGrants.fields.map((f: any) => f.coordinate)).not.toContain('Query.overdueCases');
    const none = await hub.clientFor('civil-affairs').query<any>('query { __type(name: "Mutation") { fields { name } } }', {}, { purpose: 'LIVING_ALLOWANCE', caseNumber: 'CAT-2', operator: 'x-1' });
    // A type the consumer may not see is refused like a field it is not granted.
    expect(none.status).toBe(403);
    expect(none.errors![0]!.extensions).toMatchObject({ code: 'POLICY_DENIED', denied: ['__type(name: "Mutation")'] });
  });
});

describe('the access log of pushed cases', () => {
  const CONSUMERS = ['tax-bureau', 'social-security-bureau', 'market-regulation-bureau', 'civil-affairs'] as const;
  const command = fc.record({ consumer: fc.constantFrom(...CONSUMERS), action: fc.constantFrom('claim', 'report'), target: fc.nat({ max: 1 }), outcome: fc.constantFrom('INSPECTED_COMPLIANT', 'NOT_APPLICABLE') });
  let run = 0;

  it('holds exactly one record per request, and the cases are what the accepted records\' changes say', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 8 }), async (commands) => {
        const r = ++run;
        const ids = await push(['tax-bureau', 'social-security-bureau']);
        const targets = [ids['tax-bureau']!, ids['social-security-bureau']!];
        clock = new Date('2026-03-03T02:00:00Z');
        for (const [i, c] of commands.entries()) {
          const caseNumber = `PBT-${r}-${i}`;
          const purpose = c.consumer === 'civil-affairs' ? { purpose: 'LIVING_ALLOWANCE', caseNumber, operator: 'staff-1' } : FEEDBACK(caseNumber, `staff-${i}`);
          const variables = c.action === 'claim' ? { id: targets[c.target] } : { id: targets[c.target], outcome: c.outcome };
          await hub.clientFor(c.consumer).query<any>(c.action === 'claim' ? CLAIM : REPORT, variables, purpose);
        }
        const logged = await records((x) => x.caseNumber !== null && x.caseNumber.startsWith(`PBT-${r}-`));
        // One record per request.
        expect(logged.map((x) => x.caseNumber).sort()).toEqual(commands.map((_, i) => `PBT-${r}-${i}`).sort());
        // Replaying the accepted changes from PUSHED gives every case's state.
        const state = new Map(targets.map((id) => [id, 'PUSHED']));
        for (const record of logged.sort((a, b) => a.seq - b.seq)) {
          for (const change of record.changes ?? []) {
            expect(state.get(change.caseId as string)).toBe(change.from);
            state.set(change.caseId as string, change.to as string);
          }
          if (record.outcome !== 'GRANTED') expect(record.changes).toBeUndefined();
        }
        for (const id of targets) expect((await hub.gateway.cases.service.get(id))!.state).toBe(state.get(id));
      }),
      { numRuns: 6 },
    );
  });

  it('still verifies', async () => {
    await hub.gateway.audit!.checkpoint();
    const report = await verifyAuditLog({ dir: path.join(hub.keysDir, 'audit'), verify: auditVerifier({ keyStore: hub.gateway.keyStore }) });
    expect(report).toMatchObject({ ok: true });
  });
});
