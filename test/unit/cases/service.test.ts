/**
 * Pushed cases in memory: opening (idempotent), claims and reports with their coded refusals,
 * late steps, change records, listings, the overdue listing in working days, the deadline
 * configuration, and the state machine property-based over random sequences of operations.
 */
import * as fc from 'fast-check';
import {
  ALL_DEPARTMENTS,
  CASE_OUTCOMES,
  CASE_STATES,
  MAX_NOTE_LENGTH,
  createCaseService,
  createMemoryCaseStore,
  defaultWorkingCalendar,
  parseCaseDeadlines,
  type Case,
  type CaseService,
  type PushedEvent,
} from '../../../src/cases';

const calendar = defaultWorkingCalendar();
const deadlines = parseCaseDeadlines({ LICENCE_ISSUED: { claimDays: 3, feedbackDays: 10 }, ENTERPRISE_REGISTERED: { claimDays: 5, feedbackDays: 20 } });
const at = (local: string): Date => new Date(`${local}+08:00`);
const endOf = (date: string): string => at(`${date}T23:59:59.999`).toISOString();
const event = (id = 'mr:lic-1', eventType = 'LICENCE_ISSUED'): PushedEvent => ({ eventId: id, eventType, subject: { kind: 'ENTERPRISE', id: '91350100M000100Y43' } });
const service = (): CaseService => createCaseService({ store: createMemoryCaseStore(), calendar, deadlines });
/** Friday 6 March 2026, 10:00 in Shanghai. */
const OPENED = at('2026-03-06T10:00:00');

describe('opening cases', () => {
  it('opens one case per department with deadlines in working days, and a change record each', async () => {
    const s = service();
    const { cases, changes } = await s.open(event(), ['env-bureau', 'fire-safety'], OPENED);
    expect(cases).toHaveLength(2);
    expect(cases[0]).toMatchObject({
      eventId: 'mr:lic-1',
      eventType: 'LICENCE_ISSUED',
      department: 'env-bureau',
      openedAt: OPENED.toISOString(),
      // Friday + 3 working days: Mon, Tue, Wed. + 10: Mon 9 … Fri 20 March.
      claimDeadline: endOf('2026-03-11'),
      feedbackDeadline: endOf('2026-03-20'),
      state: 'PUSHED',
      version: 1,
    });
    expect(changes).toEqual(cases.map((c) => ({ caseId: c.caseId, eventId: 'mr:lic-1', department: c.department, action: 'OPEN', by: 'hub', at: OPENED.toISOString(), from: null, to: 'PUSHED', late: false })));
  });

  it('is idempotent: the same event for the same department gives the same case, and no second change', async () => {
    const s = service();
    const first = await s.open(event(), ['env-bureau'], OPENED);
    await s.claim(first.cases[0]!.caseId, 'env-bureau', 'officer-1', OPENED);
    const again = await s.open(event(), ['env-bureau', 'env-bureau', 'fire-safety'], at('2026-03-09T10:00:00'));
    expect(again.cases.map((c) => c.caseId)).toEqual([first.cases[0]!.caseId, expect.not.stringMatching(first.cases[0]!.caseId)]);
    expect(again.cases[0]).toMatchObject({ state: 'CLAIMED', openedAt: OPENED.toISOString() });
    expect(again.changes.map((c) => c.department)).toEqual(['fire-safety']);
  });

  it('refuses an event id reused for another type or subject, an unconfigured type and bad input', async () => {
    const s = service();
    await s.open(event(), ['env-bureau'], OPENED);
    await expect(s.open(event('mr:lic-1', 'ENTERPRISE_REGISTERED'), ['env-bureau'], OPENED)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining('another type or subject') });
    await expect(s.open(event('mr:x', 'LICENCE_REVOKED'), ['env-bureau'], OPENED)).rejects.toMatchObject({ code: 'CASES_CONFIG_INVALID', message: expect.stringContaining('LICENCE_REVOKED') });
    await expect(s.open(event('mr:x'), [], OPENED)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { argument: 'departments' } });
    await expect(s.open(event('mr:x'), ['has space'], OPENED)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { argument: 'departments[0]' } });
    await expect(s.open(event('has space'), ['env-bureau'], OPENED)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { argument: 'event.eventId' } });
    await expect(s.open({ ...event('mr:y'), subject: { kind: 'CAR' as never, id: 'x' } }, ['env-bureau'], OPENED)).rejects.toMatchObject({ extensions: { argument: 'event.subject.kind' } });
    await expect(s.open(event('mr:y'), ['env-bureau'], new Date(Number.NaN))).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { argument: 'now' } });
    // Late in the year: the deadline would fall in 2027, which the calendar does not hold.
    await expect(s.open(event('mr:z'), ['env-bureau'], at('2026-12-28T10:00:00'))).rejects.toMatchObject({ code: 'CALENDAR_YEAR_NOT_CONFIGURED' });
  });
});

describe('claims and reports', () => {
  async function opened(): Promise<{ s: CaseService; c: Case }> {
    const s = service();
    const { cases } = await s.open(event(), ['env-bureau'], OPENED);
    return { s, c: cases[0]! };
  }

  it('moves PUSHED → CLAIMED → REPORTED, each step returning its change record', async () => {
    const { s, c } = await opened();
    const claimed = await s.claim(c.caseId, 'env-bureau', 'officer-1', at('2026-03-09T09:00:00'));
    expect(claimed.case).toMatchObject({ state: 'CLAIMED', version: 2, claimed: { by: 'officer-1', at: at('2026-03-09T09:00:00').toISOString(), late: false } });
    expect(claimed.change).toEqual({ caseId: c.caseId, eventId: c.eventId, department: 'env-bureau', action: 'CLAIM', by: 'officer-1', at: at('2026-03-09T09:00:00').toISOString(), from: 'PUSHED', to: 'CLAIMED', late: false });
    const reported = await s.report(c.caseId, 'env-bureau', 'officer-2', { outcome: 'INSPECTED_COMPLIANT', note: '现场核查，符合要求' }, at('2026-03-16T15:00:00'));
    expect(reported.case).toMatchObject({ state: 'REPORTED', version: 3, reported: { by: 'officer-2', outcome: 'INSPECTED_COMPLIANT', note: '现场核查，符合要求', late: false } });
    expect(reported.change).toMatchObject({ action: 'REPORT', from: 'CLAIMED', to: 'REPORTED', outcome: 'INSPECTED_COMPLIANT', note: '现场核查，符合要求', late: false });
    await expect(s.get(c.caseId)).resolves.toEqual(reported.case);
  });

  it('refuses with coded errors: unknown case, another department, claiming twice, reporting before claiming, reporting twice', async () => {
    const { s, c } = await opened();
    const now = at('2026-03-09T09:00:00');
    await expect(s.claim('case-nope', 'env-bureau', 'officer-1', now)).rejects.toMatchObject({ code: 'CASE_NOT_FOUND' });
    await expect(s.claim(c.caseId, 'fire-safety', 'officer-1', now)).rejects.toMatchObject({ code: 'CASE_NOT_RECIPIENT', message: expect.stringContaining('fire-safety') });
    await expect(s.report(c.caseId, 'env-bureau', 'officer-1', { outcome: 'NOT_APPLICABLE' }, now)).rejects.toMatchObject({ code: 'CASE_NOT_CLAIMED' });
    await s.claim(c.caseId, 'env-bureau', 'officer-1', now);
    await expect(s.claim(c.caseId, 'env-bureau', 'officer-1', now)).rejects.toMatchObject({ code: 'CASE_ALREADY_CLAIMED' });
    await expect(s.report(c.caseId, 'fire-safety', 'officer-1', { outcome: 'NOT_APPLICABLE' }, now)).rejects.toMatchObject({ code: 'CASE_NOT_RECIPIENT' });
    await s.report(c.caseId, 'env-bureau', 'officer-1', { outcome: 'NOT_APPLICABLE' }, now);
    await expect(s.report(c.caseId, 'env-bureau', 'officer-1', { outcome: 'NOT_APPLICABLE' }, now)).rejects.toMatchObject({ code: 'CASE_ALREADY_REPORTED' });
    await expect(s.claim(c.caseId, 'env-bureau', 'officer-1', now)).rejects.toMatchObject({ code: 'CASE_ALREADY_CLAIMED' });
  });

  it('refuses a bad outcome, a note too long or with control characters, and a bad actor', async () => {
    const { s, c } = await opened();
    const now = at('2026-03-09T09:00:00');
    await s.claim(c.caseId, 'env-bureau', 'officer-1', now);
    await expect(s.report(c.caseId, 'env-bureau', 'officer-1', { outcome: 'DONE' as never }, now)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { argument: 'outcome' } });
    await expect(s.report(c.caseId, 'env-bureau', 'officer-1', { outcome: 'NOT_APPLICABLE', note: '字'.repeat(MAX_NOTE_LENGTH + 1) }, now)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { argument: 'note' } });
    await expect(s.report(c.caseId, 'env-bureau', 'officer-1', { outcome: 'NOT_APPLICABLE', note: 'a\u0000b' }, now)).rejects.toMatchObject({ extensions: { argument: 'note' } });
    await expect(s.report(c.caseId, 'env-bureau', 'an officer', { outcome: 'NOT_APPLICABLE' }, now)).rejects.toMatchObject({ extensions: { argument: 'by' } });
    const done = await s.report(c.caseId, 'env-bureau', 'officer-1', { outcome: 'NOT_APPLICABLE', note: '字'.repeat(MAX_NOTE_LENGTH) }, now);
    expect(done.case.state).toBe('REPORTED');
  });

  it('accepts late steps and marks them late', async () => {
    const { s, c } = await opened();
    // The claim deadline is the end of Wednesday 11 March: Thursday is late.
    const claimed = await s.claim(c.caseId, 'env-bureau', 'officer-1', at('2026-03-12T08:00:00'));
    expect(claimed.change.late).toBe(true);
    expect(claimed.case.claimed!.late).toBe(true);
    const onTime = await s.report(c.caseId, 'env-bureau', 'officer-1', { outcome: 'SUPERVISION_SCHEDULED' }, at('2026-03-20T23:59:59.999'));
    expect(onTime.change.late).toBe(false);
  });
});

describe('listing and the overdue cases', () => {
  it('lists by department and state, oldest first', async () => {
    const s = service();
    await s.open(event('e1'), ['a-dept', 'b-dept'], OPENED);
    const { cases } = await s.open(event('e2'), ['a-dept'], at('2026-03-09T10:00:00'));
    await s.claim(cases[0]!.caseId, 'a-dept', 'officer-1', at('2026-03-09T11:00:00'));
    expect((await s.list({ department: 'a-dept' })).map((c) => c.eventId)).toEqual(['e1', 'e2']);
    expect((await s.list({ department: 'a-dept', state: 'CLAIMED' })).map((c) => c.eventId)).toEqual(['e2']);
    expect((await s.list({ state: 'PUSHED' })).map((c) => c.department)).toEqual(['a-dept', 'b-dept']);
    expect(await s.list({ department: 'c-dept' })).toEqual([]);
    expect(await s.list()).toHaveLength(3);
    await expect(s.list({ state: 'DONE' as never })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('lists overdue claims and feedback with the working days begun since the deadline', async () => {
    const s = service();
    const [late, claimedLate] = (await s.open(event('e1'), ['a-dept', 'b-dept'], OPENED)).cases;
    await s.claim(claimedLate!.caseId, 'b-dept', 'officer-1', at('2026-03-10T10:00:00'));
    // Claim deadline: end of Wed 11 March. Nothing is overdue before it.
    expect(await s.overdue(ALL_DEPARTMENTS, at('2026-03-11T23:00:00'))).toEqual([]);
    const friday = await s.overdue(ALL_DEPARTMENTS, at('2026-03-13T09:00:00'));
    expect(friday).toEqual([{ case: expect.objectContaining({ caseId: late!.caseId }), step: 'CLAIM', deadline: endOf('2026-03-11'), overdueWorkingDays: 2 }]);
    // The weekend adds no working day.
    expect((await s.overdue('a-dept', at('2026-03-15T09:00:00')))[0]!.overdueWorkingDays).toBe(2);
    expect(await s.overdue('b-dept', at('2026-03-15T09:00:00'))).toEqual([]);
    // After the feedback deadline (end of Fri 20 March): a-dept is late on both steps, b-dept on its feedback.
    const later = await s.overdue(ALL_DEPARTMENTS, at('2026-03-24T09:00:00'));
    expect(later.map((o) => [o.case.department, o.step, o.overdueWorkingDays])).toEqual([
      ['a-dept', 'CLAIM', 9],
      ['a-dept', 'FEEDBACK', 2],
      ['b-dept', 'FEEDBACK', 2],
    ]);
    await s.report(claimedLate!.caseId, 'b-dept', 'officer-1', { outcome: 'INSPECTED_NONCOMPLIANT' }, at('2026-03-24T10:00:00'));
    expect((await s.overdue(ALL_DEPARTMENTS, at('2026-03-24T11:00:00'))).map((o) => o.case.department)).toEqual(['a-dept', 'a-dept']);
    await expect(s.overdue('not a dept', OPENED)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

describe('the deadline configuration', () => {
  it('refuses bad entries, naming each', () => {
    expect(() => parseCaseDeadlines({})).toThrow(expect.objectContaining({ code: 'CASES_CONFIG_INVALID' }));
    const bad = (): unknown => parseCaseDeadlines({ licence: { claimDays: 3, feedbackDays: 10 }, LICENCE_ISSUED: { claimDays: 0, feedbackDays: 10 }, TAX_CHANGED: { claimDays: 5, feedbackDays: 3, x: 1 } });
    expect(bad).toThrow(/"licence" is not an event type.*LICENCE_ISSUED\.claimDays must be a whole number.*unknown setting "x".*TAX_CHANGED\.feedbackDays \(3\) must not be less than claimDays \(5\)/);
  });
});

describe('the state machine, property-based', () => {
  const DEPTS = ['a-dept', 'b-dept'];
  const op = fc.oneof(
    fc.record({ kind: fc.constant('claim' as const), department: fc.constantFrom(...DEPTS), hours: fc.integer({ min: 0, max: 400 }) }),
    fc.record({ kind: fc.constant('report' as const), department: fc.constantFrom(...DEPTS), hours: fc.integer({ min: 0, max: 400 }), outcome: fc.constantFrom(...CASE_OUTCOMES) }),
    fc.record({ kind: fc.constant('open' as const), hours: fc.integer({ min: 0, max: 400 }) }),
    fc.record({ kind: fc.constant('unknown' as const), hours: fc.integer({ min: 0, max: 400 }) }),
  );
  const REFUSALS = ['CASE_NOT_FOUND', 'CASE_NOT_RECIPIENT', 'CASE_ALREADY_CLAIMED', 'CASE_NOT_CLAIMED', 'CASE_ALREADY_REPORTED'];

  it('never reaches an invalid state, and every accepted step returns exactly one change', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const s = service();
        const { cases } = await s.open(event(), ['a-dept'], OPENED);
        const id = cases[0]!.caseId;
        let previous = cases[0]!;
        for (const o of ops) {
          const now = new Date(OPENED.getTime() + o.hours * 3_600_000);
          let result: unknown;
          try {
            if (o.kind === 'claim') result = await s.claim(id, o.department, 'officer-1', now);
            else if (o.kind === 'report') result = await s.report(id, o.department, 'officer-1', { outcome: o.outcome }, now);
            else if (o.kind === 'open') result = await s.open(event(), ['a-dept'], now);
            else result = await s.claim('case-unknown', 'a-dept', 'officer-1', now);
          } catch (error) {
            expect(REFUSALS).toContain((error as { code: string }).code);
            result = undefined;
          }
          const current = (await s.get(id))!;
          expect(CASE_STATES).toContain(current.state);
          expect(current.claimed !== undefined).toBe(current.state !== 'PUSHED');
          expect(current.reported !== undefined).toBe(current.state === 'REPORTED');
          if (o.kind === 'open') {
            expect(result).toEqual({ cases: [previous], changes: [] });
          } else if (result) {
            const { change, case: next } = result as { change: { from: string; to: string; late: boolean }; case: Case };
            expect(next).toEqual(current);
            expect(current.version).toBe(previous.version + 1);
            expect([change.from, change.to]).toEqual([previous.state, current.state]);
            expect(CASE_STATES.indexOf(current.state)).toBe(CASE_STATES.indexOf(previous.state) + 1);
            expect(change.late).toBe(now.getTime() > Date.parse(o.kind === 'claim' ? current.claimDeadline : current.feedbackDeadline));
          } else {
            expect(current).toEqual(previous);
          }
          previous = current;
        }
      }),
      { numRuns: 150 },
    );
  });
});
