/**
 * A connector module: what one department's folder exports so that the hub can compose itself
 * from the connectors it finds. The module describes the connector (id, department name, its
 * settings as a zod schema, its SDL, its default cache lifetime) and builds it from validated
 * settings; nothing in the hub names a department.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Connector } from './connector';
import { ConnectorDefinitionError } from './errors';
import { EVENT_TYPE_PATTERN, type DepartmentEvent, type EventTypeSpec } from './events';
import { PROOF_KIND_PATTERN, type ProofKindSpec } from './proofs';

/** What the hub hands a module's factory besides the connector's own settings. */
export interface ConnectorEnvironment {
  /** The hub's default per-call timeout, for a connector whose settings set none (milliseconds). */
  readonly defaultTimeoutMs: number;
  /** This hub's id (its trust list's), once the keys are loaded: what a peer hub is told it asks from. */
  readonly hubId?: () => string;
  /** Trust between hubs (the configuration's `federation.peers`), for a connector that puts a peer hub behind this one. */
  readonly federation?: FederationTrust;
}

/** What the hub's federation trust list lets a peer hub connector check. */
export interface FederationTrust {
  /** Whether the trust list pins this peer hub's root key. */
  pinned(peerHub: string): boolean;
  /** Verifies a seal of one of the peer's departments against the peer's keys (its JWKS signed by the pinned root): what it seals and discloses, or the problem. */
  verifySeal(peerHub: string, token: string): Promise<PeerSealCheck>;
}

/** A peer's seal checked against the peer's keys: who sealed which record type and the disclosed values, or why it does not verify. */
export type PeerSealCheck =
  | {
      readonly valid: true;
      readonly issuer: string;
      readonly keyId: string;
      readonly algorithm: string;
      readonly issuedAt: Date;
      readonly recordType: string;
      /** Field name (as sealed) → the disclosed value. */
      readonly disclosed: Readonly<Record<string, unknown>>;
    }
  | { readonly valid: false; readonly problem: string };

/**
 * Settings of one connector, as the configuration file (`connectors.<id>.<key>`) and the
 * environment (`DATARUN_CONNECTORS__<ID>__<KEY>`) give them. The schema must be a zod object:
 * its keys are the settings, and the environment variables are generated from them.
 */
export type ConnectorSettingsSchema = z.ZodObject<z.ZodRawShape>;

/**
 * A change feed of a department: which records changed since a cursor (the hub evicts them from
 * its cache), and the events of those changes (the hub pushes them to subscribers).
 */
export interface ChangeFeed {
  /** The cursor that means "from now on" (changes made before the hub started are not replayed). */
  readonly startCursor: string;
  /** One page of changes after `cursor`: each names the loader and key of a changed record. */
  read(cursor: string, signal: AbortSignal): Promise<ChangeFeedRead>;
}

/** One page of a change feed. */
export interface ChangeFeedRead {
  readonly changed: readonly { readonly loader: string; readonly key: string }[];
  /** The page's events, oldest first, each of a type the module declares in `events`. @default none */
  readonly events?: readonly DepartmentEvent[];
  readonly nextCursor: string;
  readonly hasMore: boolean;
}

/** What a connector module exports (as `connectorModule`, or as its default export). */
export interface ConnectorModule<S extends ConnectorSettingsSchema = ConnectorSettingsSchema> {
  /** kebab-case id, also the department's id in the trust list, the configuration and the access log. */
  readonly id: string;
  /** The department's name, with the Chinese name where there is one: "Tax administration 税务". */
  readonly title: string;
  /** The connector's settings; unknown keys are refused (use `z.strictObject`). */
  readonly settings: S;
  /**
   * Settings variables of earlier releases, still read with a deprecation warning:
   * `{ DATARUN_TAX_URL: 'url' }`.
   */
  readonly legacyEnvironment?: Readonly<Record<string, string>>;
  /** The SDL this connector adds to the graph (types, `extend type Person { … }`, `seal: Seal` on sealed types). */
  typeDefs(settings: z.output<S>): string | Promise<string>;
  /** Builds the connector from its validated settings, after `typeDefs` (which may prepare what it builds on); pools open in `start()`, not here. */
  create(settings: z.output<S>, environment: ConnectorEnvironment): Connector;
  /** Default lifetime of its records in the hub's record cache, in seconds (0: not cached). @default 60 */
  readonly cacheTtlSeconds?: number;
  /** The event types its change feed reports (the hub's `EventType` enum is their union). @default none */
  readonly events?: readonly EventTypeSpec[];
  /** The proof kinds its connector establishes (`Connector.proofs`; the hub's `ProofKind` enum is their union). @default none */
  readonly proofs?: readonly ProofKindSpec[];
  /**
   * Its records come sealed by their own departments (a peer hub's): the hub holds no seal key
   * for it and signs nothing for it. @default false
   */
  readonly sealsNothing?: boolean;
}

/** The id rule of connectors (and departments in the trust list). */
export const CONNECTOR_ID_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Checks a module's shape and returns it; a mistake names the module and what is wrong. */
export function defineConnectorModule<S extends ConnectorSettingsSchema>(module: ConnectorModule<S>): ConnectorModule<S> {
  const where = `connector module ${JSON.stringify(module?.id)}`;
  if (!module || typeof module !== 'object') throw new ConnectorDefinitionError('A connector module must be an object');
  if (typeof module.id !== 'string' || !CONNECTOR_ID_PATTERN.test(module.id)) throw new ConnectorDefinitionError(`Connector module id must be kebab-case, but got: ${JSON.stringify(module.id)}`);
  if (typeof module.title !== 'string' || module.title.trim().length < 3) throw new ConnectorDefinitionError(`${where}: title must name the department`);
  const shape = (module.settings as { shape?: unknown } | undefined)?.shape;
  if (!shape || typeof shape !== 'object') throw new ConnectorDefinitionError(`${where}: settings must be a zod object schema`);
  if (typeof module.typeDefs !== 'function' || typeof module.create !== 'function') throw new ConnectorDefinitionError(`${where}: typeDefs and create must be functions`);
  if (module.cacheTtlSeconds !== undefined && !(Number.isInteger(module.cacheTtlSeconds) && module.cacheTtlSeconds >= 0)) {
    throw new ConnectorDefinitionError(`${where}: cacheTtlSeconds must be a whole number of seconds, 0 or more`);
  }
  if (module.events !== undefined) {
    if (!Array.isArray(module.events)) throw new ConnectorDefinitionError(`${where}: events must be a list of event types`);
    const seen = new Set<string>();
    for (const spec of module.events) {
      if (typeof spec?.type !== 'string' || !EVENT_TYPE_PATTERN.test(spec.type) || spec.type.length > 64) {
        throw new ConnectorDefinitionError(`${where}: event type ${JSON.stringify(spec?.type)} must be SCREAMING_SNAKE_CASE (two words or more, at most 64 characters)`);
      }
      if (seen.has(spec.type)) throw new ConnectorDefinitionError(`${where}: event type ${spec.type} is declared twice`);
      seen.add(spec.type);
      if (!['PERSON', 'ENTERPRISE', 'PROPERTY'].includes(spec.subject)) throw new ConnectorDefinitionError(`${where}: event type ${spec.type} names no subject kind (PERSON, ENTERPRISE or PROPERTY)`);
      if (spec.subjects !== undefined) {
        const kinds: readonly unknown[] = Array.isArray(spec.subjects) ? spec.subjects : [];
        if (kinds[0] !== spec.subject || kinds.some((k) => !['PERSON', 'ENTERPRISE', 'PROPERTY'].includes(k as string)) || new Set(kinds).size !== kinds.length) {
          throw new ConnectorDefinitionError(`${where}: event type ${spec.type}: subjects must list distinct subject kinds, starting with its subject ${spec.subject}`);
        }
      }
      if (typeof spec.description !== 'string' || spec.description.trim().length < 3) throw new ConnectorDefinitionError(`${where}: event type ${spec.type} needs a description`);
    }
  }
  if (module.proofs !== undefined) checkProofKinds(where, module.proofs, new Set((module.events ?? []).map((e) => e.type)));
  return Object.freeze(module);
}

const SUBJECT_KINDS: readonly string[] = ['PERSON', 'ENTERPRISE', 'PROPERTY'];

/** A module's proof kinds: well named, once each, a subject, a validity, revoked only by the module's own event types. */
function checkProofKinds(where: string, proofs: readonly ProofKindSpec[], eventTypes: ReadonlySet<string>): void {
  if (!Array.isArray(proofs)) throw new ConnectorDefinitionError(`${where}: proofs must be a list of proof kinds`);
  const seen = new Set<string>();
  for (const spec of proofs) {
    if (typeof spec?.kind !== 'string' || !PROOF_KIND_PATTERN.test(spec.kind) || spec.kind.length > 64) {
      throw new ConnectorDefinitionError(`${where}: proof kind ${JSON.stringify(spec?.kind)} must be SCREAMING_SNAKE_CASE (two words or more, at most 64 characters)`);
    }
    if (seen.has(spec.kind)) throw new ConnectorDefinitionError(`${where}: proof kind ${spec.kind} is declared twice`);
    seen.add(spec.kind);
    if (!SUBJECT_KINDS.includes(spec.subject)) throw new ConnectorDefinitionError(`${where}: proof kind ${spec.kind} names no subject kind (PERSON, ENTERPRISE or PROPERTY)`);
    if (spec.subjects !== undefined) {
      const kinds: readonly unknown[] = Array.isArray(spec.subjects) ? spec.subjects : [];
      if (kinds[0] !== spec.subject || kinds.some((k) => !SUBJECT_KINDS.includes(k as string)) || new Set(kinds).size !== kinds.length) {
        throw new ConnectorDefinitionError(`${where}: proof kind ${spec.kind}: subjects must list distinct subject kinds, starting with its subject ${spec.subject}`);
      }
    }
    if (typeof spec.title !== 'string' || spec.title.trim().length < 2) throw new ConnectorDefinitionError(`${where}: proof kind ${spec.kind} needs a title`);
    if (typeof spec.description !== 'string' || spec.description.trim().length < 3) throw new ConnectorDefinitionError(`${where}: proof kind ${spec.kind} needs a description`);
    if (!Number.isInteger(spec.validityDays) || spec.validityDays < 1 || spec.validityDays > 366) throw new ConnectorDefinitionError(`${where}: proof kind ${spec.kind}: validityDays must be a whole number of days from 1 to 366`);
    if (spec.claimLabels !== undefined) {
      const labels: unknown = spec.claimLabels;
      if (labels === null || typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels).some((l) => typeof l !== 'string' || l.trim() === '' || l.length > 80)) {
        throw new ConnectorDefinitionError(`${where}: proof kind ${spec.kind}: claimLabels must map claim names to labels (non-empty text of at most 80 characters)`);
      }
    }
    for (const type of spec.revokedBy ?? []) {
      if (!eventTypes.has(type)) throw new ConnectorDefinitionError(`${where}: proof kind ${spec.kind} is revoked by ${JSON.stringify(type)}, which is not one of the module's event types`);
    }
  }
}

/** The SDL of a file next to the module (`sdlFile(__dirname + '/schema.graphql')`), read once. */
export function sdlFile(file: string): () => string {
  let text: string | undefined;
  return () => (text ??= readFileSync(file, 'utf8'));
}

/**
 * Building blocks of connector settings, so that every connector words the same setting the same
 * way (and the same bounds apply): `z.strictObject({ url: settingSchemas.httpUrl(), timeoutMs: settingSchemas.timeoutMs().optional() })`.
 */
export const settingSchemas = Object.freeze({
  /** An absolute http(s) URL. */
  httpUrl: () => z.url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL' }),
  /** A `postgres://` connection string. */
  postgresUrl: () => z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'expected a postgres:// URL'),
  /** A per-call timeout in milliseconds (50 ms to 60 s). */
  timeoutMs: () => z.number().int().min(50).max(60_000),
  /** Keep-alive connections to the department (1 to 256). */
  connections: () => z.number().int().min(1).max(256),
  /** A secret the department issued (an API key, a password): never logged. */
  secret: () => z.string().min(1),
});
