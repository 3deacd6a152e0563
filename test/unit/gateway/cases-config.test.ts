/**
 * The hub's pushed-case settings (`cases.*`): defaults, deadlines over the defaults, every bad
 * entry named; and the access record's `changes`: kept flat, text kept as `storable` does, bad
 * shapes refused as programming errors.
 */
import { createSubjectKeyer, toStoredBody, type AuditRecordInput } from '../../../src/audit/record';
import { ConfigError, parseConfig } from '../../../src/gateway';
import { DEFAULT_CASE_DEADLINES, auditChangeOf, createHubCases, defaultCasesFile } from '../../../src/gateway/cases';

describe('cases configuration', () => {
  it('has defaults: no deadlines over the built-in ones, the shipped calendar, the file beside the access log', () => {
    const config = parseConfig({});
    expect(config.cases).toEqual({ deadlines: {} });
    expect(DEFAULT_CASE_DEADLINES).toEqual({
      LICENCE_ISSUED: { claimDays: 3, feedbackDays: 10 },
      PERMIT_ISSUED: { claimDays: 3, feedbackDays: 10 },
      ENTERPRISE_REGISTERED: { claimDays: 2, feedbackDays: 5 },
      PENALTY_IMPOSED: { claimDays: 3, feedbackDays: 10 },
    });
    expect(defaultCasesFile('/var/lib/datarun/audit')).toBe('/var/lib/datarun/cases/cases.jsonl');
  });

  it('names every bad deadline and unknown setting', () => {
    const bad = () => parseConfig({ cases: { deadlines: { LICENCE_ISSUED: { claimDays: 0, feedbackDays: 10 }, lower: { claimDays: 1, feedbackDays: 1 }, PERMIT_ISSUED: { claimDays: 5, feedbackDays: 2 } }, when: 1 } });
    expect(bad).toThrow(ConfigError);
    let message = '';
    try {
      bad();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('cases.deadlines: LICENCE_ISSUED.claimDays must be a whole number from 1 to 366');
    expect(message).toContain('"lower" is not an event type');
    expect(message).toContain('PERMIT_ISSUED.feedbackDays (2) must not be less than claimDays (5)');
    expect(message).toMatch(/cases: .*when/);
  });

  it('a configured entry replaces the default of its type only', async () => {
    const cases = await createHubCases({ deadlines: { LICENCE_ISSUED: { claimDays: 1, feedbackDays: 2 }, NEW_TYPE: { claimDays: 4, feedbackDays: 4 } }, store: { documents: (await import('../../../src/state')).createMemoryDocuments('cases') }, now: () => new Date() });
    expect(cases.deadlines).toMatchObject({ LICENCE_ISSUED: { claimDays: 1, feedbackDays: 2 }, NEW_TYPE: { claimDays: 4, feedbackDays: 4 }, PERMIT_ISSUED: { claimDays: 3, feedbackDays: 10 } });
    await cases.close();
  });

  it('refuses a calendar file that cannot be used, naming it', async () => {
    await expect(createHubCases({ calendarFile: '/nonexistent/calendar.json', store: { documents: (await import('../../../src/state')).createMemoryDocuments('cases') }, now: () => new Date() })).rejects.toMatchObject({
      code: 'CALENDAR_INVALID',
      message: expect.stringContaining('/nonexistent/calendar.json cannot be read'),
    });
  });
});

describe('changes in the access record', () => {
  const keyer = createSubjectKeyer('x'.repeat(32));
  const base: AuditRecordInput = { requestId: 'r1', correlationId: null, source: null, consumer: 'tax-bureau', operator: 'staff-1', purpose: 'CASE_FEEDBACK', caseNumber: 'C-1', operationName: null, operationHash: null, subjects: [], fields: {}, outcome: 'GRANTED', errorCodes: [], replyHash: null, receiptId: null };
  const change = auditChangeOf({ caseId: 'case-1', eventId: 'e:1', department: 'tax-bureau', action: 'REPORT', by: 'staff-1', at: '2026-03-02T00:00:00.000Z', from: 'CLAIMED', to: 'REPORTED', late: false, outcome: 'NOT_APPLICABLE', note: '个人信息 secret' });

  it('keeps a case change flat, its note as a hash only', () => {
    const body = toStoredBody({ ...base, changes: [change] }, keyer);
    expect(body.changes).toEqual([{ entity: 'case', caseId: 'case-1', eventId: 'e:1', department: 'tax-bureau', action: 'REPORT', by: 'staff-1', at: '2026-03-02T00:00:00.000Z', from: 'CLAIMED', to: 'REPORTED', late: false, outcome: 'NOT_APPLICABLE', noteHash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) }]);
    expect(JSON.stringify(body)).not.toContain('secret');
    expect(body.hashed).toEqual([]);
  });

  it('has no changes when none are given', () => {
    expect(toStoredBody(base, keyer)).not.toHaveProperty('changes');
  });

  it('stores an unstorable text value as its hash, naming changes in hashed', () => {
    const body = toStoredBody({ ...base, changes: [{ entity: 'case', by: 'a\u0000b' }] }, keyer);
    expect(body.changes![0]!.by).toMatch(/^sha256:/);
    expect(body.hashed).toEqual(['changes']);
  });

  it.each([
    ['an empty list', []],
    ['a nested value', [{ entity: { x: 1 } }]],
    ['a bad name', [{ 'not a name': 1 }]],
    ['a non-integer number', [{ n: 1.5 }]],
    ['a list', [['x']]],
  ])('refuses %s', (_what, changes) => {
    expect(() => toStoredBody({ ...base, changes: changes as never }, keyer)).toThrow(expect.objectContaining({ message: expect.stringContaining('changes') }));
  });
});

describe('the case resolvers', () => {
  const setup = async (writable: boolean) => {
    const { createMemoryDocuments } = await import('../../../src/state');
    const { createCaseResolvers } = await import('../../../src/gateway/cases');
    const now = () => new Date('2026-03-02T02:00:00Z');
    const cases = await createHubCases({ store: { documents: createMemoryDocuments('cases') }, now });
    const { cases: [opened] } = await cases.open({ id: 'e:1', type: 'LICENCE_ISSUED', subject: { kind: 'ENTERPRISE', id: '91350100M000100Y43' }, occurredAt: '2026-03-02T00:00:00Z' }, ['tax-bureau']);
    const resolvers = createCaseResolvers(() => cases, now, () => writable) as any;
    const ctx = (consumer: string | null) => ({ caller: consumer === null ? null : { consumer, operator: 'staff-1', roles: ['consumer'], purpose: 'CASE_FEEDBACK', caseNumber: 'C-1', requestTokenId: 't' }, replySubjects: new Map() }) as any;
    return { cases, caseId: opened!.caseId, resolvers, ctx };
  };

  it('take no step while the access log cannot be written', async () => {
    const { cases, caseId, resolvers, ctx } = await setup(false);
    await expect(resolvers.Mutation.claimCase(null, { caseId }, ctx('tax-bureau'))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    expect((await cases.service.get(caseId))!.state).toBe('PUSHED');
  });

  it('take the department from the caller, record the change, and refuse an unauthenticated caller', async () => {
    const { cases, caseId, resolvers, ctx } = await setup(true);
    await expect(resolvers.Mutation.claimCase(null, { caseId }, ctx(null))).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(resolvers.Mutation.claimCase(null, { caseId }, ctx('civil-affairs'))).rejects.toMatchObject({ code: 'CASE_NOT_RECIPIENT' });
    const context = ctx('tax-bureau');
    const claimed = await resolvers.Mutation.claimCase(null, { caseId }, context);
    expect(claimed).toMatchObject({ id: caseId, state: 'CLAIMED', claimedBy: 'staff-1', department: 'tax-bureau' });
    expect(context.caseChanges).toEqual([expect.objectContaining({ action: 'CLAIM', from: 'PUSHED', to: 'CLAIMED' })]);
    expect([...context.replySubjects.keys()]).toEqual(['ENTERPRISE:91350100M000100Y43']);
    expect((await cases.service.get(caseId))!.state).toBe('CLAIMED');
  });
});
