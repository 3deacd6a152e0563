/**
 * The working-day calendar: which local days are working days in a time zone (Asia/Shanghai by
 * default), from data: per year, the public holidays (days off) and the make-up working days
 * (调休: a Saturday or Sunday declared a working day). Every other Monday to Friday is a working
 * day, every other Saturday and Sunday is not. A day in a year the data does not hold is refused
 * (CALENDAR_YEAR_NOT_CONFIGURED), never counted as if that year had no holidays.
 *
 * Deadlines (docs/cases.md): `addWorkingDays(from, n)` is the end (23:59:59.999 local time) of
 * the n-th working day strictly after the local day of `from`: "within 3 working days" of a push
 * received on a Monday ends on Thursday at midnight; received on a Saturday, at the end of Wednesday.
 */
import { readFileSync } from 'node:fs';
import { BadUserInputError } from '../sdk';
import shipped from './calendar-cn.json';
import { CalendarInvalidError, CalendarYearNotConfiguredError } from './errors';

/** One year of the calendar file. */
export interface CalendarYearData {
  /** Days off that would otherwise be working days (the whole holiday span may be listed, weekends included). */
  readonly holidays: readonly string[];
  /** Saturdays and Sundays that are working days (调休上班). */
  readonly workdays: readonly string[];
  /** Where the dates come from (the State Council notice). */
  readonly source?: string;
}

/** The calendar file: a time zone and the years it holds, keyed by the year (`"2026"`). */
export interface CalendarData {
  /** An IANA time zone. @default 'Asia/Shanghai' */
  readonly timeZone?: string;
  readonly years: Readonly<Record<string, CalendarYearData>>;
}

/** Working days in one time zone, for the configured years. */
export interface WorkingCalendar {
  readonly timeZone: string;
  /** The years the calendar holds, ascending. */
  readonly years: readonly number[];
  /** Whether the local day `date` (`YYYY-MM-DD`) is a working day. */
  isWorkingDay(date: string): boolean;
  /** The local day (`YYYY-MM-DD`) of an instant. */
  localDate(instant: Date): string;
  /**
   * The deadline `n` working days after `from`: the end (23:59:59.999 local time) of the n-th
   * working day strictly after the local day of `from`. `n` is a whole number from 1 to 366.
   */
  addWorkingDays(from: Date, n: number): Date;
  /**
   * The number of working days strictly after the local day of `from`, up to and including the
   * local day of `to` (0 when `to`'s day is not after `from`'s): `workingDaysBetween(from,
   * addWorkingDays(from, n)) === n`.
   */
  workingDaysBetween(from: Date, to: Date): number;
  /**
   * Whether a count from `from` to `to` (the local days strictly after `from`'s up to `to`'s)
   * reaches a year the calendar does not hold: counted on weekends alone when the calendar was
   * made with `unconfiguredYears: 'weekends'`, refused otherwise.
   */
  provisionalBetween(from: Date, to: Date): boolean;
}

/** What a calendar does with a year its data does not hold. */
export interface WorkingCalendarOptions {
  /**
   * `refuse` (the default): any count reaching such a year fails with
   * CALENDAR_YEAR_NOT_CONFIGURED. `weekends`: the year's Mondays to Fridays count as working days
   * (no holidays, no make-up days), and `provisionalBetween` says which counts did so.
   */
  readonly unconfiguredYears?: 'refuse' | 'weekends';
  /** Told once per year (per calendar) the first time a count reaches a year counted on weekends alone. */
  onUnconfiguredYear?(year: number): void;
}

/** The default time zone of the calendar. */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

/** The most working days one count may span. */
export const MAX_WORKING_DAYS = 366;

const DAY_MS = 86_400_000;
/** Seconds whose zone offset a calendar remembers (then it starts again). */
const WALL_CLOCK_MEMO = 256;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Days since 1970-01-01 of a civil date `YYYY-MM-DD`, or undefined if it is not one. */
function dayOf(date: string): number | undefined {
  const m = DATE.exec(date);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return t / DAY_MS;
}

const dateOf = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);
const weekdayOf = (day: number): number => (((day + 4) % 7) + 7) % 7;
const yearOf = (day: number): number => new Date(day * DAY_MS).getUTCFullYear();

function checkInstant(value: Date, name: string): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new BadUserInputError(name, 'must be a valid instant');
}

/** Checks calendar data and builds the calendar, or throws CalendarInvalidError naming every problem (`name`: the file, for messages). */
export function createWorkingCalendar(data: unknown, name = 'the calendar', options: WorkingCalendarOptions = {}): WorkingCalendar {
  const weekendsOnly = options.unconfiguredYears === 'weekends';
  if (options.unconfiguredYears !== undefined && options.unconfiguredYears !== 'refuse' && !weekendsOnly) {
    throw new CalendarInvalidError([`unconfiguredYears must be "refuse" or "weekends", but got ${JSON.stringify(options.unconfiguredYears)}`]);
  }
  const warned = new Set<number>();
  const problems: string[] = [];
  const holidays = new Set<number>();
  const workdays = new Set<number>();
  const years: number[] = [];
  let timeZone = DEFAULT_TIME_ZONE;

  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new CalendarInvalidError([`${name} is not a JSON object`]);
  const input = data as Record<string, unknown>;
  for (const key of Object.keys(input)) if (key !== 'timeZone' && key !== 'years') problems.push(`${name}: unknown setting "${key}" (expected timeZone, years)`);
  if (input.timeZone !== undefined) {
    if (typeof input.timeZone !== 'string') problems.push(`${name}: timeZone must be a string`);
    else {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: input.timeZone });
        timeZone = input.timeZone;
      } catch {
        problems.push(`${name}: timeZone ${JSON.stringify(input.timeZone)} is not a time zone`);
      }
    }
  }
  const rawYears = input.years;
  if (typeof rawYears !== 'object' || rawYears === null || Array.isArray(rawYears) || Object.keys(rawYears).length === 0) {
    problems.push(`${name}: years must be an object holding at least one year ("2026": { holidays, workdays })`);
  } else {
    for (const [yearKey, entry] of Object.entries(rawYears as Record<string, unknown>)) {
      const where = `${name}: year ${yearKey}`;
      if (!/^\d{4}$/.test(yearKey)) {
        problems.push(`${where}: the key must be a four-digit year`);
        continue;
      }
      const year = Number(yearKey);
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        problems.push(`${where} must be an object { holidays, workdays }`);
        continue;
      }
      const e = entry as Record<string, unknown>;
      for (const key of Object.keys(e)) if (!['holidays', 'workdays', 'source'].includes(key)) problems.push(`${where}: unknown setting "${key}" (expected holidays, workdays, source)`);
      if (e.source !== undefined && typeof e.source !== 'string') problems.push(`${where}: source must be a string`);
      years.push(year);
      for (const list of ['holidays', 'workdays'] as const) {
        const dates = e[list];
        if (!Array.isArray(dates)) {
          problems.push(`${where}: ${list} must be a list of dates (YYYY-MM-DD)`);
          continue;
        }
        const target = list === 'holidays' ? holidays : workdays;
        dates.forEach((value: unknown, i) => {
          const day = typeof value === 'string' ? dayOf(value) : undefined;
          if (day === undefined) return void problems.push(`${where}: ${list}[${i}] ${JSON.stringify(value)} is not a date (YYYY-MM-DD)`);
          if (yearOf(day) !== year) return void problems.push(`${where}: ${list}[${i}] ${value as string} is not in ${year}`);
          if (target.has(day)) return void problems.push(`${where}: ${value as string} is listed twice in ${list}`);
          target.add(day);
          const weekday = weekdayOf(day);
          if (list === 'workdays' && weekday !== 0 && weekday !== 6) problems.push(`${where}: make-up working day ${value as string} is a ${WEEKDAYS[weekday]}, not a Saturday or Sunday`);
        });
      }
    }
  }
  for (const day of holidays) if (workdays.has(day)) problems.push(`${name}: ${dateOf(day)} is listed both as a holiday and as a make-up working day`);
  if (problems.length > 0) throw new CalendarInvalidError(problems);
  years.sort((a, b) => a - b);
  const configured = new Set(years);

  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  // The zone's offset by whole UTC second (`formatToParts` is the costly part, and a case opened per
  // delivery asks for "now" and its deadline day's end again and again). Exact: the offset only
  // changes at a zone transition, which is a whole second, and the wall clock below is read to the second.
  const offsets = new Map<number, number>();
  /** The local wall-clock time of `ms`, as milliseconds of a UTC clock showing it. */
  function wallClock(ms: number): number {
    const second = Math.floor(ms / 1000);
    let offset = offsets.get(second);
    if (offset === undefined) {
      const p: Record<string, number> = {};
      for (const part of parts.formatToParts(new Date(second * 1000))) if (part.type !== 'literal') p[part.type] = Number(part.value);
      offset = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - second * 1000;
      if (offsets.size >= WALL_CLOCK_MEMO) offsets.clear();
      offsets.set(second, offset);
    }
    return ms + offset;
  }
  const localDay = (instant: Date): number => Math.floor(wallClock(instant.getTime()) / DAY_MS);
  /** The instant of 23:59:59.999 local time on `day`. */
  function endOfDay(day: number): Date {
    const target = day * DAY_MS + DAY_MS - 1;
    let guess = target - (wallClock(target) - target);
    guess = target - (wallClock(guess) - guess);
    return new Date(guess);
  }
  function working(day: number): boolean {
    const year = yearOf(day);
    if (!configured.has(year)) {
      if (!weekendsOnly) throw new CalendarYearNotConfiguredError(year, years);
      if (!warned.has(year)) {
        warned.add(year);
        options.onUnconfiguredYear?.(year);
      }
      const weekday = weekdayOf(day);
      return weekday !== 0 && weekday !== 6;
    }
    if (holidays.has(day)) return false;
    if (workdays.has(day)) return true;
    const weekday = weekdayOf(day);
    return weekday !== 0 && weekday !== 6;
  }

  return {
    timeZone,
    years: Object.freeze([...years]),
    isWorkingDay(date) {
      const day = typeof date === 'string' ? dayOf(date) : undefined;
      if (day === undefined) throw new BadUserInputError('date', `must be a date (YYYY-MM-DD), but got ${JSON.stringify(date)}`);
      return working(day);
    },
    localDate(instant) {
      checkInstant(instant, 'instant');
      return dateOf(localDay(instant));
    },
    addWorkingDays(from, n) {
      checkInstant(from, 'from');
      if (!Number.isInteger(n) || n < 1 || n > MAX_WORKING_DAYS) throw new BadUserInputError('n', `must be a whole number of working days from 1 to ${MAX_WORKING_DAYS}, but got ${String(n)}`);
      let day = localDay(from);
      for (let count = 0; count < n; ) if (working(++day)) count++;
      return endOfDay(day);
    },
    workingDaysBetween(from, to) {
      checkInstant(from, 'from');
      checkInstant(to, 'to');
      const first = localDay(from);
      const last = localDay(to);
      if (last <= first) return 0;
      // Both ends' years must be held even if the loop below would not reach a day of them.
      working(first + 1);
      working(last);
      let count = 0;
      for (let day = first + 1; day <= last; day++) if (working(day)) count++;
      return count;
    },
    provisionalBetween(from, to) {
      checkInstant(from, 'from');
      checkInstant(to, 'to');
      const first = yearOf(localDay(from) + 1);
      const last = yearOf(localDay(to));
      for (let year = first; year <= last; year++) if (!configured.has(year)) return true;
      return false;
    },
  };
}

/** The shipped calendar: the PRC's public holidays and make-up working days (src/cases/calendar-cn.json), in Asia/Shanghai. */
export function defaultWorkingCalendar(options: WorkingCalendarOptions = {}): WorkingCalendar {
  return createWorkingCalendar(shipped, 'src/cases/calendar-cn.json', options);
}

/** Reads a calendar file (the format of src/cases/calendar-cn.json), or throws CalendarInvalidError naming the file and every problem. */
export function loadWorkingCalendar(file: string, options: WorkingCalendarOptions = {}): WorkingCalendar {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CalendarInvalidError([`${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CalendarInvalidError([`${file} is not JSON (${(error as Error).message})`]);
  }
  return createWorkingCalendar(data, file, options);
}
