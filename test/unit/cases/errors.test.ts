/**
 * The codes of src/cases are in the hub's error contract: the refusals of a step are field-level
 * (clients see them), the calendar's and the stores' are the operator's.
 */
import { CalendarInvalidError, CalendarYearNotConfiguredError, CasesConfigError, CasesError, CasesErrorCode } from '../../../src/cases';
import { ERROR_CODES, HubError, clientCode } from '../../../src/sdk';

describe('the error codes of pushed cases', () => {
  it('are all in the registry, each constant named as its code', () => {
    for (const [name, code] of Object.entries(CasesErrorCode)) {
      expect(name).toBe(code);
      expect(Object.keys(ERROR_CODES)).toContain(code);
    }
  });

  it('let clients see the refusals of a step, and keep the operator’s to the operator', () => {
    for (const code of ['CASE_NOT_FOUND', 'CASE_NOT_RECIPIENT', 'CASE_ALREADY_CLAIMED', 'CASE_NOT_CLAIMED', 'CASE_ALREADY_REPORTED'] as const) {
      expect([code, ERROR_CODES[code].level, clientCode(code)]).toEqual([code, 'field', code]);
    }
    for (const code of ['CALENDAR_INVALID', 'CALENDAR_YEAR_NOT_CONFIGURED', 'CASES_CONFIG_INVALID', 'CASES_STORE_CORRUPT', 'CASES_STORE_CONFLICT', 'CASES_STORE_UNAVAILABLE'] as const) {
      expect([code, clientCode(code)]).toEqual([code, 'INTERNAL_SERVER_ERROR']);
    }
  });

  it('are HubErrors carrying their code', () => {
    const errors = [new CasesError('CASE_NOT_FOUND', 'x'), new CalendarInvalidError(['x']), new CalendarYearNotConfiguredError(2027, [2026]), new CasesConfigError(['x'])];
    for (const error of errors) {
      expect(error).toBeInstanceOf(HubError);
      expect(error.extensions.code).toBe(error.code);
    }
    expect(new CalendarYearNotConfiguredError(2027, [2026]).message).toContain('no data for 2027 (configured: 2026)');
  });
});
