/**
 * What the auditor's and the citizen's queries share, whichever index answers them (the embedded
 * one in audit-log.ts, the shared one in PostgreSQL in pg-index.ts): page sizes, time arguments,
 * the re-check of a record read back against the filter, and the withholding of confidential
 * purposes from the citizen.
 */
import { BadUserInputError, parseDateTime, parseFullDate } from '../sdk';
import { AuditOptionsError } from './errors';
import type { AuditOutcome, AuditRecord } from './record';

/** The largest page a query returns. */
export const MAX_PAGE_SIZE = 500;
/** The page size when none is asked for. */
export const DEFAULT_PAGE_SIZE = 50;

/** When a confidential purpose's accesses may be shown to the citizen: from a fixed date (ISO 8601), or a number of days after each access. */
export type DisclosureRule = string | { days: number };

/** A disclosure rule, parsed. */
export type Rule = { until: number } | { days: number };

/** The conditions a query filters records by (all given must hold). */
export interface RecordConditions {
  consumer?: string;
  department?: string;
  purpose?: string;
  caseNumber?: string;
  outcome?: AuditOutcome;
  /** The federation request id a request between hubs carries. */
  federationRequestId?: string;
}

/** Parses the confidential purposes' disclosure rules, naming a bad one. */
export function disclosureRules(given: unknown): Map<string, Rule> {
  const rules = new Map<string, Rule>();
  if (given === undefined) return rules;
  if (typeof given !== 'object' || given === null) throw new AuditOptionsError('confidentialPurposes', 'an object mapping purpose codes to a date or { days }');
  for (const [purpose, rule] of Object.entries(given as Record<string, DisclosureRule>)) {
    const until = typeof rule === 'string' ? (parseFullDate(rule) ? Date.parse(rule) : parseDateTime(rule)) : undefined;
    if (until !== undefined) rules.set(purpose, { until });
    else if (rule && typeof rule === 'object' && Number.isSafeInteger(rule.days) && rule.days > 0) rules.set(purpose, { days: rule.days });
    else throw new AuditOptionsError(`confidentialPurposes.${purpose}`, 'a date (2027-01-01, UTC), an RFC 3339 date-time with its time zone, or { days: <positive integer> }');
  }
  return rules;
}

/** Whether an access under `purpose` at `timeMs` is still withheld from the citizen at `nowMs`. */
export function withheldBy(rules: ReadonlyMap<string, Rule>, purpose: string | null, timeMs: number, nowMs: number): boolean {
  const rule = purpose === null ? undefined : rules.get(purpose);
  if (!rule) return false;
  return 'until' in rule ? nowMs < rule.until : nowMs < timeMs + rule.days * 86_400_000;
}

/** A time argument (ISO 8601 or Date) in milliseconds, or a clear error naming it. */
export function timeArgument(value: Date | string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? parseDateTime(value) : undefined;
  if (ms === undefined || Number.isNaN(ms)) throw new BadUserInputError(name, `must be an RFC 3339 date-time with its time zone, such as 2026-12-02T00:00:00Z or 2026-12-02T08:00:00+08:00, but got: ${quotedArgument(value)}`);
  return ms;
}

/** An argument as a message shows it: quoted, and cut short when long (an error never carries a caller's whole text back). */
export function quotedArgument(value: unknown): string {
  const text = JSON.stringify(typeof value === 'string' ? value : String(value));
  return text.length > 80 ? `${text.slice(0, 77)}…"` : text;
}

/**
 * The text of a listing's cursor: its base64url decoded, only when it is the one encoding of it
 * (a cursor cut short or with a character added decodes to another cursor, so such a text is
 * no cursor); undefined when it is not.
 */
export function cursorText(cursor: unknown): string | undefined {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  const bytes = Buffer.from(cursor, 'base64url');
  return bytes.toString('base64url') === cursor ? bytes.toString('utf8') : undefined;
}

/** The page size asked for, or a clear error. */
export function pageSize(first: number | undefined): number {
  if (first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(first) || first < 1 || first > MAX_PAGE_SIZE) throw new BadUserInputError('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  return first;
}

/**
 * Whether a record read back matches the filter. An index is a cache of the chain: each record
 * it points to is checked again, so a stale or damaged index can hide a record (verification
 * finds that) but never show a wrong one.
 */
export function recordMatches(record: AuditRecord, filter: RecordConditions, subjectKey: string | undefined, fromMs?: number, toMs?: number): boolean {
  const time = Date.parse(record.time);
  return (
    (subjectKey === undefined || record.subjects.some((s) => s.key === subjectKey)) &&
    (filter.consumer === undefined || record.consumer === filter.consumer) &&
    (filter.caseNumber === undefined || record.caseNumber === filter.caseNumber) &&
    (filter.purpose === undefined || record.purpose === filter.purpose) &&
    (filter.department === undefined || Object.hasOwn(record.fields, filter.department)) &&
    (filter.outcome === undefined || record.outcome === filter.outcome) &&
    (filter.federationRequestId === undefined || record.federationRequestId === filter.federationRequestId) &&
    (fromMs === undefined || time >= fromMs) &&
    (toMs === undefined || time <= toMs)
  );
}
