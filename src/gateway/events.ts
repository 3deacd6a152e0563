/**
 * Department events in the graph (审管联动): the `EventType` enum is the union of the types the
 * connector modules declare, `DepartmentEvent` is one event as a subscriber sees it, and
 * `Subscription.departmentEvents` is the one root field a subscription selects from.
 *
 * An event carries no record: its `enterprise`, `property` or `person` field is a link to the
 * entity it names, resolved by the connectors' loaders when the event is rendered for a
 * subscriber, so what a delivery carries passes the same grants, masks, seals and access record
 * as a query asking for the same fields. The SDL is generated here (only when some module
 * declares events), with every field classified like the rest of the graph.
 */
import type { IResolvers } from '@graphql-tools/utils';
import { ConfigError } from './config';
import { HubError, HubErrorCode, type ConnectorModule, type DepartmentEvent, type EventSubjectKind, type EventTypeSpec } from '../sdk';

/** Pseudo-department of the event fields: the hub's own envelope around a department's change. */
export const EVENTS_DEPARTMENT = 'events';

/** Types one subscription may ask for at most (the enum is small; a longer list is a mistake). */
export const MAX_EVENT_TYPES_PER_SUBSCRIPTION = 64;

/** One event as the hub handles it: the department's event and the department (connector) it came from. */
export interface HubEvent extends DepartmentEvent {
  /** The connector id of the department that reported it. */
  readonly department: string;
}

/** The key that names an event across the hub: department and the department's id (event ids are unique per connector only). */
export function eventKeyOf(event: Pick<HubEvent, 'department' | 'id'>): string {
  return `${event.department}:${event.id}`;
}

/** The event types the modules declare, with the department of each; two modules declaring one type is an error naming both. */
export function declaredEventTypes(modules: readonly Pick<ConnectorModule, 'id' | 'events'>[]): ReadonlyMap<string, EventTypeSpec & { department: string }> {
  const types = new Map<string, EventTypeSpec & { department: string }>();
  for (const module of modules) {
    for (const spec of module.events ?? []) {
      const other = types.get(spec.type);
      if (other) throw new ConfigError(`Event type ${spec.type} is declared by both "${other.department}" and "${module.id}": event types are unique across the hub.`);
      types.set(spec.type, { ...spec, department: module.id });
    }
  }
  return types;
}

const share = (extra = ''): string => `@share(class: UNCONDITIONAL${extra}, department: "${EVENTS_DEPARTMENT}", updateCycle: REAL_TIME)`;
const quote = (text: string): string => JSON.stringify(text.replace(/\s+/g, ' ').trim());

/** The SDL of events for the declared types; undefined when no module declares any (the graph then has no Subscription). */
export function eventTypeDefs(types: ReadonlyMap<string, EventTypeSpec & { department: string }>): string | undefined {
  if (types.size === 0) return undefined;
  const values = [...types.values()]
    .sort((a, b) => a.type.localeCompare(b.type))
    .map((t) => `  ${quote(`${t.description} (${t.department}; subject: ${t.subject})`)}\n  ${t.type}`)
    .join('\n');
  return `"""
What happened at a department, as the connectors declare it. A subscription names the types it
wants; every type names the kind of subject its events are about.
"""
enum EventType {
${values}
}

"The kind of entity an event is about."
enum EventSubjectKind {
  PERSON
  ENTERPRISE
  PROPERTY
}

"""
One change at a department, pushed to subscribers (审管联动). The event names its subject; the
record comes through the link for that subject's kind (enterprise, property or person), read
from the department when the event is delivered and shown as the subscriber's grants allow,
under the department's seal.
"""
type DepartmentEvent {
  "The event's id: the department's, prefixed with the department (unique across the hub, the same on every delivery)."
  id: ID! ${share()}
  type: EventType! ${share()}
  "The department (connector id) that reported the change."
  department: String! ${share()}
  "When the department recorded the change (RFC 3339)."
  occurredAt: String! ${share()}
  subjectKind: EventSubjectKind! ${share()}
  "The enterprise the event is about (subject kind ENTERPRISE)."
  enterprise: Enterprise ${share()}
  "The real-estate unit the event is about (subject kind PROPERTY)."
  property: Property ${share()}
  "The person the event is about (subject kind PERSON); a linked person, so under a purpose that needs consent, only with theirs."
  person: Person ${share()}
  "Facts of the change the record does not hold (a previous status, a document number), by name."
  details: [EventDetail!]! ${share()}
}

"One fact of a change: its name and its value as text."
type EventDetail {
  name: String! ${share()}
  value: String ${share()}
}

type Subscription {
  """
  The events of the given types, as they happen, from the moment the subscription is opened.
  Opened by a signed request stating a purpose; each delivery is checked against the grants
  again and recorded in the access log; the stream ends when its lifetime bound passes or the
  grant it relied on ends.
  """
  departmentEvents(types: [EventType!]!): DepartmentEvent! ${share()}
}
`;
}

/** The entity reference of an event's subject, for the link of that kind; null for the other links. */
function subjectOf(event: HubEvent, kind: EventSubjectKind): Record<string, string> | null {
  if (event.subject.kind !== kind) return null;
  if (kind === 'ENTERPRISE') return { creditCode: event.subject.id };
  if (kind === 'PROPERTY') return { unitNumber: event.subject.id };
  return { idNumber: event.subject.id };
}

/** Resolvers of the event types. The subscription field itself reads the event the delivery runs on (its root value). */
export function createEventResolvers(): IResolvers {
  return {
    DepartmentEvent: {
      id: (e: HubEvent) => eventKeyOf(e),
      subjectKind: (e: HubEvent) => e.subject.kind,
      enterprise: (e: HubEvent) => subjectOf(e, 'ENTERPRISE'),
      property: (e: HubEvent) => subjectOf(e, 'PROPERTY'),
      person: (e: HubEvent) => subjectOf(e, 'PERSON'),
      details: (e: HubEvent) =>
        Object.entries(e.details ?? {})
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, value]) => ({ name, value: value === null ? null : String(value) })),
    },
  };
}

/** The root value a delivery executes the subscription's selection on. */
export function deliveryRoot(event: HubEvent): { departmentEvents: HubEvent } {
  return { departmentEvents: event };
}

/** The types a subscription asks for (its `types` argument, variables applied); a clear error when absent or too many. */
export function requestedTypes(value: unknown): ReadonlySet<string> {
  if (!Array.isArray(value) || value.length === 0) throw new HubError(HubErrorCode.BAD_USER_INPUT, 'departmentEvents needs at least one event type in "types".');
  if (value.length > MAX_EVENT_TYPES_PER_SUBSCRIPTION) throw new HubError(HubErrorCode.BAD_USER_INPUT, `departmentEvents takes at most ${MAX_EVENT_TYPES_PER_SUBSCRIPTION} event types.`);
  return new Set(value.map(String));
}

/** An event a connector reported that the hub does not publish, and why (never its subject). */
export type EventProblemReporter = (problem: string) => void;

/**
 * The events of a feed page the hub publishes: each of a type its department declares, naming a
 * subject of that type's kind, with an id and a time. A connector's mistake drops that event
 * with a reported problem; it never reaches a subscriber half-formed.
 */
export function acceptedEvents(department: string, declared: ReadonlyMap<string, EventTypeSpec>, raw: readonly unknown[], report: EventProblemReporter): HubEvent[] {
  const accepted: HubEvent[] = [];
  for (const item of raw) {
    const event = item as Partial<DepartmentEvent> | null;
    const spec = typeof event?.type === 'string' ? declared.get(event.type) : undefined;
    const problem =
      event === null || typeof event !== 'object'
        ? 'an event that is not an object'
        : typeof event.id !== 'string' || event.id.length === 0 || event.id.length > 200
          ? 'an event without an id (1 to 200 characters)'
          : !spec
            ? `an event of type ${JSON.stringify(String(event.type).slice(0, 64))} that the module does not declare`
            : event.subject?.kind !== spec.subject || typeof event.subject.id !== 'string' || event.subject.id.length === 0 || event.subject.id.length > 64
              ? `a ${spec.type} event whose subject is not a ${spec.subject} identifier`
              : typeof event.occurredAt !== 'string' || Number.isNaN(Date.parse(event.occurredAt))
                ? `a ${spec.type} event without an RFC 3339 occurredAt`
                : event.details !== undefined && (event.details === null || typeof event.details !== 'object' || Object.values(event.details).some((v) => v !== null && typeof v === 'object'))
                  ? `a ${spec.type} event whose details are not flat values`
                  : undefined;
    if (problem !== undefined) {
      report(`${department} reported ${problem}: dropped`);
      continue;
    }
    const ok = event as DepartmentEvent;
    accepted.push({ department, id: ok.id, type: ok.type, subject: { kind: ok.subject.kind, id: ok.subject.id }, occurredAt: ok.occurredAt, ...(ok.details ? { details: { ...ok.details } } : {}) });
  }
  return accepted;
}
