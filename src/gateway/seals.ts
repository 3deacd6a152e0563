import type { GraphQLField, GraphQLNamedType, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema } from 'graphql';
import type { RecordCache } from '../state';
import { getNamedType, isAbstractType, isObjectType, Kind } from 'graphql';
import { SHARE_DIRECTIVE } from '../policy';
import {
  canonicalize,
  createSealer,
  presentSealForReply,
  sha256Base64url,
  verifySeal,
  type KeyStore,
  type SealedRecord,
} from '../seal';
import { ConnectorDefinitionError, type Connector, type HubContext, type Resolvers, type SealSpec } from '../sdk';

/**
 * Seals in the gateway: each department record is sealed once with its department's key when
 * it enters the hub (and again only when its content changes), the `seal` field of every sealed
 * type resolves to that seal, and after execution each seal's token is cut down to disclose
 * exactly the record fields the reply shows (after masking), so a seal never reveals more than
 * the reply it travels in. A seal is shared by every consumer, so it never carries a value some
 * reply could not show: its `sub` is a pseudonymous reference keyed by a hub secret (the
 * record's id may be NOT_SHARED or masked), and it seals only shared fields of its type.
 */

/** Seal field names that are JWT claims of the seal itself; such record fields are sealed under another name. */
const RESERVED_AS = { status: 'recordStatus' } as const satisfies Record<string, string>;
const ENTITY_KEYS = ['idNumber', 'creditCode', 'unitNumber'] as const;

/** Seals made during one request, waiting for their tokens to be cut to the reply. */
export interface SealRegistry {
  /** Response path of each `seal` field (alias-aware) and the sealed record behind it. */
  readonly pending: { path: readonly (string | number)[]; sealed: SealedRecord }[];
}

/** A context that carries the request's seal registry. */
export interface SealingContext extends HubContext {
  readonly seals?: SealRegistry;
}

/** Defaults of the seal service. */
export const DEFAULT_SEALING = {
  /** Records whose seal is kept in memory (least recently used are dropped). */
  cacheEntries: 20_000,
} as const;

/** Where seals are shared between instances: the record cache's store, keyed by record content. */
export interface SharedSealStore {
  readonly cache: RecordCache;
  /** The cache's key version (a new schema or record format never reads old seals). */
  readonly version: string;
  /** How long a seal stays there, in seconds. */
  readonly ttlSeconds: number;
}

/** The GraphQL type whose `seal` field asks for a seal, and its schema. */
export interface SealedAs {
  readonly type: GraphQLObjectType;
  readonly schema: GraphQLSchema;
}

/** Seals records through a bounded cache: a record is signed again only when its content changed. */
export interface SealService {
  /**
   * The record's seal: from this instance's cache, else from the shared store (made by any
   * instance), else signed now. Given the sealed GraphQL type, first checks that every sealed
   * field is a shared field of that type (`assertSealableFields`).
   */
  seal(department: string, spec: SealSpec, record: unknown, sealedAs?: SealedAs): Promise<SealedRecord>;
  readonly keyStore: KeyStore;
  /** Seals signed here, served from this instance's cache, and taken from the shared store, for metrics and tests. */
  readonly stats: { sealed: number; cached: number; shared: number };
}

/** Options of the seal service. */
export interface SealServiceOptions {
  /** Records whose seal is kept in memory. @default DEFAULT_SEALING.cacheEntries */
  cacheEntries?: number;
  /** Shares seals with the other instances, so a record is signed once for all of them. @default not shared */
  shared?: SharedSealStore;
  /**
   * The hub secret keying each seal's pseudonymous `sub` (`sealSubjectSecret`): the same for
   * every instance sharing seals, so they give a record the same `sub`. @default random per
   * service (subjects then differ between restarts and instances)
   */
  subjectSecret?: string;
}

/** Creates the seal service over the hub's key store. */
export function createSealService(keyStore: KeyStore, options: SealServiceOptions = {}): SealService {
  const sealer = createSealer({ keyStore, ...(options.subjectSecret !== undefined ? { subjectSecret: options.subjectSecret } : {}) });
  const max = options.cacheEntries ?? DEFAULT_SEALING.cacheEntries;
  // Keyed by the record's id (the pseudonymous subject, an HMAC, is computed only for a record not in memory).
  const cache = new Map<string, { content: string; sealed: SealedRecord }>();
  const stats = { sealed: 0, cached: 0, shared: 0 };
  const { shared } = options;

  function remember(key: string, content: string, sealed: SealedRecord): void {
    cache.delete(key);
    cache.set(key, { content, sealed });
    if (cache.size > max) cache.delete(cache.keys().next().value!);
  }

  /** A seal read from the shared store, if it is one for this record made with the department's current key. */
  function usable(text: string | undefined, department: string, recordType: string, subject: string): SealedRecord | undefined {
    if (text === undefined) return undefined;
    try {
      const sealed = JSON.parse(text) as SealedRecord;
      const current = keyStore.currentKeyId(department, 'seal');
      // A seal stored before subjects were pseudonymous has no `subject`: it is never served again.
      const ok = sealed.department === department && sealed.recordType === recordType && sealed.subject === subject && sealed.keyId === current && typeof sealed.jwt === 'string';
      return ok ? sealed : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    keyStore,
    stats,
    async seal(department, spec, record, sealedAs) {
      const recordId = spec.id(record);
      const raw = spec.fields(record);
      if (sealedAs) assertSealableFields(sealedAs.type, raw, sealedAs.schema);
      const fields = sealFieldsOf(raw);
      const content = canonicalize(fields);
      const key = `${department}\u0000${spec.recordType}\u0000${typeof recordId === 'string' ? recordId : ''}`;
      const hit = typeof recordId === 'string' && recordId !== '' ? cache.get(key) : undefined;
      if (hit && hit.content === content) {
        // Refresh its place in the LRU order.
        cache.delete(key);
        cache.set(key, hit);
        stats.cached++;
        return hit.sealed;
      }
      // Shared with the other instances: keyed by the subject and the content itself, so a changed record never finds the seal of its old content.
      const store = shared ? { ...shared, subject: sealer.subjectOf(spec.recordType, recordId) } : undefined;
      const sharedKey = store ? `${store.version}:seal:${department}:${spec.recordType}:${sha256Base64url(`${store.subject}\u0000${content}`)}` : undefined;
      if (store && sharedKey) {
        const [text] = await store.cache.getMany([sharedKey]);
        const found = usable(text, department, spec.recordType, store.subject);
        if (found) {
          stats.shared++;
          remember(key, content, found);
          return found;
        }
      }
      let sealed = sealer.sealRecord({ department, recordType: spec.recordType, recordId, fields });
      stats.sealed++;
      if (store && sharedKey && store.ttlSeconds > 0) {
        // The first instance to store a seal wins, so every instance serves the same one.
        const ours = JSON.stringify(sealed);
        const held = await store.cache.setIfAbsent({ key: sharedKey, value: ours, ttlMs: store.ttlSeconds * 1000 });
        if (held !== ours) sealed = usable(held, department, spec.recordType, store.subject) ?? sealed;
      }
      remember(key, content, sealed);
      return sealed;
    },
  };
}

function sealFieldsOf(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[(RESERVED_AS as Record<string, string>)[name] ?? name] = value;
  }
  return out;
}

/**
 * The reply object in the shape the record was sealed in: entity objects reduced to the
 * identifier the reply shows (an entity whose identifier the reply does not show stays as it is,
 * so it cannot match and is not disclosed), `__typename` dropped, reserved names renamed. A peer
 * hub's reply is checked in this shape against the values its seals disclose (federation/verify-reply.ts).
 */
export function sealShapeOf(value: unknown, top: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => sealShapeOf(v, false));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if (!top) {
    for (const key of ENTITY_KEYS) if (typeof obj[key] === 'string') return { [key]: obj[key] };
  }
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(obj)) {
    if (name === '__typename' || (top && name === 'seal')) continue;
    out[top ? ((RESERVED_AS as Record<string, string>)[name] ?? name) : name] = sealShapeOf(v, false);
  }
  return out;
}

function pathOf(info: GraphQLResolveInfo): (string | number)[] {
  const path: (string | number)[] = [];
  for (let p: GraphQLResolveInfo['path'] | undefined = info.path; p; p = p.prev) path.unshift(p.key);
  return path;
}

function at(data: unknown, path: readonly (string | number)[]): unknown {
  let cursor = data;
  for (const key of path) {
    if (cursor === null || typeof cursor !== 'object') return undefined;
    cursor = (cursor as Record<string | number, unknown>)[key];
  }
  return cursor;
}

/**
 * Cuts every pending seal of the request to the reply: the token discloses the record fields
 * whose values the reply shows unchanged (a masked or partly selected field is withheld).
 */
export function presentSeals(data: unknown, registry: SealRegistry | undefined): void {
  if (!registry || data === null || data === undefined) return;
  for (const { path, sealed } of registry.pending) {
    const seal = at(data, path) as { token?: unknown } | null | undefined;
    if (!seal || typeof seal !== 'object' || !('token' in seal)) continue;
    const parent = at(data, path.slice(0, -1));
    seal.token = presentSealForReply(sealed, sealShapeOf(parent, true) as Record<string, unknown>);
  }
}

/** Placeholder of a token until `presentSeals` runs; never leaves the hub. */
const PENDING_TOKEN = '';

/**
 * Resolvers of the seal fields: `<Type>.seal` for every sealed type of every connector, and
 * `Query.verifySeal`. Fails if a type of the schema has a `seal` field no connector seals.
 */
export function createSealResolvers(connectors: readonly Connector[], service: SealService): Resolvers {
  const resolvers: Record<string, Record<string, unknown>> = {};
  for (const connector of connectors) {
    for (const [typeName, spec] of Object.entries(connector.seals)) {
      resolvers[typeName] = {
        seal: async (parent: unknown, _args: unknown, ctx: SealingContext, info: GraphQLResolveInfo) => {
          const record = await spec.load(parent, ctx.loadersOf(connector));
          if (record === null || record === undefined) return null;
          const sealed = await service.seal(connector.id, spec, record, { type: info.parentType, schema: info.schema });
          ctx.seals?.pending.push({ path: pathOf(info), sealed });
          return {
            issuer: sealed.department,
            keyId: sealed.keyId,
            algorithm: service.keyStore.resolveKey(sealed.keyId)?.alg ?? 'ES256',
            issuedAt: new Date(sealed.issuedAt * 1000).toISOString(),
            recordType: sealed.recordType,
            token: PENDING_TOKEN,
          };
        },
      };
    }
  }
  resolvers.Query = {
    verifySeal: (_: unknown, { token }: { token: string }) => {
      const result = verifySeal(token, { keyStore: service.keyStore });
      if (!result.valid) return { valid: false, reason: result.reason, keyId: result.keyId ?? null, disclosed: [] };
      return {
        valid: true,
        reason: null,
        issuer: result.issuer,
        keyId: result.keyId,
        algorithm: result.algorithm,
        issuedAt: result.issuedAt.toISOString(),
        recordType: result.recordType,
        // The seal's `sub`: the record's pseudonymous reference, never its id.
        recordId: result.subject,
        disclosed: Object.entries(result.disclosed).map(([name, value]) => ({ name, value: canonicalize(value) })),
      };
    },
  };
  return resolvers as Resolvers;
}

/** Each type's answers of `sharedFieldOf` by field name: a schema's types never change, and every record sealed asks them again. */
const sharedFields = new WeakMap<GraphQLNamedType, Map<string, GraphQLField<unknown, unknown> | 'unknown' | 'not-shared'>>();

/** The `@share` class of a field (`UNCONDITIONAL`, `CONDITIONAL`, `NOT_SHARED`), if it has one. */
function shareClassOf(field: GraphQLField<unknown, unknown>): string | undefined {
  const directive = field.astNode?.directives?.find((d) => d.name.value === SHARE_DIRECTIVE);
  const arg = directive?.arguments?.find((a) => a.name.value === 'class');
  return arg?.value.kind === Kind.ENUM ? arg.value.value : undefined;
}

/** Field `name` of `type`, or of one of its possible types for a union or interface, if it is shared. */
function sharedFieldOf(schema: GraphQLSchema | undefined, type: GraphQLNamedType, name: string): GraphQLField<unknown, unknown> | 'unknown' | 'not-shared' {
  // An abstract type's answer depends on the schema's possible types: only object types are remembered.
  if (!isObjectType(type)) return findSharedField(schema, type, name);
  let known = sharedFields.get(type);
  if (!known) sharedFields.set(type, (known = new Map()));
  let found = known.get(name);
  if (found === undefined) {
    found = findSharedField(schema, type, name);
    // Names come from department records: a bounded memo (a type has few fields; anything else is refused anyway).
    if (known.size < 1024) known.set(name, found);
  }
  return found;
}

function findSharedField(schema: GraphQLSchema | undefined, type: GraphQLNamedType, name: string): GraphQLField<unknown, unknown> | 'unknown' | 'not-shared' {
  const candidates = isObjectType(type) ? [type] : isAbstractType(type) && schema ? schema.getPossibleTypes(type) : [];
  let found: 'unknown' | 'not-shared' = 'unknown';
  for (const candidate of candidates) {
    const field = name === 'seal' ? undefined : candidate.getFields()[name];
    if (!field) continue;
    const cls = shareClassOf(field);
    // A field without a class is not shared: the policy refuses such a schema anyway.
    if (cls === 'UNCONDITIONAL' || cls === 'CONDITIONAL') return field;
    found = 'not-shared';
  }
  return found;
}

function refuseField(typeName: string, path: string, problem: 'unknown' | 'not-shared', parent: string): never {
  const why = problem === 'unknown' ? `which is not a field of ${parent}` : `which ${parent} does not share (NOT_SHARED)`;
  throw new ConnectorDefinitionError(`the seal of ${typeName} would seal "${path}", ${why}: a seal must carry only values a reply may show`);
}

function assertSealableValue(schema: GraphQLSchema | undefined, typeName: string, type: GraphQLNamedType, value: unknown, path: string): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertSealableValue(schema, typeName, type, item, `${path}[${i}]`));
    return;
  }
  if (value === null || typeof value !== 'object' || !(isObjectType(type) || isAbstractType(type))) return;
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    const field = sharedFieldOf(schema, type, name);
    if (typeof field === 'string') refuseField(typeName, `${path}.${name}`, field, type.name);
    assertSealableValue(schema, typeName, getNamedType(field.type), v, `${path}.${name}`);
  }
}

/**
 * Refuses (`CONNECTOR_DEFINITION_INVALID`) sealed fields that a reply could never show: every
 * name `fields(record)` returns must be a field of the sealed GraphQL type whose `@share` class
 * is not `NOT_SHARED`, and so, recursively, must every member of the objects it holds (an
 * entity reference `{ idNumber }` included), against the field's own type. The seal service
 * runs it on every record it seals; `assertSealsCovered` on each spec at start-up.
 */
export function assertSealableFields(type: GraphQLObjectType, fields: Readonly<Record<string, unknown>>, schema?: GraphQLSchema): void {
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const field = sharedFieldOf(schema, type, name);
    if (typeof field === 'string') refuseField(type.name, name, field, type.name);
    assertSealableValue(schema, type.name, getNamedType(field.type), value, name);
  }
}

/** The key a probe record lists as its own: `fields` that copy the whole record (`{ ...r }`) return it. */
const PROBE_OWN_KEY = '(every field of the department record)';

/**
 * A stand-in record for checking a spec's `fields` at start-up: every member is a probe value
 * (callable, iterable, an empty list to list methods, `'probe'` as a primitive), and its only
 * own key is `PROBE_OWN_KEY`, so a spread of the record shows up as that name.
 */
function probeRecord(): unknown {
  const value: unknown = new Proxy(function probe() {}, {
    get(_target, key) {
      if (key === Symbol.toPrimitive) return () => 'probe';
      if (key === Symbol.iterator) return function* empty() {};
      if (key === 'then' || key === 'toJSON') return undefined;
      if (key === 'length') return 0;
      if (typeof key === 'string' && typeof (Array.prototype as unknown as Record<string, unknown>)[key] === 'function') return () => [];
      return value;
    },
    apply: () => value,
  });
  return new Proxy({} as Record<string, unknown>, {
    get: (_target, key) => (key === 'then' || key === 'toJSON' || typeof key === 'symbol' ? undefined : value),
    ownKeys: () => [PROBE_OWN_KEY],
    getOwnPropertyDescriptor: (_target, key) => (key === PROBE_OWN_KEY ? { value, enumerable: true, configurable: true, writable: true } : undefined),
  });
}

/**
 * Checks that every type with a `seal` field is sealed by exactly one connector, that every
 * sealed type is an object type of the schema, and that no spec's `fields` would seal a field
 * that is not a shared field of its type (`assertSealableFields`, on the names `fields` returns
 * for a probe record; the seal service checks every real record's fields again, values and
 * nested members included).
 */
export function assertSealsCovered(schema: GraphQLSchema, connectors: readonly Connector[]): void {
  const sealedBy = new Map<string, string>();
  for (const c of connectors) {
    for (const [typeName, spec] of Object.entries(c.seals)) {
      const other = sealedBy.get(typeName);
      if (other) throw new ConnectorDefinitionError(`${typeName} is sealed by both "${other}" and "${c.id}"`);
      sealedBy.set(typeName, c.id);
      const type = schema.getType(typeName);
      if (!isObjectType(type) || !type.getFields().seal) throw new ConnectorDefinitionError(`"${c.id}" seals ${typeName}, which is not an object type with a seal field`);
      let names: string[];
      try {
        names = Object.keys(spec.fields(probeRecord()));
      } catch {
        // A `fields` that needs real data: its names are checked on every record sealed.
        continue;
      }
      for (const name of names) {
        if (name === PROBE_OWN_KEY) throw new ConnectorDefinitionError(`the seal of ${typeName} copies every field of the department record: list the sealed fields`);
        const field = sharedFieldOf(schema, type, name);
        if (typeof field === 'string') refuseField(typeName, name, field, typeName);
      }
    }
  }
  // A peer hub's records come sealed by its departments: their seals pass through (src/gateway/federation).
  for (const c of connectors) for (const typeName of (c as { passedSeals?: readonly string[] }).passedSeals ?? []) sealedBy.set(typeName, c.id);
  for (const type of Object.values(schema.getTypeMap())) {
    if (isObjectType(type) && type.getFields().seal && !sealedBy.has(type.name)) {
      throw new ConnectorDefinitionError(`${type.name}.seal has no connector that seals ${type.name} records`);
    }
  }
}
