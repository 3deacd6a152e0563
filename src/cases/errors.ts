/**
 * Errors of the pushed cases and the working-day calendar: one base class with a stable code
 * (a HubError, like every coded error of the hub). Messages name the case, department, date or
 * setting at fault, never a note's text.
 */
import { HubError, type ErrorCode } from '../sdk';

/** The stable codes of src/cases. */
export const CasesErrorCode = {
  /** No case has the id asked for. */
  CASE_NOT_FOUND: 'CASE_NOT_FOUND',
  /** The department acting on a case is not its recipient. */
  CASE_NOT_RECIPIENT: 'CASE_NOT_RECIPIENT',
  /** The case was claimed before. */
  CASE_ALREADY_CLAIMED: 'CASE_ALREADY_CLAIMED',
  /** Feedback on a case that has not been claimed. */
  CASE_NOT_CLAIMED: 'CASE_NOT_CLAIMED',
  /** Feedback on a case was given before. */
  CASE_ALREADY_REPORTED: 'CASE_ALREADY_REPORTED',
  /** The calendar file (or data) cannot be used. */
  CALENDAR_INVALID: 'CALENDAR_INVALID',
  /** A count reaches a year the calendar does not hold. */
  CALENDAR_YEAR_NOT_CONFIGURED: 'CALENDAR_YEAR_NOT_CONFIGURED',
  /** The deadlines configuration cannot be used, or an event type has none. */
  CASES_CONFIG_INVALID: 'CASES_CONFIG_INVALID',
  /** The case store holds something that must not be papered over. */
  CASES_STORE_CORRUPT: 'CASES_STORE_CORRUPT',
  /** A case kept changing under a transition. */
  CASES_STORE_CONFLICT: 'CASES_STORE_CONFLICT',
  /** The case file cannot be written or read, or is closed. */
  CASES_STORE_UNAVAILABLE: 'CASES_STORE_UNAVAILABLE',
} as const satisfies Record<string, ErrorCode>;

/** One of the codes of src/cases. */
export type CasesErrorCode = (typeof CasesErrorCode)[keyof typeof CasesErrorCode];

/** The base of the errors of src/cases: a stable `code`, a message naming what is at fault. */
export class CasesError extends HubError {
  declare readonly code: CasesErrorCode;

  constructor(code: CasesErrorCode, message: string, extensions: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, extensions, cause);
  }
}

/** The working-day calendar cannot be used: the message names every problem. */
export class CalendarInvalidError extends CasesError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(CasesErrorCode.CALENDAR_INVALID, `The working-day calendar is invalid: ${problems.join('; ')}.`);
    this.problems = problems;
  }
}

/** A date in a year the calendar has no data for: refused rather than counted as if it had no holidays. */
export class CalendarYearNotConfiguredError extends CasesError {
  constructor(year: number, configured: readonly number[]) {
    super(
      CasesErrorCode.CALENDAR_YEAR_NOT_CONFIGURED,
      `The working-day calendar has no data for ${year} (configured: ${configured.length ? configured.join(', ') : 'none'}): add that year's holidays and make-up working days.`,
      { year },
    );
  }
}

/** The deadlines configuration cannot be used: the message names every problem. */
export class CasesConfigError extends CasesError {
  /** Every problem found, each naming its setting. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(CasesErrorCode.CASES_CONFIG_INVALID, `The pushed-case configuration is invalid: ${problems.join('; ')}.`);
    this.problems = problems;
  }
}
