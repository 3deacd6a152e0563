/**
 * The working-day calendar: the shipped 2026 PRC calendar (holidays and 调休 make-up days),
 * deadlines across weekends, holidays and make-up Saturdays, cases opened on days off, the
 * local-day boundary of the time zone, bad calendar files, and the deadline's guarantees
 * property-based.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as fc from 'fast-check';
import { createWorkingCalendar, defaultWorkingCalendar, loadWorkingCalendar, type WorkingCalendar } from '../../../src/cases';

const cn = defaultWorkingCalendar();
/** An instant at local time in Shanghai. */
const at = (local: string): Date => new Date(`${local}+08:00`);
/** The deadline instant: the end of a local Shanghai day. */
const endOf = (date: string): string => at(`${date}T23:59:59.999`).toISOString();

describe('the shipped 2026 calendar', () => {
  it('is in Asia/Shanghai and holds 2026', () => {
    expect(cn.timeZone).toBe('Asia/Shanghai');
    expect(cn.years).toEqual([2026]);
  });

  it.each([
    ['2026-01-01', false, 'New Year (Thursday)'],
    ['2026-01-02', false, 'New Year (Friday)'],
    ['2026-01-04', true, 'make-up Sunday'],
    ['2026-02-14', true, 'make-up Saturday before the Spring Festival'],
    ['2026-02-16', false, 'Spring Festival (Monday)'],
    ['2026-02-23', false, 'Spring Festival, last day (Monday)'],
    ['2026-02-24', true, 'back to work (Tuesday)'],
    ['2026-02-28', true, 'make-up Saturday after the Spring Festival'],
    ['2026-04-06', false, 'Qingming (Monday)'],
    ['2026-05-04', false, 'Labour Day (Monday)'],
    ['2026-05-05', false, 'Labour Day (Tuesday)'],
    ['2026-05-09', true, 'make-up Saturday'],
    ['2026-06-19', false, 'Dragon Boat (Friday)'],
    ['2026-09-20', true, 'make-up Sunday'],
    ['2026-09-25', false, 'Mid-Autumn (Friday)'],
    ['2026-10-07', false, 'National Day (Wednesday)'],
    ['2026-10-10', true, 'make-up Saturday'],
    ['2026-03-07', false, 'an ordinary Saturday'],
    ['2026-03-08', false, 'an ordinary Sunday'],
    ['2026-03-09', true, 'an ordinary Monday'],
  ])('%s is a working day: %s (%s)', (date, working) => {
    expect(cn.isWorkingDay(date)).toBe(working);
  });

  it('has 248 working days in 2026 (365 days, 104 weekend days, 19 weekday holidays, 6 make-up days)', () => {
    let count = 0;
    for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 86_400_000) if (cn.isWorkingDay(new Date(t).toISOString().slice(0, 10))) count++;
    expect(count).toBe(365 - 104 - 19 + 6);
  });
});

describe('deadlines in working days', () => {
  it('skip a weekend: Friday + 3 is the end of Wednesday', () => {
    expect(cn.addWorkingDays(at('2026-03-06T10:00:00'), 3).toISOString()).toBe(endOf('2026-03-11'));
    expect(cn.addWorkingDays(at('2026-03-06T10:00:00'), 1).toISOString()).toBe(endOf('2026-03-09'));
  });

  it('skip a public holiday: Thursday before Qingming + 3 is the next Wednesday', () => {
    // Fri 3 April (1); 4–6 April off; Tue 7 (2); Wed 8 (3).
    expect(cn.addWorkingDays(at('2026-04-02T16:30:00'), 3).toISOString()).toBe(endOf('2026-04-08'));
  });

  it('skip the Spring Festival and count the make-up Saturdays around it', () => {
    // Sat 14 Feb is a working day (1); 15–23 Feb off; Tue 24 (2); Wed 25 (3).
    expect(cn.addWorkingDays(at('2026-02-13T09:00:00'), 3).toISOString()).toBe(endOf('2026-02-25'));
    // Thu 26 Feb + 3: Fri 27 (1), Sat 28 make-up (2), Mon 2 March (3).
    expect(cn.addWorkingDays(at('2026-02-26T09:00:00'), 3).toISOString()).toBe(endOf('2026-03-02'));
  });

  it('count from the next working day for a case opened on a holiday or a weekend', () => {
    // Sat 3 Oct (National Day): Thu 8 (1), Fri 9 (2), Sat 10 make-up (3).
    expect(cn.addWorkingDays(at('2026-10-03T11:00:00'), 3).toISOString()).toBe(endOf('2026-10-10'));
    // An ordinary Sunday: Mon, Tue, Wed.
    expect(cn.addWorkingDays(at('2026-03-08T22:00:00'), 3).toISOString()).toBe(endOf('2026-03-11'));
    // New Year's Day + 1 is the make-up Sunday 4 January.
    expect(cn.addWorkingDays(at('2026-01-01T08:00:00'), 1).toISOString()).toBe(endOf('2026-01-04'));
  });

  it('take the day of `from` in the calendar’s time zone, not UTC', () => {
    // 17:00 UTC on Friday is 01:00 on Saturday in Shanghai: counting starts on Monday either way, but
    // 15:00 UTC on Thursday is 23:00 Thursday in Shanghai, and 16:00 UTC is already Friday there.
    expect(cn.localDate(new Date('2026-03-05T15:00:00Z'))).toBe('2026-03-05');
    expect(cn.localDate(new Date('2026-03-05T16:00:00Z'))).toBe('2026-03-06');
    expect(cn.addWorkingDays(new Date('2026-03-05T15:00:00Z'), 1).toISOString()).toBe(endOf('2026-03-06'));
    expect(cn.addWorkingDays(new Date('2026-03-05T16:00:00Z'), 1).toISOString()).toBe(endOf('2026-03-09'));
  });

  it('end at local midnight in a zone with daylight saving time', () => {
    const berlin = createWorkingCalendar({ timeZone: 'Europe/Berlin', years: { 2026: { holidays: [], workdays: [] } } });
    // Fri 27 March (CET) + 1 is Monday 30 March, after the change to CEST (+02:00).
    expect(berlin.addWorkingDays(new Date('2026-03-27T12:00:00+01:00'), 1).toISOString()).toBe('2026-03-30T21:59:59.999Z');
    expect(berlin.addWorkingDays(new Date('2026-10-23T12:00:00+02:00'), 1).toISOString()).toBe('2026-10-26T22:59:59.999Z');
  });

  it('count the working days between two instants', () => {
    expect(cn.workingDaysBetween(at('2026-03-06T10:00:00'), at('2026-03-11T08:00:00'))).toBe(3);
    expect(cn.workingDaysBetween(at('2026-03-06T10:00:00'), at('2026-03-08T08:00:00'))).toBe(0);
    expect(cn.workingDaysBetween(at('2026-03-06T10:00:00'), at('2026-03-06T23:00:00'))).toBe(0);
    expect(cn.workingDaysBetween(at('2026-03-11T10:00:00'), at('2026-03-06T10:00:00'))).toBe(0);
    // 1–7 October off; Thu 8, Fri 9 and the make-up Saturday 10.
    expect(cn.workingDaysBetween(at('2026-09-30T10:00:00'), at('2026-10-10T10:00:00'))).toBe(3);
  });

  it('refuse a year the calendar does not hold, naming it', () => {
    expect(() => cn.addWorkingDays(at('2026-12-30T10:00:00'), 5)).toThrow(expect.objectContaining({ code: 'CALENDAR_YEAR_NOT_CONFIGURED', message: expect.stringContaining('2027') }));
    expect(() => cn.isWorkingDay('2025-06-02')).toThrow(expect.objectContaining({ code: 'CALENDAR_YEAR_NOT_CONFIGURED', message: expect.stringContaining('2025') }));
    expect(() => cn.workingDaysBetween(at('2026-12-28T10:00:00'), at('2027-01-05T10:00:00'))).toThrow(expect.objectContaining({ code: 'CALENDAR_YEAR_NOT_CONFIGURED', message: expect.stringContaining('2027') }));
    // Only the days after `from`'s day are counted: a `from` on the last day of an absent year needs nothing of it.
    expect(cn.workingDaysBetween(at('2025-12-31T10:00:00'), at('2026-01-05T10:00:00'))).toBe(2);
  });

  it('refuse a count or instant it cannot use', () => {
    for (const n of [0, -1, 1.5, 367, Number.NaN]) expect(() => cn.addWorkingDays(at('2026-03-06T10:00:00'), n)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(() => cn.addWorkingDays(new Date('nope'), 1)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(() => cn.isWorkingDay('2026-02-30')).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
  });
});

describe('calendar files', () => {
  const year = (holidays: unknown, workdays: unknown = []): unknown => ({ years: { 2026: { holidays, workdays } } });
  const problem = (data: unknown): string => {
    try {
      createWorkingCalendar(data, 'cal.json');
    } catch (error) {
      expect(error).toMatchObject({ code: 'CALENDAR_INVALID' });
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('refuse a date that is both off and working, naming it', () => {
    expect(problem(year(['2026-01-04'], ['2026-01-04']))).toContain('2026-01-04 is listed both as a holiday and as a make-up working day');
  });

  it('refuse a malformed date, naming it and where it is', () => {
    expect(problem(year(['2026-02-30']))).toContain('holidays[0] "2026-02-30" is not a date');
    expect(problem(year(['2026-1-5']))).toContain('"2026-1-5" is not a date');
    expect(problem(year([20260101]))).toContain('holidays[0] 20260101 is not a date');
    expect(problem(year(['2027-01-01']))).toContain('2027-01-01 is not in 2026');
  });

  it('refuse a make-up working day that is not a weekend day', () => {
    expect(problem(year([], ['2026-01-05']))).toContain('make-up working day 2026-01-05 is a Monday, not a Saturday or Sunday');
  });

  it('refuse other shapes it cannot use, listing every problem', () => {
    expect(problem([])).toContain('not a JSON object');
    expect(problem({ years: {} })).toContain('at least one year');
    expect(problem({ timeZone: 'Mars/Olympus', years: { 2026: { holidays: [], workdays: [] } } })).toContain('"Mars/Olympus" is not a time zone');
    expect(problem({ years: { '26': { holidays: [], workdays: [] } } })).toContain('four-digit year');
    expect(problem({ years: { 2026: { holidays: [] } } })).toContain('workdays must be a list');
    expect(problem({ years: { 2026: { holidays: ['2026-01-01', '2026-01-01'], workdays: [], extra: 1 } }, zone: 'x' })).toMatch(/unknown setting "zone".*listed twice.*unknown setting "extra"|unknown setting "zone".*unknown setting "extra".*listed twice/);
  });

  it('name the file that cannot be read or parsed', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-cal-'));
    try {
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, '{ "years": ');
      expect(() => loadWorkingCalendar(bad)).toThrow(expect.objectContaining({ code: 'CALENDAR_INVALID', message: expect.stringContaining(`${bad} is not JSON`) }));
      expect(() => loadWorkingCalendar(path.join(dir, 'missing.json'))).toThrow(expect.objectContaining({ code: 'CALENDAR_INVALID', message: expect.stringContaining('cannot be read (ENOENT)') }));
      const good = path.join(dir, 'good.json');
      fs.writeFileSync(good, JSON.stringify(year(['2026-03-09'])));
      expect(loadWorkingCalendar(good).isWorkingDay('2026-03-09')).toBe(false);
      fs.writeFileSync(bad, JSON.stringify(year([], ['2026-03-10'])));
      expect(() => loadWorkingCalendar(bad)).toThrow(expect.objectContaining({ message: expect.stringContaining(`${bad}: year 2026: make-up working day 2026-03-10 is a Tuesday`) }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('addWorkingDays, property-based', () => {
  // Instants of 2026 far enough from its end that 15 working days stay inside it.
  const instant = fc.integer({ min: Date.parse('2026-01-01T00:00:00+08:00'), max: Date.parse('2026-11-30T23:59:59.999+08:00') }).map((t) => new Date(t));
  const n = fc.integer({ min: 1, max: 15 });
  const endsOnWorkingDay = (calendar: WorkingCalendar, d: Date): boolean =>
    calendar.isWorkingDay(calendar.localDate(d)) && calendar.localDate(new Date(d.getTime() + 1)) !== calendar.localDate(d);

  it('ends at the last instant of a working day, with exactly n working days after from’s day up to it', () => {
    fc.assert(
      fc.property(instant, n, (from, k) => {
        const deadline = cn.addWorkingDays(from, k);
        expect(endsOnWorkingDay(cn, deadline)).toBe(true);
        expect(cn.workingDaysBetween(from, deadline)).toBe(k);
        // One millisecond earlier is still the same day; the day before holds only k - 1.
        expect(cn.workingDaysBetween(from, new Date(deadline.getTime() - 86_400_000))).toBe(k - 1);
      }),
      { numRuns: 300 },
    );
  });

  it('is monotonic in n and in from', () => {
    fc.assert(
      fc.property(instant, instant, n, (a, b, k) => {
        expect(cn.addWorkingDays(a, k + 1).getTime()).toBeGreaterThan(cn.addWorkingDays(a, k).getTime());
        const [early, late] = a <= b ? [a, b] : [b, a];
        expect(cn.addWorkingDays(early, k).getTime()).toBeLessThanOrEqual(cn.addWorkingDays(late, k).getTime());
      }),
      { numRuns: 300 },
    );
  });
});

describe('the local day, remembered per second', () => {
  // The calendar remembers each second's zone offset (formatToParts costs): the answer must be the
  // one Intl gives for that very instant, whatever was asked before, across DST changes too.
  const intlDate = (timeZone: string, d: Date): string => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
  const transitions = ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-03-28T23:00:00Z', '2026-10-24T22:00:00Z'].map((t) => Date.parse(t));
  const near = fc.tuple(fc.constantFrom(...transitions), fc.integer({ min: -7_200_000, max: 7_200_000 })).map(([t, d]) => new Date(t + d));
  const any = fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2026-12-31T12:00:00Z') }).map((t) => new Date(t));

  it('is Intl’s local date of the instant, in Shanghai and in Berlin, asked again and again', () => {
    const berlin = createWorkingCalendar({ timeZone: 'Europe/Berlin', years: { 2026: { holidays: [], workdays: [] } } });
    fc.assert(
      fc.property(fc.array(fc.oneof(near, any), { minLength: 1, maxLength: 40 }), (instants) => {
        // Twice over, and more instants than the memo holds over the runs: hits, misses and evictions.
        for (const d of [...instants, ...instants]) {
          expect(berlin.localDate(d)).toBe(intlDate('Europe/Berlin', d));
          expect(cn.localDate(d)).toBe(intlDate('Asia/Shanghai', d));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('ends the day at local midnight after an instant in the same second was asked', () => {
    const berlin = createWorkingCalendar({ timeZone: 'Europe/Berlin', years: { 2026: { holidays: [], workdays: [] } } });
    // 23:59:59.000 and .999 local share a second: both are that day, the next millisecond is not.
    const last = Date.parse('2026-10-25T22:59:59.999Z');
    expect(berlin.localDate(new Date(last - 999))).toBe('2026-10-25');
    expect(berlin.localDate(new Date(last))).toBe('2026-10-25');
    expect(berlin.localDate(new Date(last + 1))).toBe('2026-10-26');
    expect(berlin.addWorkingDays(new Date('2026-10-23T12:00:00+02:00'), 1).toISOString()).toBe('2026-10-26T22:59:59.999Z');
  });
});
