/**
 * Department events in the graph (审管联动): the `EventType` enum is the union of the types the
 * connector modules declare, `DepartmentEvent` is one event as a subscriber sees it, and
 * `Subscription.departmentEvents` is the one root field a subscription selects from.
 *
 * An event carries no record: its `enterprise`, `property` or `person` field is a link to the
 * entity it names, resolved by the connectors' loaders when the event is rendered for a
 * subscriber, so what a delivery carries passes the same grants, masks, seals and access record
 * as a query asking for the same fields. The SDL is schema/events.graphql; each connector's SDL
 * adds its types to `EventType`, and the hub checks they are the ones its module declares.
 */
import type { IResolvers } from '@graphql-tools/utils';
import { Kind, valueFromAST, type FieldNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { ConfigError } from './config';
import { HubError, HubErrorCode, type ConnectorModule, type DepartmentEvent, type EventSubjectKind, type EventTypeSpec } from '../sdk';

/** Pseudo-department of the event fields: the hub's own envelope around a department's change. */
export const EVENTS_DEPARTMENT = 'events';

/** Details one event carries at most (`DepartmentEvent.details` is a list of at most this many). */
export const MAX_EVENT_DETAILS = 32;

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

/**
 * Checks that the graph's `EventType` enum (schema/events.graphql, extended by each connector's
 * SDL) holds exactly the types the modules declare, naming every difference.
 */
export function eventTypeProblems(enumValues: readonly string[], types: ReadonlyMap<string, EventTypeSpec & { department: string }>): string[] {
  const inSchema = new Set(enumValues);
  const problems: string[] = [];
  for (const [type, spec] of types) if (!inSchema.has(type)) problems.push(`connector "${spec.department}" declares event type ${type}, but its SDL does not add it to EventType (extend enum EventType { ${type} })`);
  for (const value of inSchema) if (!types.has(value)) problems.push(`EventType.${value} is in the SDL, but no connector module declares it in its events`);
  return problems;
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

/** The event types a subscription operation asks for: the `types` argument of its one root field, variables applied. */
export function subscribedTypes(schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Record<string, unknown>): ReadonlySet<string> {
  const field = operation.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value !== '__typename');
  const argument = field ? schema.getSubscriptionType()?.getFields()[field.name.value]?.args.find((a) => a.name === 'types') : undefined;
  const node = field?.arguments?.find((a) => a.name.value === 'types');
  if (!argument || !node) throw new HubError(HubErrorCode.BAD_USER_INPUT, 'A subscription selects departmentEvents(types: [...]).');
  return requestedTypes(valueFromAST(node.value, argument.type, variables));
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
            : !(spec.subjects ?? [spec.subject]).includes(event.subject?.kind as EventSubjectKind) || typeof event.subject?.id !== 'string' || event.subject.id.length === 0 || event.subject.id.length > 64
              ? `a ${spec.type} event whose subject is not a ${(spec.subjects ?? [spec.subject]).join(' or ')} identifier`
              : typeof event.occurredAt !== 'string' || Number.isNaN(Date.parse(event.occurredAt))
                ? `a ${spec.type} event without an RFC 3339 occurredAt`
                : event.details !== undefined && (event.details === null || typeof event.details !== 'object' || Object.keys(event.details).length > MAX_EVENT_DETAILS || Object.values(event.details).some((v) => v !== null && typeof v === 'object'))
                  ? `a ${spec.type} event whose details are not at most ${MAX_EVENT_DETAILS} flat values`
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
