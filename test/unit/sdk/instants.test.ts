/** Instants in arguments and files: RFC 3339 date-times with a zone and full dates, only days and times that exist. */
import fc from 'fast-check';
import { parseDateTime, parseFullDate } from '../../../src/sdk';

const MIN = Date.UTC(1, 0, 1);
const MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

describe('parseDateTime', () => {
  it('reads every instant as toISOString writes it, and with an offset (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN, max: MAX }), fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }), (ms, offsetMin) => {
        const iso = new Date(ms).toISOString();
        expect(parseDateTime(iso)).toBe(ms);
        // The same instant written in another zone: local wall time plus ±hh:mm.
        const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
        const sign = offsetMin < 0 ? '-' : '+';
        const abs = Math.abs(offsetMin);
        const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        if (!local.startsWith('-') && !local.startsWith('+')) expect(parseDateTime(`${local}${zone}`)).toBe(ms);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses days that do not exist instead of rolling them over (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 29, max: 31 }), (year, month, day) => {
        const exists = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
        const text = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
        expect(parseDateTime(`${text}T00:00:00Z`) !== undefined).toBe(exists);
        expect(parseFullDate(text) !== undefined).toBe(exists);
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['1', 'a number, which Date.parse reads as 2001'],
    ['2026/12/02', 'slashes'],
    ['Dec 2 2026', 'words'],
    ['2026-12-02', 'a date without a time'],
    ['2026-12-02T10:00:00', 'a time without a zone (the machine\'s own)'],
    ['2026-12-02 10:00:00Z', 'a space for the T'],
    ['2026-02-30T00:00:00Z', 'a day that does not exist'],
    ['2026-12-02T24:00:00Z', 'hour 24'],
    ['2026-12-02T10:60:00Z', 'minute 60'],
    ['2026-12-02T10:00:00+24:00', 'an offset of 24 hours'],
    ['+275760-09-13T00:00:00.000Z', 'an expanded year'],
  ])('refuses %s (%s)', (text) => {
    expect(parseDateTime(text)).toBeUndefined();
  });

  it('reads the forms people write', () => {
    expect(parseDateTime('2026-12-02T18:00+08:00')).toBe(Date.UTC(2026, 11, 2, 10));
    expect(parseDateTime('2024-02-29T00:00:00.123456Z')).toBe(Date.UTC(2024, 1, 29, 0, 0, 0, 123));
    expect(parseFullDate('2024-02-29')).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parseFullDate('2100-02-29')).toBeUndefined();
  });
});
