/**
 * Pushed cases in the hub (审管联动, docs/cases.md): the case service over the hub's state (Redis
 * documents with several instances, a durable file beside the access log otherwise), the
 * resolvers of `schema/cases.graphql`, and `open`, which the event delivery calls to open a case
 * per receiving department. The department acting is always the authenticated consumer, the
 * actor its signed request's operator; every accepted step's change goes into the request's
 * access record (`RequestContext.caseChanges`, recorded by the record stage).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  ACTOR_ID_PATTERN,
  ALL_DEPARTMENTS,
  CASE_OUTCOMES,
  CASE_STATES,
  createCaseService,
  createDocumentCaseStore,
  defaultWorkingCalendar,
  loadWorkingCalendar,
  openFileCaseStore,
  parseCaseDeadlines,
  type Case,
  type CaseChange,
  type CaseDeadlineConfig,
  type CaseService,
  type CaseStore,
  type OpenResult,
  type OverdueCase,
  type WorkingCalendar,
} from '../cases';
import { hashedValue, type AuditChange } from '../audit';
import { BadUserInputError, HubError, HubErrorCode, type EventSubjectKind, type Resolvers } from '../sdk';
import type { SharedDocuments } from '../state';
import { ConfigError } from './config';
import type { RequestContext } from './request-context';

/**
 * The deadlines of the hub when the configuration sets none for an event type, in working days
 * from the push: 3 to claim and 10 to report back on a licence or permit issued and a penalty
 * imposed; 2 and 5 on an enterprise registered (its 双告知 is the most urgent: the enterprise may
 * start its activity at once).
 */
export const DEFAULT_CASE_DEADLINES: CaseDeadlineConfig = Object.freeze({
  LICENCE_ISSUED: Object.freeze({ claimDays: 3, feedbackDays: 10 }),
  PERMIT_ISSUED: Object.freeze({ claimDays: 3, feedbackDays: 10 }),
  ENTERPRISE_REGISTERED: Object.freeze({ claimDays: 2, feedbackDays: 5 }),
  PENALTY_IMPOSED: Object.freeze({ claimDays: 3, feedbackDays: 10 }),
});

/** The most cases one `cases` or `overdueCases` answer lists (its `@listSize`). */
export const MAX_CASES_LISTED = 1000;

/** The file of the embedded case store when none is configured: `cases/cases.jsonl` beside the access log's directory. */
export function defaultCasesFile(auditDir: string): string {
  return path.join(path.dirname(path.resolve(auditDir)), 'cases', 'cases.jsonl');
}

/** An event as the hub delivers it to departments. */
export interface DeliveredEvent {
  readonly id: string;
  readonly type: string;
  readonly subject: { readonly kind: EventSubjectKind; readonly id: string };
  readonly occurredAt: string;
}

/** The cases of a hub, as the gateway exposes them. */
export interface HubCases {
  /**
   * Opens a case per department for a delivered event, counting its deadlines from now (the
   * push). An event type without deadlines opens nothing (`{ cases: [], changes: [] }`); opening
   * the same event for the same department again changes nothing. The changes (one OPEN per case
   * created) are for the delivery's record.
   */
  open(event: DeliveredEvent, departments: readonly string[]): Promise<OpenResult>;
  /** The library's service (tests, the CLI). */
  readonly service: CaseService;
  readonly calendar: WorkingCalendar;
  readonly deadlines: CaseDeadlineConfig;
  close(): Promise<void>;
}

/** What the hub's cases are made from. */
export interface HubCasesOptions {
  /** Deadlines by event type, over DEFAULT_CASE_DEADLINES (an entry replaces the default of its type). */
  readonly deadlines?: Readonly<Record<string, unknown>>;
  /** A calendar file (the format of src/cases/calendar-cn.json); the shipped one when absent. */
  readonly calendarFile?: string;
  /** Documents of the shared state (several instances), or the embedded store's file. */
  readonly store: { readonly documents: SharedDocuments } | { readonly file: string };
  /** The hub's clock. */
  now(): Date;
  /** Told once per year when a deadline is counted through a year the calendar does not hold (weekends only). */
  onProvisionalYear?(year: number): void;
}

/** Opens the hub's case store and service; throws a coded error naming a bad deadline, calendar or store. */
export async function createHubCases(options: HubCasesOptions): Promise<HubCases> {
  const deadlines = parseCaseDeadlines({ ...DEFAULT_CASE_DEADLINES, ...(options.deadlines ?? {}) });
  const calendarOptions = { unconfiguredYears: 'weekends' as const, ...(options.onProvisionalYear ? { onUnconfiguredYear: options.onProvisionalYear } : {}) };
  const calendar = options.calendarFile ? loadWorkingCalendar(options.calendarFile, calendarOptions) : defaultWorkingCalendar(calendarOptions);
  let store: CaseStore;
  if ('documents' in options.store) store = createDocumentCaseStore(options.store.documents);
  else {
    const { file } = options.store;
    try {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new ConfigError(`cases.file: the directory of ${file} cannot be made (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    store = await openFileCaseStore(file);
  }
  const service = createCaseService({ store, calendar, deadlines });
  return {
    service,
    calendar,
    deadlines,
    async open(event, departments) {
      if (typeof event !== 'object' || event === null) throw new BadUserInputError('event', 'must be an event { id, type, subject, occurredAt }');
      if (deadlines[event.type] === undefined) return { cases: [], changes: [] };
      return service.open({ eventId: event.id, eventType: event.type, subject: event.subject }, departments, options.now());
    },
    close: () => store.close(),
  };
}

/** The flat form of a case change in an access record: the note's SHA-256 (`noteHash`), never its text (the log holds no values). */
export function auditChangeOf(change: CaseChange): AuditChange {
  const { note, outcome, ...rest } = change;
  return { entity: 'case', ...rest, ...(outcome !== undefined ? { outcome } : {}), ...(note !== undefined ? { noteHash: hashedValue(note) } : {}) };
}

function callerOf(ctx: RequestContext): { consumer: string; operator: string } {
  const caller = ctx.caller;
  if (!caller) throw new HubError(HubErrorCode.FORBIDDEN, 'Pushed cases are for signed requests: the department acting is the consumer that signed it.');
  return { consumer: caller.consumer, operator: caller.operator };
}

/** The actor of a step: the request's operator (经办人), which must be a staff identifier (the case keeps no free text but the note). */
function actorOf(operator: string): string {
  if (!ACTOR_ID_PATTERN.test(operator)) throw new BadUserInputError('operator', 'the request\'s operator (经办人) must be a staff identifier (1 to 128 letters, digits or . _ : @ -) to act on a pushed case');
  return operator;
}

/** The case as the graph shows it (schema/cases.graphql); its subject is recorded among the reply's subjects. */
function caseOut(c: Case, ctx: RequestContext): Record<string, unknown> {
  ctx.replySubjects.set(`${c.subject.kind}:${c.subject.id}`, { kind: c.subject.kind, id: c.subject.id });
  return {
    id: c.caseId,
    eventId: c.eventId,
    eventType: c.eventType,
    subject: { kind: c.subject.kind, id: c.subject.id },
    department: c.department,
    state: c.state,
    openedAt: c.openedAt,
    claimDeadline: c.claimDeadline,
    feedbackDeadline: c.feedbackDeadline,
    deadlineProvisional: c.deadlineProvisional === true,
    claimedAt: c.claimed?.at ?? null,
    claimedBy: c.claimed?.by ?? null,
    claimedLate: c.claimed?.late ?? null,
    reportedAt: c.reported?.at ?? null,
    reportedBy: c.reported?.by ?? null,
    reportedLate: c.reported?.late ?? null,
    outcome: c.reported?.outcome ?? null,
    note: c.reported?.note ?? null,
  };
}

const overdueOut = (o: OverdueCase, ctx: RequestContext): Record<string, unknown> => ({ case: caseOut(o.case, ctx), step: o.step, deadline: o.deadline, overdueWorkingDays: o.overdueWorkingDays });

/** Records an accepted step's change for the request's access record. */
function remember(ctx: RequestContext, change: CaseChange): void {
  (ctx.caseChanges ??= []).push(change);
}

/**
 * The resolvers of schema/cases.graphql over the hub's cases (`cases()` is read when a request
 * runs, so the schema can be built before the store opens). Who may call each field is the
 * sharing policy's grant of its coordinate; the department is the caller's consumer id.
 */
/**
 * The resolvers of pushed cases. `isConsumer` says whether an id is a consumer of this hub (cases
 * are kept under the receiving consumer's id): `overdueCases(department:)` that finds nothing for
 * an id that is no consumer is refused, since an empty list for a mistyped id would read as
 * "nothing overdue" (a consumer since removed still has its cases listed).
 */
export function createCaseResolvers(cases: () => HubCases, now: () => Date, logWritable: () => boolean = () => true, isConsumer: (id: string) => boolean = () => true): Resolvers {
  // A step is recorded after it is taken: with the access log known to be unwritable it is not
  // taken at all (the reply would be withheld, and the change left without its record).
  const checkLog = (): void => {
    if (!logWritable()) throw new HubError(HubErrorCode.AUDIT_UNAVAILABLE, 'The access log cannot be written: no pushed case changes without its record.');
  };
  return {
    Query: {
      async cases(_parent: unknown, args: { state?: string | null }, ctx: RequestContext) {
        const { consumer } = callerOf(ctx);
        if (args.state != null && !CASE_STATES.includes(args.state as never)) throw new BadUserInputError('state', `must be one of ${CASE_STATES.join(', ')}`);
        const list = await cases().service.list({ department: consumer, ...(args.state != null ? { state: args.state as Case['state'] } : {}) });
        return list.slice(0, MAX_CASES_LISTED).map((c) => caseOut(c, ctx));
      },
      async overdueCases(_parent: unknown, args: { department?: string | null }, ctx: RequestContext) {
        callerOf(ctx);
        const department = args.department ?? undefined;
        const list = await cases().service.overdue(department ?? ALL_DEPARTMENTS, now());
        // Nothing listed for an id that is no consumer (a consumer since removed keeps its cases listed).
        if (list.length === 0 && department !== undefined && !isConsumer(department)) {
          throw new BadUserInputError('department', `names no consumer of this hub (${JSON.stringify(department)}): cases are kept under the id of the consumer they were pushed to, such as tax-bureau`);
        }
        return list.slice(0, MAX_CASES_LISTED).map((o) => overdueOut(o, ctx));
      },
    },
    Mutation: {
      async claimCase(_parent: unknown, args: { caseId: string }, ctx: RequestContext) {
        const { consumer, operator } = callerOf(ctx);
        checkLog();
        const done = await cases().service.claim(args.caseId, consumer, actorOf(operator), now());
        remember(ctx, done.change);
        return caseOut(done.case, ctx);
      },
      async reportCase(_parent: unknown, args: { caseId: string; outcome: string; note?: string | null }, ctx: RequestContext) {
        const { consumer, operator } = callerOf(ctx);
        if (!CASE_OUTCOMES.includes(args.outcome as never)) throw new BadUserInputError('outcome', `must be one of ${CASE_OUTCOMES.join(', ')}`);
        checkLog();
        const report = { outcome: args.outcome as (typeof CASE_OUTCOMES)[number], ...(args.note != null ? { note: args.note } : {}) };
        const done = await cases().service.report(args.caseId, consumer, actorOf(operator), report, now());
        remember(ctx, done.change);
        return caseOut(done.case, ctx);
      },
    },
  } as unknown as Resolvers;
}
