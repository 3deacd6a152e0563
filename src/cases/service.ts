/**
 * The pushed-case service: opens cases for a pushed event, takes claims and reports, lists
 * cases and the overdue ones. Every operation takes the instant it happens at (`now`, the
 * caller's clock): nothing here reads the system clock.
 */
import { BadUserInputError } from '../sdk';
import type { WorkingCalendar } from './calendar';
import {
  CASE_STATES,
  caseIdOf,
  checkActor,
  checkEvent,
  checkNow,
  checkReport,
  claimCase,
  reportCase,
  type Case,
  type CaseChange,
  type CaseState,
  type CaseTransition,
  type PushedEvent,
  type ReportInput,
} from './case';
import type { CaseDeadlineConfig } from './deadlines';
import { CasesConfigError, CasesError, CasesErrorCode } from './errors';
import type { CaseStore } from './store';

/** `overdue(ALL_DEPARTMENTS, now)`: the overdue cases of every department. */
export const ALL_DEPARTMENTS = '*';

/** The most departments one event is pushed to. */
export const MAX_DEPARTMENTS_PER_EVENT = 100;

/** Which step of a case is overdue. */
export type OverdueStep = 'CLAIM' | 'FEEDBACK';

/** A case whose step is overdue: the step, its deadline, and the working days begun since (0 when only days off have passed). */
export interface OverdueCase {
  readonly case: Case;
  readonly step: OverdueStep;
  readonly deadline: string;
  readonly overdueWorkingDays: number;
}

/** What `open` did: the cases of the event (created or found), and a change for each one it created. */
export interface OpenResult {
  readonly cases: readonly Case[];
  readonly changes: readonly CaseChange[];
}

/** The pushed-case operations. */
export interface CaseService {
  /** Opens a case of `event` for each department (idempotent: an existing case is returned, unchanged, without a change record). */
  open(event: PushedEvent, departments: readonly string[], now: Date): Promise<OpenResult>;
  /** Claims a case for `department` (its recipient) by actor `by`. */
  claim(caseId: string, department: string, by: string, now: Date): Promise<CaseTransition>;
  /** Reports back on a claimed case. */
  report(caseId: string, department: string, by: string, report: ReportInput, now: Date): Promise<CaseTransition>;
  /** One case, or undefined. */
  get(caseId: string): Promise<Case | undefined>;
  /** The cases of a department (or of all, without one), optionally in one state, oldest first (then by department). */
  list(filter?: { department?: string; state?: CaseState }): Promise<Case[]>;
  /** The overdue steps of a department's cases (or of all, with ALL_DEPARTMENTS) at `now`: most overdue first, then earliest deadline, oldest case, department. */
  overdue(department: string, now: Date): Promise<OverdueCase[]>;
}

/** Options of the service. */
export interface CaseServiceOptions {
  readonly store: CaseStore;
  readonly calendar: WorkingCalendar;
  /** Deadlines by event type (parseCaseDeadlines). */
  readonly deadlines: CaseDeadlineConfig;
}

/** How often a transition reads the case again after losing a race (each loss means the case moved on; it has two steps). */
const MAX_ATTEMPTS = 5;

const byOpening = (a: Case, b: Case): number => a.openedAt.localeCompare(b.openedAt) || a.department.localeCompare(b.department) || a.caseId.localeCompare(b.caseId);

/** Creates the service over a store, a calendar and the deadlines. */
export function createCaseService(options: CaseServiceOptions): CaseService {
  const { store, calendar, deadlines } = options;

  async function transition(caseId: string, step: (c: Case) => CaseTransition): Promise<CaseTransition> {
    if (typeof caseId !== 'string' || caseId.length === 0 || caseId.length > 64) throw new BadUserInputError('caseId', 'must be a case id');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await store.get(caseId);
      if (!current) throw new CasesError(CasesErrorCode.CASE_NOT_FOUND, `No case has the id ${JSON.stringify(caseId)}.`, { caseId });
      const result = step(current);
      if (await store.replace(result.case)) return result;
    }
    throw new CasesError(CasesErrorCode.CASES_STORE_CONFLICT, `Case ${caseId} kept changing while a step was taken: retry.`, { caseId });
  }

  return {
    async open(event, departments, now) {
      checkNow(now);
      checkEvent(event);
      if (!Array.isArray(departments) || departments.length === 0 || departments.length > MAX_DEPARTMENTS_PER_EVENT) {
        throw new BadUserInputError('departments', `must list 1 to ${MAX_DEPARTMENTS_PER_EVENT} departments`);
      }
      departments.forEach((d, i) => checkActor(d, `departments[${i}]`));
      const limits = deadlines[event.eventType];
      if (!limits) throw new CasesConfigError([`event type ${event.eventType} has no deadlines configured`]);
      const openedAt = now.toISOString();
      const claimDeadline = calendar.addWorkingDays(now, limits.claimDays).toISOString();
      const feedbackDeadline = calendar.addWorkingDays(now, limits.feedbackDays).toISOString();
      // The feedback deadline is the later one: its count covers the claim's.
      const provisional = calendar.provisionalBetween(now, new Date(feedbackDeadline)) ? { deadlineProvisional: true as const } : {};
      const cases: Case[] = [];
      const changes: CaseChange[] = [];
      for (const department of new Set(departments)) {
        const c: Case = {
          caseId: caseIdOf(event.eventId, department),
          eventId: event.eventId,
          eventType: event.eventType,
          subject: { kind: event.subject.kind, id: event.subject.id },
          department,
          openedAt,
          claimDeadline,
          feedbackDeadline,
          ...provisional,
          state: 'PUSHED',
          version: 1,
        };
        const stored = await store.create(c);
        if (!stored.created && (stored.case.eventType !== c.eventType || stored.case.subject.kind !== c.subject.kind || stored.case.subject.id !== c.subject.id)) {
          throw new BadUserInputError('event', `was opened before for department ${department} with another type or subject (event ids must be unique)`);
        }
        cases.push(stored.case);
        if (stored.created) changes.push({ caseId: c.caseId, eventId: c.eventId, department, action: 'OPEN', by: 'hub', at: openedAt, from: null, to: 'PUSHED', late: false });
      }
      return { cases, changes };
    },

    async claim(caseId, department, by, now) {
      checkNow(now);
      checkActor(department, 'department');
      checkActor(by, 'by');
      return transition(caseId, (c) => claimCase(c, department, by, now));
    },

    async report(caseId, department, by, report, now) {
      checkNow(now);
      checkActor(department, 'department');
      checkActor(by, 'by');
      checkReport(report);
      return transition(caseId, (c) => reportCase(c, department, by, report, now));
    },

    async get(caseId) {
      if (typeof caseId !== 'string' || caseId.length === 0 || caseId.length > 64) return undefined;
      return store.get(caseId);
    },

    async list(filter = {}) {
      if (filter.department !== undefined) checkActor(filter.department, 'department');
      if (filter.state !== undefined && !CASE_STATES.includes(filter.state)) throw new BadUserInputError('state', `must be one of ${CASE_STATES.join(', ')}`);
      const cases = await store.list(filter.department, filter.state === 'PUSHED' || filter.state === 'CLAIMED');
      return cases.filter((c) => filter.state === undefined || c.state === filter.state).sort(byOpening);
    },

    async overdue(department, now) {
      checkNow(now);
      if (department !== ALL_DEPARTMENTS) checkActor(department, 'department');
      const open = await store.list(department === ALL_DEPARTMENTS ? undefined : department, true);
      const found: OverdueCase[] = [];
      const t = now.getTime();
      for (const c of open.sort(byOpening)) {
        if (c.state === 'PUSHED' && t > Date.parse(c.claimDeadline)) {
          found.push({ case: c, step: 'CLAIM', deadline: c.claimDeadline, overdueWorkingDays: calendar.workingDaysBetween(new Date(c.claimDeadline), now) });
        }
        if (c.state !== 'REPORTED' && t > Date.parse(c.feedbackDeadline)) {
          found.push({ case: c, step: 'FEEDBACK', deadline: c.feedbackDeadline, overdueWorkingDays: calendar.workingDaysBetween(new Date(c.feedbackDeadline), now) });
        }
      }
      return found.sort((a, b) => b.overdueWorkingDays - a.overdueWorkingDays || a.deadline.localeCompare(b.deadline) || byOpening(a.case, b.case));
    },
  };
}
