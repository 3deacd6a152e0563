/**
 * Department events: what a connector's change feed reports besides the records to evict. An
 * event names its type and its subject; it does not carry the record. The hub loads the record
 * through the connector's own loaders when it renders the event for a subscriber, so the record
 * a subscriber receives passes the same policy, masks, seals and access log as a query's.
 */

/** The kinds of entity an event can be about (the subject kinds of the access log). */
export type EventSubjectKind = 'PERSON' | 'ENTERPRISE' | 'PROPERTY';

/** An event type a connector declares: its name in the graph (`EventType`), what it is about, what it means. */
export interface EventTypeSpec {
  /** SCREAMING_SNAKE_CASE, unique across the hub: `ENTERPRISE_REGISTERED`. */
  readonly type: string;
  /** The kind of subject every event of this type names (the first of `subjects` when there are several). */
  readonly subject: EventSubjectKind;
  /**
   * Every kind of subject events of this type may name, when there are several: a taxpayer's
   * arrears are about a person or an enterprise. Each event names its own kind. @default [subject]
   */
  readonly subjects?: readonly EventSubjectKind[];
  /** One sentence for the catalogue and the schema's description (English, with the Chinese term). */
  readonly description: string;
}

/** A value of an event's own details (a previous status, a penalty's amount): flat, never a record. */
export type EventDetailValue = string | number | boolean | null;

/** One change at a department, as its connector reports it. */
export interface DepartmentEvent {
  /** The department's id of the event: unique for the connector, the same on every read of the feed. */
  readonly id: string;
  /** One of the connector's declared types. */
  readonly type: string;
  /** The entity the event is about: a person's id number, an enterprise's credit code, a property's unit number. */
  readonly subject: { readonly kind: EventSubjectKind; readonly id: string };
  /** When the department recorded the change (RFC 3339, with offset). */
  readonly occurredAt: string;
  /** Facts of the change itself that the record does not hold (the previous status, the document number). */
  readonly details?: Readonly<Record<string, EventDetailValue>>;
}

/** Event type names: SCREAMING_SNAKE_CASE, 3 to 64 characters. */
export const EVENT_TYPE_PATTERN = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;
