/**
 * Years the calendar does not hold: refused by default; with `unconfiguredYears: 'weekends'` (the
 * hub's choice) counted on weekdays alone, told once per year, and the case's deadline marked
 * provisional.
 */
import * as fc from 'fast-check';
import { createCaseService, createMemoryCaseStore, createWorkingCalendar, defaultWorkingCalendar, parseCaseDeadlines } from '../../../src/cases';

const at = (local: string): Date => new Date(`${local}+08:00`);
const endOf = (date: string): string => at(`${date}T23:59:59.999`).toISOString();
const event = { eventId: 'mr:lic-2026-12', eventType: 'LICENCE_ISSUED', subject: { kind: 'ENTERPRISE' as const, id: '91350100M000100Y43' } };
const deadlines = parseCaseDeadlines({ LICENCE_ISSUED: { claimDays: 3, feedbackDays: 10 } });

describe('a year the calendar does not hold', () => {
  it('is refused by default, naming it', () => {
    expect(() => defaultWorkingCalendar().addWorkingDays(at('2026-12-28T10:00:00'), 10)).toThrow(expect.objectContaining({ code: 'CALENDAR_YEAR_NOT_CONFIGURED', message: expect.stringContaining('2027') }));
  });

  it('counts weekdays only with unconfiguredYears: weekends, telling once per year', () => {
    const told: number[] = [];
    const cal = defaultWorkingCalendar({ unconfiguredYears: 'weekends', onUnconfiguredYear: (y) => told.push(y) });
    // Mon 28 Dec 2026: Tue 29, Wed 30, Thu 31 (2026), then Fri 1 Jan 2027 (no holiday known), Mon 4 … Fri 8, Mon 11.
    expect(cal.addWorkingDays(at('2026-12-28T10:00:00'), 3).toISOString()).toBe(endOf('2026-12-31'));
    expect(cal.addWorkingDays(at('2026-12-28T10:00:00'), 10).toISOString()).toBe(endOf('2027-01-11'));
    expect(cal.isWorkingDay('2027-01-02')).toBe(false);
    expect(cal.isWorkingDay('2028-03-01')).toBe(true);
    expect(told).toEqual([2027, 2028]);
    // The known year keeps its holidays and make-up days.
    expect(cal.isWorkingDay('2026-10-01')).toBe(false);
    expect(cal.isWorkingDay('2026-10-10')).toBe(true);
  });

  it('provisionalBetween says whether a count reached such a year', () => {
    const cal = defaultWorkingCalendar({ unconfiguredYears: 'weekends' });
    expect(cal.provisionalBetween(at('2026-12-28T10:00:00'), at('2026-12-31T23:59:59.999'))).toBe(false);
    expect(cal.provisionalBetween(at('2026-12-28T10:00:00'), at('2027-01-11T23:59:59.999'))).toBe(true);
    // The day of `from` does not count: from 31 December to 31 December reaches nothing.
    expect(cal.provisionalBetween(at('2026-12-31T10:00:00'), at('2026-12-31T12:00:00'))).toBe(false);
    expect(cal.provisionalBetween(at('2025-12-31T10:00:00'), at('2026-01-05T12:00:00'))).toBe(false);
    expect(cal.provisionalBetween(at('2025-12-30T10:00:00'), at('2025-12-31T12:00:00'))).toBe(true);
  });

  it('refuses an unknown unconfiguredYears setting', () => {
    expect(() => createWorkingCalendar({ years: { 2026: { holidays: [], workdays: [] } } }, 'cal', { unconfiguredYears: 'ignore' as never })).toThrow(expect.objectContaining({ code: 'CALENDAR_INVALID', message: expect.stringContaining('unconfiguredYears') }));
  });

  it('marks a case provisional exactly when a deadline\'s count reached an unheld year', async () => {
    const cal = defaultWorkingCalendar({ unconfiguredYears: 'weekends' });
    const service = createCaseService({ store: createMemoryCaseStore(), calendar: cal, deadlines });
    const late = await service.open(event, ['tax-office'], at('2026-12-28T10:00:00'));
    expect(late.cases[0]).toMatchObject({ claimDeadline: endOf('2026-12-31'), feedbackDeadline: endOf('2027-01-11'), deadlineProvisional: true });
    const early = await service.open({ ...event, eventId: 'mr:lic-2026-11' }, ['tax-office'], at('2026-11-02T10:00:00'));
    expect(early.cases[0]!.deadlineProvisional).toBeUndefined();
    // Property: provisional iff the feedback deadline lies after the last held day.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 364 }), async (dayOfYear) => {
        const opened = new Date(Date.UTC(2026, 0, 1, 2) + dayOfYear * 86_400_000);
        const { cases } = await service.open({ ...event, eventId: `p:${dayOfYear}` }, ['tax-office'], opened);
        expect(cases[0]!.deadlineProvisional === true).toBe(cases[0]!.feedbackDeadline > endOf('2026-12-31'));
      }),
      { numRuns: 60 },
    );
  });
});
