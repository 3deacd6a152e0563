/**
 * A pushed case (审管联动, 双告知、双反馈): one pushed event for one receiving department, which
 * must claim it (认领) and then report back (反馈), each within its deadline in working days.
 * The states and their transitions as pure functions of a case, a department, an actor and an
 * instant; the service (service.ts) stores what they return. Every accepted step returns one
 * change record for the gateway's access log.
 */
import { createHash } from 'node:crypto';
import { BadUserInputError, EVENT_TYPE_PATTERN, type EventSubjectKind } from '../sdk';
import { CasesError, CasesErrorCode } from './errors';

/** The states of a case, in order: pushed to the department, claimed by it, reported back on. */
export const CASE_STATES = ['PUSHED', 'CLAIMED', 'REPORTED'] as const;
/** One state of a case. */
export type CaseState = (typeof CASE_STATES)[number];

/**
 * What the department reports back: it inspected and found the subject compliant; it inspected
 * and found problems (handled under its own procedures); it put the subject under its routine
 * supervision (a later inspection plan) without inspecting now; the event is not within its remit.
 */
export const CASE_OUTCOMES = ['INSPECTED_COMPLIANT', 'INSPECTED_NONCOMPLIANT', 'SUPERVISION_SCHEDULED', 'NOT_APPLICABLE'] as const;
/** One outcome of a report. */
export type CaseOutcome = (typeof CASE_OUTCOMES)[number];

/** The longest note of a report, in characters (Unicode code points). */
export const MAX_NOTE_LENGTH = 500;

/** The identifiers of departments and actors: letters, digits, `.`, `_`, `:`, `@`, `-`, at most 128. */
export const ACTOR_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
/** Event ids: printable ASCII without spaces, at most 200 (unique across the hub, e.g. `<connector>:<department's id>`). */
export const EVENT_ID_PATTERN = /^[\x21-\x7e]{1,200}$/;
const SUBJECT_ID = /^[\x21-\x7e]{1,64}$/;
const SUBJECT_KINDS: readonly EventSubjectKind[] = ['PERSON', 'ENTERPRISE', 'PROPERTY'];

/** The event a case is opened for, as the hub pushes it. */
export interface PushedEvent {
  /** The hub's id of the event: the same event always has the same id. */
  readonly eventId: string;
  /** Its type (SCREAMING_SNAKE_CASE): `LICENCE_ISSUED`. */
  readonly eventType: string;
  readonly subject: { readonly kind: EventSubjectKind; readonly id: string };
}

/** A step taken: who, when, and whether after its deadline. */
export interface CaseStep {
  readonly by: string;
  readonly at: string;
  readonly late: boolean;
}

/** The report of a case. */
export interface CaseReport extends CaseStep {
  readonly outcome: CaseOutcome;
  readonly note?: string;
}

/** One case: one event pushed to one department. Instants are RFC 3339 UTC strings. */
export interface Case {
  readonly caseId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly subject: { readonly kind: EventSubjectKind; readonly id: string };
  readonly department: string;
  readonly openedAt: string;
  readonly claimDeadline: string;
  readonly feedbackDeadline: string;
  /**
   * Present (true) when a deadline was counted through a year the calendar does not hold, on
   * weekends alone (the calendar's `unconfiguredYears: 'weekends'`): the operator must add the year.
   */
  readonly deadlineProvisional?: true;
  readonly state: CaseState;
  readonly claimed?: CaseStep;
  readonly reported?: CaseReport;
  /** 1 when opened, one more on every transition. */
  readonly version: number;
}

/** What a transition did, for the access log: who, what, when, from which state to which; the note is the only text. */
export interface CaseChange {
  readonly caseId: string;
  readonly eventId: string;
  readonly department: string;
  readonly action: 'OPEN' | 'CLAIM' | 'REPORT';
  /** The actor (`hub` for an opening). */
  readonly by: string;
  readonly at: string;
  readonly from: CaseState | null;
  readonly to: CaseState;
  /** Whether the step came after its deadline (always false for an opening). */
  readonly late: boolean;
  readonly outcome?: CaseOutcome;
  readonly note?: string;
}

/** A case after a transition, and the change it made. */
export interface CaseTransition {
  readonly case: Case;
  readonly change: CaseChange;
}

/** The report a department gives. */
export interface ReportInput {
  readonly outcome: CaseOutcome;
  readonly note?: string;
}

/** The id of the case of `eventId` for `department`: the same pair always gives the same id. */
export function caseIdOf(eventId: string, department: string): string {
  return `case-${createHash('sha256').update(`${eventId}\n${department}`).digest('hex').slice(0, 32)}`;
}

/** Refuses an instant that is not a valid Date. */
export function checkNow(now: Date): void {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new BadUserInputError('now', 'must be a valid instant');
}

/** Refuses an identifier of a department or actor that does not match ACTOR_ID_PATTERN. */
export function checkActor(value: unknown, argument: string): asserts value is string {
  if (typeof value !== 'string' || !ACTOR_ID_PATTERN.test(value)) throw new BadUserInputError(argument, 'must be 1 to 128 letters, digits or . _ : @ - (starting with a letter or digit)');
}

/** Refuses a pushed event of the wrong shape, naming the field. */
export function checkEvent(event: PushedEvent): void {
  if (typeof event !== 'object' || event === null) throw new BadUserInputError('event', 'must be an object { eventId, eventType, subject }');
  if (typeof event.eventId !== 'string' || !EVENT_ID_PATTERN.test(event.eventId)) throw new BadUserInputError('event.eventId', 'must be 1 to 200 printable ASCII characters without spaces');
  if (typeof event.eventType !== 'string' || !EVENT_TYPE_PATTERN.test(event.eventType) || event.eventType.length > 64) throw new BadUserInputError('event.eventType', 'must be SCREAMING_SNAKE_CASE, 3 to 64 characters');
  const subject = event.subject as { kind?: unknown; id?: unknown } | undefined;
  if (typeof subject !== 'object' || subject === null || !SUBJECT_KINDS.includes(subject.kind as EventSubjectKind)) throw new BadUserInputError('event.subject.kind', `must be one of ${SUBJECT_KINDS.join(', ')}`);
  if (typeof subject.id !== 'string' || !SUBJECT_ID.test(subject.id)) throw new BadUserInputError('event.subject.id', 'must be 1 to 64 printable ASCII characters without spaces');
}

/** Refuses a report whose outcome is not one of CASE_OUTCOMES or whose note is too long or holds control characters. */
export function checkReport(report: ReportInput): void {
  if (typeof report !== 'object' || report === null) throw new BadUserInputError('report', 'must be an object { outcome, note }');
  if (!CASE_OUTCOMES.includes(report.outcome)) throw new BadUserInputError('outcome', `must be one of ${CASE_OUTCOMES.join(', ')}`);
  if (report.note === undefined) return;
  if (typeof report.note !== 'string') throw new BadUserInputError('note', 'must be a string');
  if ([...report.note].length > MAX_NOTE_LENGTH) throw new BadUserInputError('note', `must be at most ${MAX_NOTE_LENGTH} characters`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(report.note)) throw new BadUserInputError('note', 'must not hold control characters (line breaks and tabs aside)');
}

function refuse(code: CasesErrorCode, message: string, c: Case): never {
  throw new CasesError(code, message, { caseId: c.caseId });
}

function checkRecipient(c: Case, department: string): void {
  if (c.department !== department) refuse(CasesErrorCode.CASE_NOT_RECIPIENT, `Case ${c.caseId} was not pushed to department ${department}.`, c);
}

/** Claims a case for its department: PUSHED → CLAIMED, late after the claim deadline. */
export function claimCase(c: Case, department: string, by: string, now: Date): CaseTransition {
  checkRecipient(c, department);
  if (c.state !== 'PUSHED') refuse(CasesErrorCode.CASE_ALREADY_CLAIMED, `Case ${c.caseId} was claimed before.`, c);
  const at = now.toISOString();
  const late = now.getTime() > Date.parse(c.claimDeadline);
  const next: Case = { ...c, state: 'CLAIMED', claimed: { by, at, late }, version: c.version + 1 };
  return { case: next, change: { caseId: c.caseId, eventId: c.eventId, department, action: 'CLAIM', by, at, from: 'PUSHED', to: 'CLAIMED', late } };
}

/** Reports back on a claimed case: CLAIMED → REPORTED, late after the feedback deadline. */
export function reportCase(c: Case, department: string, by: string, report: ReportInput, now: Date): CaseTransition {
  checkRecipient(c, department);
  if (c.state === 'PUSHED') refuse(CasesErrorCode.CASE_NOT_CLAIMED, `Case ${c.caseId} has not been claimed: claim it before reporting.`, c);
  if (c.state === 'REPORTED') refuse(CasesErrorCode.CASE_ALREADY_REPORTED, `Case ${c.caseId} was reported on before.`, c);
  const at = now.toISOString();
  const late = now.getTime() > Date.parse(c.feedbackDeadline);
  const note = report.note === undefined || report.note === '' ? {} : { note: report.note };
  const next: Case = { ...c, state: 'REPORTED', reported: { by, at, late, outcome: report.outcome, ...note }, version: c.version + 1 };
  return {
    case: next,
    change: { caseId: c.caseId, eventId: c.eventId, department, action: 'REPORT', by, at, from: 'CLAIMED', to: 'REPORTED', late, outcome: report.outcome, ...note },
  };
}
