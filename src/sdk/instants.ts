/**
 * Instants as people and systems write them in arguments and files: RFC 3339 date-times with a
 * time zone (`2026-12-02T10:00:00Z`, `2026-12-02T18:00+08:00`) and full dates (`2026-12-02`).
 * `Date.parse` alone reads far more (`"1"` as 2001, `2026/12/02`, a time without a zone in the
 * machine's own zone) and rolls impossible days over (`2026-02-30` as 2 March), which would turn a
 * mistyped bound into a silently different window; these read only the forms above, and only
 * days and times that exist.
 */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;
const FULL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether year-month-day (month 1–12) names a day of the Gregorian calendar. */
function isCalendarDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return day <= days;
}

/**
 * An RFC 3339 date-time with `Z` or an offset (seconds and their fraction optional) as epoch
 * milliseconds; undefined for any other text, and for a day or time that does not exist
 * (2026-02-30, 24:00, an offset of 24 hours).
 */
export function parseDateTime(value: string): number | undefined {
  const m = typeof value === 'string' ? DATE_TIME.exec(value) : null;
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, oh, om] = m;
  if (!isCalendarDay(Number(y), Number(mo), Number(d))) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59) return undefined;
  if (oh !== undefined && (Number(oh) > 23 || Number(om) > 59)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A full date (`YYYY-MM-DD`) that exists, as its parts; undefined for any other text. */
export function parseFullDate(value: string): { year: number; month: number; day: number } | undefined {
  const m = typeof value === 'string' ? FULL_DATE.exec(value) : null;
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return isCalendarDay(year, month, day) ? { year, month, day } : undefined;
}
