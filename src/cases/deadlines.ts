/**
 * The deadlines of pushed cases per event type, in working days counted from the push: the
 * working days a department has to claim a case, and the working days it has to report back
 * (both from the opening, so `feedbackDays` is at least `claimDays`).
 */
import { EVENT_TYPE_PATTERN } from '../sdk';
import { MAX_WORKING_DAYS } from './calendar';
import { CasesConfigError } from './errors';

/** The deadlines of one event type. */
export interface CaseDeadlines {
  /** Working days to claim the case, from the push. */
  readonly claimDays: number;
  /** Working days to report back, from the push. */
  readonly feedbackDays: number;
}

/** Deadlines by event type (`LICENCE_ISSUED: { claimDays: 3, feedbackDays: 10 }`). */
export type CaseDeadlineConfig = Readonly<Record<string, CaseDeadlines>>;

/**
 * Checks a deadlines configuration, or throws CasesConfigError naming every bad entry: event
 * types in SCREAMING_SNAKE_CASE, whole numbers of working days from 1 to 366, feedback not
 * before the claim.
 */
export function parseCaseDeadlines(input: unknown): CaseDeadlineConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || Object.keys(input).length === 0) {
    throw new CasesConfigError(['deadlines must be an object with at least one event type ({ "LICENCE_ISSUED": { "claimDays": 3, "feedbackDays": 10 } })']);
  }
  const problems: string[] = [];
  const out: Record<string, CaseDeadlines> = {};
  const days = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_WORKING_DAYS;
  for (const [type, entry] of Object.entries(input as Record<string, unknown>)) {
    if (!EVENT_TYPE_PATTERN.test(type)) problems.push(`deadlines: "${type}" is not an event type (SCREAMING_SNAKE_CASE)`);
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    for (const key of Object.keys(e)) if (key !== 'claimDays' && key !== 'feedbackDays') problems.push(`deadlines.${type}: unknown setting "${key}"`);
    if (!days(e.claimDays)) problems.push(`deadlines.${type}.claimDays must be a whole number from 1 to ${MAX_WORKING_DAYS}`);
    if (!days(e.feedbackDays)) problems.push(`deadlines.${type}.feedbackDays must be a whole number from 1 to ${MAX_WORKING_DAYS}`);
    else if (days(e.claimDays) && e.feedbackDays < e.claimDays) problems.push(`deadlines.${type}.feedbackDays (${e.feedbackDays}) must not be less than claimDays (${e.claimDays}): both count from the push`);
    if (days(e.claimDays) && days(e.feedbackDays)) out[type] = Object.freeze({ claimDays: e.claimDays, feedbackDays: e.feedbackDays });
  }
  if (problems.length > 0) throw new CasesConfigError(problems);
  return Object.freeze(out);
}
