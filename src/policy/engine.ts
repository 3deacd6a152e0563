import { filterSchema, pruneSchema } from '@graphql-tools/utils';
import { Kind, isInterfaceType, parse, type DocumentNode, type GraphQLSchema, type ValueNode } from 'graphql';
import { HubError, HubErrorCode, createByteLru, type Sensitivity, type SharingClass } from '../sdk';
import { analyseOperation, type OperationAnalysis, type SubjectKind } from './analysis';
import { OPEN_DEPARTMENTS, SHARED_DEPARTMENT, readClassification, type Classification, type FieldClassification } from './classification';
import { MAX_CONSENT_TOKENS, checkConsents, type ConsentMemory, type ConsentOutcome, type ConsentUse, type ConsentVerifier, type RejectedConsent } from './consent';
import { PolicyDeniedError, type MissingConsent } from './errors';
import { maskingSchema } from './masks';
import { parsePolicy, type ConsumerPolicy, type Policy, type Purpose, type QueryLimitOverrides, type Role } from './policy';

const MiB = 1024 * 1024;

/** Defaults of the policy engine's options. */
export const DEFAULT_POLICY_ENGINE = {
  /**
   * Bytes of document analyses cached by document text, least recently used dropped first (an
   * estimate: see `analysisBytes`). A document estimated over a quarter of it is analysed but not cached.
   */
  cacheBytes: 32 * MiB,
} as const;

/**
 * The fixed budgets of the engine's other caches, in bytes: verdicts per (analysis, consumer,
 * purpose), permission tables per (consumer, purpose), and the visible schema per consumer.
 */
const SIDE_CACHE_BYTES = { verdicts: 8 * MiB, tables: 4 * MiB, schemas: 16 * MiB } as const;

/**
 * A consumer's visible schema, estimated: a filtered copy of the hub's schema (types, fields,
 * their maps), measured at about 37 KiB for the demo schema; 128 KiB leaves room for a larger
 * schema and keeps 128 consumers' schemas within the budget.
 */
const SCHEMA_BYTES = 128 * 1024;

/** Per-object overhead assumed by the estimates below (a small object, a Map entry, an array slot). */
const OBJECT_BYTES = 64;

/**
 * The analyses of one document text, estimated: the text itself (the key; 1–2 bytes a character)
 * and, per analysed operation, a tree whose response keys, argument values and entries together
 * come to about twice the text (measured: 150 documents of 1 MiB held 334 MiB uncapped).
 */
function analysisBytes(text: string, operations: number): number {
  return 4096 + text.length * (1 + 2 * Math.max(1, operations));
}

/** A verdict, estimated: its lists of coordinates (reads, denied, masked) and its mask plan. */
function verdictBytes(key: string, verdict: Verdict): number {
  let bytes = 512 + 2 * key.length;
  for (const list of Object.values(verdict.reads)) for (const c of list) bytes += OBJECT_BYTES + 2 * c.length;
  for (const c of verdict.denied) bytes += OBJECT_BYTES + 2 * c.length;
  for (const c of verdict.masked) bytes += 3 * OBJECT_BYTES + 2 * c.length;
  return bytes;
}

/** A permission table, estimated: one Map entry and one Permission per coordinate (the coordinate strings are the policy's). */
function tableBytes(key: string, table: PermissionTable): number {
  return 256 + 2 * key.length + table.allowed.size * 2 * OBJECT_BYTES;
}

/** Options of `createPolicyEngine`. */
export interface PolicyEngineOptions {
  /** The hub's schema, every field classified with @share. */
  readonly schema: GraphQLSchema;
  /** The sharing policy as read from its JSON file (validated here). */
  readonly policy: unknown;
  /** Verifies consent tokens; without it every consent-requiring request is denied. */
  readonly verifyConsent?: ConsentVerifier;
  /**
   * Remembers the first use of a one-time consent (`once: true`) by `issuer + "\u0000" + jti`
   * until the given epoch milliseconds; resolves true for a first use. Without it, or when it
   * rejects, a one-time consent does not count (fail closed). The hub gives its replay guard.
   */
  readonly rememberConsent?: ConsentMemory;
  /** The clock, in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Bytes of analyses cached by document text. @default DEFAULT_POLICY_ENGINE.cacheBytes */
  readonly cacheBytes?: number;
}

/** One policy check: who asks, why, and the operation they sent. */
export interface CheckRequest {
  /** The authenticated consumer id. */
  readonly consumer: string;
  /** The purpose code 事由 from the signed request. */
  readonly purpose?: string | null;
  readonly document: string | DocumentNode;
  readonly operationName?: string | null;
  readonly variables?: Readonly<Record<string, unknown>> | null;
  /** Consent tokens (compact JWS) sent with the request. */
  readonly consents?: readonly string[];
}

/** A subject of the operation: an identifier given to a root field. */
export interface Subject {
  readonly kind: SubjectKind;
  /** The identifier; null when it could not be read (the subject then never has consent). */
  readonly id: string | null;
  /** Where it is in the operation, e.g. `people.idNumbers[1]`. */
  readonly at: string;
}

/** What every decision tells the audit log. */
interface DecisionBase {
  readonly consumer: string;
  readonly purpose: string | null;
  readonly operationName: string | null;
  /** Every field coordinate the operation may read, by providing department (`shared` and `catalog` are the hub itself). */
  readonly reads: Readonly<Record<string, readonly string[]>>;
  readonly subjects: readonly Subject[];
  /** The operation introspects the schema (`__schema` or `__type`). */
  readonly introspection: boolean;
}

/** The operation may run: the departments it asks, the coordinates masked, the consents that let it through. */
export interface AllowedDecision extends DecisionBase {
  readonly allowed: true;
  /** Departments that will be asked (the hub's own pseudo-departments excluded). */
  readonly departments: readonly string[];
  /** Field coordinates the operation reads whose values are masked in the reply: never disclose them unmasked (e.g. in a seal). */
  readonly masked: readonly string[];
  /** Every coordinate this consumer's grants mask under this purpose: what the execution schema masks, wherever it is resolved. */
  readonly maskedCoordinates: ReadonlySet<string>;
  readonly consents: readonly ConsentUse[];
  /**
   * Under a purpose that requires the consent of the persons concerned: every person with a consent
   * that counts in this request. A person the reply reaches through a link (not named at the root)
   * is withheld unless they are in it (MISSING_CONSENT). Absent when the purpose needs no consent.
   */
  readonly consentedPersons?: ReadonlySet<string>;
  /**
   * Execute against this schema: the hub's schema with its masking resolvers when the operation
   * only reads data (every coordinate is checked, every masked one masked where it is resolved),
   * `schemaFor(consumer)` when it introspects (`introspection` is true).
   */
  readonly schema: GraphQLSchema;
}

/** The operation is refused as a whole, before any department is asked. */
export interface DeniedDecision extends DecisionBase {
  readonly allowed: false;
  /** Every denied field coordinate, sorted. */
  readonly denied: readonly string[];
  readonly missingConsent: readonly MissingConsent[];
  readonly rejectedConsents: readonly RejectedConsent[];
  /** The error to report (POLICY_DENIED, HTTP 403). */
  readonly error: PolicyDeniedError;
}

/** The outcome of `check`. */
export type Decision = AllowedDecision | DeniedDecision;

/**
 * An operation the grants allow, its consents not yet checked: the only way from it to an
 * AllowedDecision is `consent`, so no caller can execute an operation whose consents were skipped.
 */
export interface GrantedOperation extends DecisionBase {
  readonly allowed: 'pending-consent';
  /** The purpose requires the consent of the persons the operation names. */
  readonly requiresConsent: boolean;
  /** Checks the consent tokens sent with the request (none needed when `requiresConsent` is false) and decides. */
  consent(tokens: readonly string[]): Promise<Decision>;
}

/** A catalogue entry as the `catalog` field returns it. */
export interface CatalogItem {
  readonly coordinate: string;
  readonly typeName: string;
  readonly fieldName: string;
  readonly department: string;
  readonly class: SharingClass;
  readonly purposes: string[];
  readonly sensitivity: Sensitivity | null;
  readonly updateCycle: FieldClassification['updateCycle'];
  readonly description: string;
}

/** A field a consumer may request, under one purpose (null: any purpose). */
export interface GrantedFieldItem {
  readonly coordinate: string;
  readonly department: string;
  readonly class: SharingClass;
  readonly purpose: string | null;
  readonly masked: boolean;
  /** ISO date-time when the last grant of it ends; null when open. */
  readonly validTo: string | null;
}

/** What `myGrants` returns. */
export interface ConsumerGrants {
  readonly consumer: string;
  readonly roles: string[];
  readonly fields: GrantedFieldItem[];
  readonly purposes: Purpose[];
}

/** The policy engine: checks operations before execution, masks replies, and answers the catalogue. */
export interface PolicyEngine {
  /** Decides whether the operation may run for this consumer and purpose; every denied coordinate and missing consent is listed. */
  check(request: CheckRequest): Promise<Decision>;
  /** The grants alone: a denial, or the granted operation whose consents `consent` then checks (the request pipeline's policy and consent stages). */
  authorize(request: Omit<CheckRequest, 'consents'>): DeniedDecision | GrantedOperation;
  /** The schema this consumer may see and introspect (cached): its granted fields and the catalogue; everything for an admin. */
  schemaFor(consumer: string): GraphQLSchema;
  /** The resource catalogue, optionally of one department or class. */
  catalog(filter?: { department?: string | null; class?: SharingClass | null }): CatalogItem[];
  /** What a consumer may request now, and for which purposes. */
  grantsOf(consumer: string, purpose?: string | null): ConsumerGrants;
  /** A purpose of the registry (for the audit's citizen view: confidential, discloseAfter). */
  purpose(code: string): Purpose | undefined;
  /** Every purpose of the registry. */
  purposes(): Purpose[];
  /** A consumer's roles; empty for an unknown consumer. */
  rolesOf(consumer: string): ReadonlySet<Role>;
  /** The ids of the consumers the policy registers. */
  consumers(): string[];
  /** A consumer's overrides of the hub's query cost limits; empty for defaults or an unknown consumer. */
  limitsOf(consumer: string): Readonly<QueryLimitOverrides>;
  /**
   * What the engine's caches hold together (analyses by text, verdicts, permission tables,
   * schemas): entries, estimated bytes, and the sum of their budgets, which `bytes` never exceeds.
   */
  cacheStats(): { entries: number; bytes: number; maxBytes: number };
}

interface Permission {
  masked: boolean;
  validTo: number;
}

/** The fields a consumer may read under one purpose at one moment, valid until `expiresAt`. */
interface PermissionTable {
  readonly allowed: ReadonlyMap<string, Permission>;
  readonly expiresAt: number;
}

interface Verdict {
  readonly table: PermissionTable;
  readonly denied: readonly string[];
  readonly problem: string | undefined;
  readonly reads: Readonly<Record<string, readonly string[]>>;
  readonly departments: readonly string[];
  readonly masked: readonly string[];
}

const NO_ROLES: ReadonlySet<Role> = new Set();
const NO_LIMIT_OVERRIDES: Readonly<QueryLimitOverrides> = Object.freeze({});
const HUB_DEPARTMENTS = new Set([SHARED_DEPARTMENT, ...OPEN_DEPARTMENTS]);

function nextBoundary(consumer: ConsumerPolicy | undefined, now: number): number {
  let next = Infinity;
  for (const g of consumer?.grants ?? []) {
    if (g.validFrom > now) next = Math.min(next, g.validFrom);
    else if (g.validTo > now) next = Math.min(next, g.validTo);
  }
  return next;
}

function resolveValue(value: ValueNode, variables: Readonly<Record<string, unknown>>, defaults: ReadonlyMap<string, ValueNode>): unknown {
  switch (value.kind) {
    case Kind.STRING:
      return value.value;
    case Kind.INT:
      return value.value;
    case Kind.VARIABLE: {
      const name = value.name.value;
      if (Object.prototype.hasOwnProperty.call(variables, name)) return variables[name];
      const fallback = defaults.get(name);
      return fallback === undefined ? undefined : resolveValue(fallback, {}, new Map());
    }
    case Kind.LIST:
      return value.values.map((v) => resolveValue(v, variables, defaults));
    case Kind.NULL:
      return null;
    default:
      return undefined;
  }
}

/** An identifier as GraphQL's ID coerces it: a string, or an integer written as a number. */
function asIdentifier(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return null;
}

function subjectsOf(analysis: OperationAnalysis, variables: Readonly<Record<string, unknown>>): Subject[] {
  const subjects: Subject[] = [];
  for (const s of analysis.subjects) {
    const value = resolveValue(s.value, variables, analysis.variableDefaults);
    const at = `${s.responseKey}.${s.argument}`;
    // A null identifier reads nothing; nor does an argument whose variable was not sent (GraphQL leaves it out).
    if (value === null || (value === undefined && s.value.kind === Kind.VARIABLE)) continue;
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        if (item !== null) subjects.push({ kind: s.kind, id: asIdentifier(item), at: `${at}[${i}]` });
      });
    } else {
      subjects.push({ kind: s.kind, id: asIdentifier(value), at });
    }
  }
  return subjects;
}

/** Creates the policy engine over a classified schema and a sharing policy; throws at start-up when either is invalid. */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  const { schema, verifyConsent, rememberConsent } = options;
  const now = options.now ?? Date.now;
  const cacheBytes = options.cacheBytes ?? DEFAULT_POLICY_ENGINE.cacheBytes;
  const classification: Classification = readClassification(schema);
  // What requests execute against: the schema whose sensitive fields mask themselves (masks.ts).
  const executable = maskingSchema(schema, (coordinate) => classification.byCoordinate.get(coordinate)?.sensitivity ?? null);
  const maskedByTable = new WeakMap<PermissionTable, ReadonlySet<string>>();
  const maskedCoordinatesOf = (table: PermissionTable): ReadonlySet<string> => {
    let set = maskedByTable.get(table);
    if (set === undefined) {
      set = new Set([...table.allowed].filter(([c, p]) => p.masked && classification.byCoordinate.get(c)?.sensitivity != null).map(([c]) => c));
      maskedByTable.set(table, set);
    }
    return set;
  };
  const policy: Policy = parsePolicy(options.policy, classification);

  const departmentOf = (coordinate: string): string | undefined => classification.byCoordinate.get(coordinate)?.department;
  const catalogOnly = (coordinate: string): boolean => OPEN_DEPARTMENTS.has(departmentOf(coordinate) ?? '');

  // --- permissions -------------------------------------------------------------------------

  const tables = createByteLru<string, PermissionTable>({ maxBytes: SIDE_CACHE_BYTES.tables, sizeOf: tableBytes });
  const permissionsOf = (consumerId: string, purpose: string | null, at: number): PermissionTable => {
    const key = `${consumerId}\u0000${purpose ?? ''}`;
    const cached = tables.get(key);
    if (cached !== undefined && at < cached.expiresAt) return cached;
    const consumer = policy.consumers.get(consumerId);
    const allowed = new Map<string, Permission>();
    for (const g of consumer?.grants ?? []) {
      if (at < g.validFrom || at >= g.validTo) continue;
      if (g.purposes !== null && (purpose === null || !g.purposes.has(purpose))) continue;
      for (const c of g.coordinates) {
        const field = classification.byCoordinate.get(c)!;
        if (field.class === 'CONDITIONAL' && (purpose === null || !field.purposes.includes(purpose))) continue;
        const masked = g.masked.has(c);
        const previous = allowed.get(c);
        // Grants add up: a value is masked only when every grant that allows it masks it.
        allowed.set(c, previous === undefined ? { masked, validTo: g.validTo } : { masked: previous.masked && masked, validTo: Math.max(previous.validTo, g.validTo) });
      }
    }
    const table = { allowed, expiresAt: nextBoundary(consumer, at) };
    tables.set(key, table);
    return table;
  };

  // --- visible schema per consumer ------------------------------------------------------------

  const schemas = createByteLru<string, { schema: GraphQLSchema; expiresAt: number }>({
    maxBytes: SIDE_CACHE_BYTES.schemas,
    sizeOf: (consumerId) => SCHEMA_BYTES + 2 * consumerId.length,
  });
  const schemaFor = (consumerId: string): GraphQLSchema => {
    const consumer = policy.consumers.get(consumerId);
    if (consumer?.roles.has('admin')) return schema;
    const at = now();
    const cached = schemas.get(consumerId);
    if (cached !== undefined && at < cached.expiresAt) return cached.schema;
    const visible = new Set<string>();
    for (const g of consumer?.grants ?? []) if (at >= g.validFrom && at < g.validTo) for (const c of g.coordinates) visible.add(c);
    const sees = (typeName: string, fieldName: string): boolean => {
      const coordinate = `${typeName}.${fieldName}`;
      return catalogOnly(coordinate) || visible.has(coordinate);
    };
    const filtered = pruneSchema(
      filterSchema({
        schema,
        // Each root field under its own root type: `Mutation.claimCase` is granted like `Query.person`.
        rootFieldFilter: (operation, fieldName) =>
          sees((operation === 'Query' ? schema.getQueryType() : operation === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType())?.name ?? operation, fieldName),
        objectFieldFilter: (typeName, fieldName) => sees(typeName, fieldName),
        // An interface keeps a field only when every implementation does, so the filtered schema stays valid.
        interfaceFieldFilter: (typeName, fieldName) => {
          const type = schema.getType(typeName);
          return isInterfaceType(type) && schema.getPossibleTypes(type).every((t) => sees(t.name, fieldName));
        },
      }),
    );
    schemas.set(consumerId, { schema: filtered, expiresAt: nextBoundary(consumer, at) });
    return filtered;
  };

  // --- analysis cache -------------------------------------------------------------------------

  // By text, bounded by bytes; by DocumentNode, held as long as the caller holds the node.
  const byText = createByteLru<string, Map<string, OperationAnalysis>>({
    maxBytes: cacheBytes,
    sizeOf: (text, perOperation) => analysisBytes(text, perOperation.size),
  });
  const byNode = new WeakMap<DocumentNode, Map<string, OperationAnalysis>>();
  /** Analyses that no cache keeps (their document was too large): their verdicts are not kept either. */
  const uncached = new WeakSet<OperationAnalysis>();
  const analysisOf = (document: string | DocumentNode, operationName: string | null): OperationAnalysis => {
    const key = operationName ?? '';
    if (typeof document !== 'string') {
      let perOperation = byNode.get(document);
      if (perOperation === undefined) byNode.set(document, (perOperation = new Map()));
      let analysis = perOperation.get(key);
      if (analysis === undefined) perOperation.set(key, (analysis = analyseOperation(schema, document, operationName)));
      return analysis;
    }
    const perOperation = byText.get(document);
    const cachedAnalysis = perOperation?.get(key);
    if (cachedAnalysis !== undefined) return cachedAnalysis;
    const analysis = analyseOperation(schema, parse(document, { noLocation: true }), operationName);
    const operations = (perOperation?.size ?? 0) + 1;
    if (analysisBytes(document, operations) > cacheBytes / 4) {
      uncached.add(analysis);
      return analysis;
    }
    const updated = perOperation ?? new Map<string, OperationAnalysis>();
    updated.set(key, analysis);
    byText.set(document, updated); // again when it grew: its size is estimated on every set
    return analysis;
  };

  // --- verdicts -------------------------------------------------------------------------------

  // Keyed by the analysis's identity (a number given on first use), the consumer and the purpose.
  const verdicts = createByteLru<string, Verdict>({ maxBytes: SIDE_CACHE_BYTES.verdicts, sizeOf: verdictBytes });
  const analysisIds = new WeakMap<OperationAnalysis, number>();
  let nextAnalysisId = 0;
  const verdictOf = (analysis: OperationAnalysis, consumerId: string, purpose: string | null, at: number): Verdict => {
    const table = permissionsOf(consumerId, purpose, at);
    let id = analysisIds.get(analysis);
    if (id === undefined) analysisIds.set(analysis, (id = nextAnalysisId++));
    const key = `${id}\u0000${consumerId}\u0000${purpose ?? ''}`;
    const cached = verdicts.get(key);
    if (cached !== undefined && cached.table === table) return cached;

    let problem: string | undefined;
    if (!policy.consumers.has(consumerId)) problem = 'The consumer has no sharing policy.';
    else if (purpose !== null && !policy.purposes.has(purpose)) problem = `Purpose "${purpose}" is not registered.`;
    const denied: string[] = [];
    const reads: Record<string, string[]> = {};
    const masked = new Map<string, Sensitivity>();
    for (const coordinate of analysis.reads) {
      const field = classification.byCoordinate.get(coordinate);
      (reads[field?.department ?? 'unknown'] ??= []).push(coordinate);
      if (field === undefined) {
        denied.push(coordinate);
        continue;
      }
      if (OPEN_DEPARTMENTS.has(field.department)) continue;
      const permission = problem === undefined ? table.allowed.get(coordinate) : undefined;
      if (permission === undefined) denied.push(coordinate);
      else if (permission.masked && field.sensitivity !== null) masked.set(coordinate, field.sensitivity);
    }
    const verdict: Verdict = {
      table,
      denied,
      problem,
      reads,
      departments: Object.keys(reads).filter((d) => !HUB_DEPARTMENTS.has(d)).sort(),
      masked: [...masked.keys()],
    };
    if (!uncached.has(analysis)) verdicts.set(key, verdict);
    return verdict;
  };

  const introspectionDenials = (analysis: OperationAnalysis, consumerId: string, variables: Readonly<Record<string, unknown>>): string[] => {
    if (analysis.introspectedTypes.length === 0 || policy.consumers.get(consumerId)?.roles.has('admin')) return [];
    const visible = schemaFor(consumerId);
    const denied: string[] = [];
    for (const value of analysis.introspectedTypes) {
      const name = resolveValue(value, variables, analysis.variableDefaults);
      if (typeof name === 'string' && visible.getType(name) === undefined && schema.getType(name) !== undefined) {
        denied.push(`__type(name: ${JSON.stringify(name)})`);
      }
    }
    return denied;
  };

  // --- check ----------------------------------------------------------------------------------

  /** What the grants say about one request, before its consents are looked at. */
  interface Evaluation {
    readonly request: CheckRequest;
    readonly at: number;
    readonly base: DecisionBase;
    readonly verdict: Verdict;
    readonly denied: readonly string[];
    /** The purpose's code when it requires the consent of the persons concerned. */
    readonly consentPurpose: string | undefined;
    readonly persons: readonly Subject[];
  }

  const evaluate = (request: CheckRequest): Evaluation => {
    const at = now();
    const purpose = request.purpose ?? null;
    const operationName = request.operationName ?? null;
    const analysis = analysisOf(request.document, operationName);
    const verdict = verdictOf(analysis, request.consumer, purpose, at);
    const variables = request.variables ?? {};
    const subjects = analysis.subjects.length > 0 ? subjectsOf(analysis, variables) : [];
    const introspection = analysis.introspectsSchema || analysis.introspectedTypes.length > 0;
    const extraDenied = introspection ? introspectionDenials(analysis, request.consumer, variables) : [];
    const registered = purpose === null ? undefined : policy.purposes.get(purpose);
    const persons = registered?.requiresConsent ? subjects.filter((s) => s.kind === 'person') : [];
    return {
      request,
      at,
      base: { consumer: request.consumer, purpose, operationName: analysis.operationName ?? operationName, reads: verdict.reads, subjects, introspection },
      verdict,
      denied: extraDenied.length > 0 ? [...verdict.denied, ...extraDenied].sort() : verdict.denied,
      consentPurpose: registered?.requiresConsent ? registered.code : undefined,
      persons,
    };
  };

  /** The consents of the request's person subjects; one-time ones are spent only when `spend` (the grants allow the operation). */
  const NO_CONSENT: ConsentOutcome = { missing: [], used: [], rejected: [] };

  const consentsOf = async (evaluation: Evaluation, tokens: readonly string[], spend: boolean): Promise<ConsentOutcome> => {
    if (evaluation.consentPurpose === undefined) return NO_CONSENT;
    // No person named and no consent sent: nothing to verify (a linked person is then withheld).
    if (evaluation.persons.length === 0 && tokens.length === 0) return { ...NO_CONSENT, consented: new Set() };
    if (tokens.length > MAX_CONSENT_TOKENS) {
      throw new HubError(HubErrorCode.BAD_USER_INPUT, `A request carries at most ${MAX_CONSENT_TOKENS} consent tokens, got ${tokens.length}.`);
    }
    return checkConsents({
      subjects: evaluation.persons,
      purpose: evaluation.consentPurpose,
      consumer: evaluation.request.consumer,
      tokens,
      verifier: verifyConsent,
      issuers: policy.consentIssuers,
      nowMs: evaluation.at,
      maxLifetimeSec: policy.consent.maxLifetimeSec,
      remember: rememberConsent,
      spend,
    });
  };

  const decide = (evaluation: Evaluation, consent: ConsentOutcome): Decision => {
    const { base, verdict, denied } = evaluation;
    if (denied.length > 0 || consent.missing.length > 0 || verdict.problem !== undefined) {
      return { ...base, allowed: false, denied, missingConsent: consent.missing, rejectedConsents: consent.rejected, error: new PolicyDeniedError(denied, consent.missing, verdict.problem) };
    }
    return {
      ...base,
      allowed: true,
      departments: verdict.departments,
      masked: verdict.masked,
      maskedCoordinates: maskedCoordinatesOf(verdict.table),
      consents: consent.used,
      ...(evaluation.consentPurpose !== undefined ? { consentedPersons: consent.consented ?? new Set<string>() } : {}),
      // Data is already checked field by field; only introspection needs the consumer's own view of the schema.
      schema: base.introspection ? schemaFor(evaluation.request.consumer) : executable,
    };
  };


  const check = async (request: CheckRequest): Promise<Decision> => {
    const evaluation = evaluate(request);
    const granted = evaluation.denied.length === 0 && evaluation.verdict.problem === undefined;
    return decide(evaluation, await consentsOf(evaluation, request.consents ?? [], granted));
  };

  const authorize = (request: Omit<CheckRequest, 'consents'>): DeniedDecision | GrantedOperation => {
    const evaluation = evaluate(request);
    const { denied, verdict } = evaluation;
    if (denied.length > 0 || verdict.problem !== undefined) return decide(evaluation, NO_CONSENT) as DeniedDecision;
    return {
      ...evaluation.base,
      allowed: 'pending-consent',
      requiresConsent: evaluation.consentPurpose !== undefined,
      consent: async (tokens) => decide(evaluation, await consentsOf(evaluation, tokens, true)),
    };
  };

  // --- catalogue and grants -------------------------------------------------------------------

  const catalogItems: CatalogItem[] = [...classification.byCoordinate.values()]
    .filter((f) => !OPEN_DEPARTMENTS.has(f.department) && classification.fieldsOf.has(f.typeName))
    .map((f) => Object.freeze({ ...f, purposes: [...f.purposes] }));

  const grantsOf = (consumerId: string, purpose?: string | null): ConsumerGrants => {
    const consumer = policy.consumers.get(consumerId);
    const at = now();
    const fields: GrantedFieldItem[] = [];
    const named = new Set<string>();
    const item = (coordinate: string, p: string | null, permission: Permission): GrantedFieldItem => {
      const field = classification.byCoordinate.get(coordinate)!;
      return {
        coordinate,
        department: field.department,
        class: field.class,
        purpose: p,
        masked: permission.masked && field.sensitivity !== null,
        validTo: Number.isFinite(permission.validTo) ? new Date(permission.validTo).toISOString() : null,
      };
    };
    const anyPurpose = permissionsOf(consumerId, null, at);
    for (const [c, permission] of anyPurpose.allowed) fields.push(item(c, null, permission));
    for (const code of policy.purposes.keys()) {
      if (purpose !== undefined && purpose !== null && purpose !== code) continue;
      const table = permissionsOf(consumerId, code, at);
      for (const [c, permission] of table.allowed) {
        const general = anyPurpose.allowed.get(c);
        if (general !== undefined && general.masked === permission.masked) continue;
        fields.push(item(c, code, permission));
        named.add(code);
      }
    }
    for (const g of consumer?.grants ?? []) if (at >= g.validFrom && at < g.validTo) for (const p of g.purposes ?? []) named.add(p);
    return {
      consumer: consumerId,
      roles: [...(consumer?.roles ?? [])],
      fields,
      purposes: [...named].filter((p) => purpose === undefined || purpose === null || p === purpose).map((p) => policy.purposes.get(p)!),
    };
  };

  return {
    check,
    authorize,
    schemaFor,
    catalog: (filter = {}) =>
      catalogItems.filter((f) => (filter.department == null || f.department === filter.department) && (filter.class == null || f.class === filter.class)),
    grantsOf,
    purpose: (code) => policy.purposes.get(code),
    purposes: () => [...policy.purposes.values()],
    consumers: () => [...policy.consumers.keys()],
    rolesOf: (consumerId) => policy.consumers.get(consumerId)?.roles ?? NO_ROLES,
    limitsOf: (consumerId) => policy.consumers.get(consumerId)?.limits ?? NO_LIMIT_OVERRIDES,
    cacheStats: () => {
      const caches = [byText, verdicts, tables, schemas];
      return {
        entries: caches.reduce((n, c) => n + c.size, 0),
        bytes: caches.reduce((n, c) => n + c.calculatedSize, 0),
        maxBytes: caches.reduce((n, c) => n + c.maxBytes, 0),
      };
    },
  };
}
