import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDateTime, parseFullDate, type Sensitivity } from '../sdk';
import { AUDIT_DEPARTMENT, OPEN_DEPARTMENTS, type Classification } from './classification';
import { DEFAULT_CONSENT_MAX_LIFETIME_SEC } from './consent';
import { PolicyConfigError } from './errors';

/**
 * What a consumer is to the hub: a department system reading data, a consent issuer signing
 * citizens' consents, an auditor, an administrator; a `federation-peer` is another city's hub
 * (also a `consumer`), the only consumer that may ask on behalf of its own consumers (跨域通办,
 * docs/federation.md).
 */
export type Role = 'consumer' | 'consent-issuer' | 'auditor' | 'admin' | 'federation-peer';

const ROLES = ['consumer', 'consent-issuer', 'auditor', 'admin', 'federation-peer'] as const;
const SENSITIVITIES: readonly string[] = ['ID_NUMBER', 'PHONE', 'NAME', 'ADDRESS'];
const PURPOSE_CODE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;
const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const ISO_DURATION = /^P(?=\d)(\d+Y)?(\d+M)?(\d+D)?$/;
/** A fixed-length ISO 8601 duration: days, hours, minutes, seconds (no years or months, whose length varies). */
const FIXED_DURATION = /^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
/** Dates without a time are days in China Standard Time. */
const CST = '+08:00';
const DAY_MS = 86_400_000;

const purposeSchema = z.strictObject({
  code: z.string().regex(PURPOSE_CODE, 'must be SCREAMING_SNAKE_CASE'),
  description: z.string().min(1),
  legalBasis: z.string().min(1),
  requiresConsent: z.boolean().optional(),
  confidential: z.boolean().optional(),
  discloseAfter: z.string().regex(ISO_DURATION, 'must be an ISO 8601 duration of years, months or days, e.g. P180D').optional(),
});

const grantSchema = z.strictObject({
  fields: z.array(z.string()).min(1),
  purposes: z.array(z.string()).min(1).optional(),
  mask: z.array(z.string()).optional(),
  validFrom: z.string().optional(),
  validTo: z.string().optional(),
  /** Free text for people: the approval 审批 this grant rests on. */
  note: z.string().optional(),
});

const limitValue = z.number().int('must be an integer').positive('must be a positive integer').max(Number.MAX_SAFE_INTEGER).optional();

/** A consumer's own query cost limits; each key replaces the hub's default of that limit. */
const limitsSchema = z.strictObject({
  maxDocumentBytes: limitValue,
  maxTokens: limitValue,
  maxDepth: limitValue,
  maxAliases: limitValue,
  maxRootFields: limitValue,
  maxEstimatedResults: limitValue,
});

const consumerSchema = z.strictObject({
  id: z.string().regex(KEBAB, 'must be kebab-case'),
  name: z.string().min(1),
  roles: z.array(z.enum(ROLES)).min(1),
  grants: z.array(grantSchema).optional(),
  limits: limitsSchema.optional(),
});

/** Seconds of a fixed-length ISO 8601 duration (`PT24H`, `P1DT12H`), or undefined when it is not one. */
export function durationSeconds(value: string): number | undefined {
  const m = FIXED_DURATION.exec(value);
  if (!m) return undefined;
  const [, d, h, min, sec] = m.map((x) => (x === undefined ? 0 : Number(x)));
  return d! * 86_400 + h! * 3600 + min! * 60 + sec!;
}

/** Longest lifetime a consent may be issued for: a year (a policy asking for more is a mistake). */
const MAX_CONSENT_LIFETIME_LIMIT_SEC = 366 * 86_400;

/** How consent tokens are accepted, for every purpose that requires consent. */
const consentSettingsSchema = z.strictObject({
  maxLifetime: z
    .string()
    .refine((v) => durationSeconds(v) !== undefined, 'must be an ISO 8601 duration of days, hours, minutes or seconds, e.g. PT24H')
    .refine((v) => (durationSeconds(v) ?? 1) > 0, 'must be longer than zero')
    .refine((v) => (durationSeconds(v) ?? 0) <= MAX_CONSENT_LIFETIME_LIMIT_SEC, 'must be at most P366D')
    .optional(),
});

const policySchema = z.strictObject({
  version: z.literal(1),
  purposes: z.array(purposeSchema),
  consumers: z.array(consumerSchema),
  consent: consentSettingsSchema.optional(),
});

/** The sharing policy as written in its JSON file (see docs/sharing-policy.md). */
export type PolicyInput = z.input<typeof policySchema>;

/** A purpose code 事由 of the registry. */
export interface Purpose {
  readonly code: string;
  readonly description: string;
  readonly legalBasis: string;
  /** The person concerned must consent, through a token signed by a consent issuer (the citizen identity platform). */
  readonly requiresConsent: boolean;
  /** Accesses under it are hidden from the person concerned until `discloseAfter` has passed. */
  readonly confidential: boolean;
  /** ISO 8601 duration after the access when a confidential access is disclosed; null when not confidential. */
  readonly discloseAfter: string | null;
}

/** One grant of a consumer, expanded to field coordinates. */
export interface Grant {
  /** Position in the consumer's `grants` list, for messages. */
  readonly index: number;
  /** Every field coordinate the grant covers (whole types expanded; not-shared fields never). */
  readonly coordinates: ReadonlySet<string>;
  /** The purposes it applies to; null for a grant of unconditional fields under any purpose. */
  readonly purposes: ReadonlySet<string> | null;
  /** Coordinates whose values this grant masks. */
  readonly masked: ReadonlySet<string>;
  /** Epoch milliseconds, inclusive; -Infinity when open. */
  readonly validFrom: number;
  /** Epoch milliseconds, exclusive; Infinity when open. */
  readonly validTo: number;
}

/**
 * A consumer's overrides of the hub's query cost limits (the gateway's `QueryLimits`, same keys):
 * each one given replaces the default for this consumer's queries.
 */
export interface QueryLimitOverrides {
  readonly maxDocumentBytes?: number;
  readonly maxTokens?: number;
  readonly maxDepth?: number;
  readonly maxAliases?: number;
  readonly maxRootFields?: number;
  readonly maxEstimatedResults?: number;
}

/** A registered consumer, its roles, its grants and its own query limits. */
export interface ConsumerPolicy {
  readonly id: string;
  readonly name: string;
  readonly roles: ReadonlySet<Role>;
  readonly grants: readonly Grant[];
  /** Overrides of the hub's query cost limits; absent when the consumer has the defaults. */
  readonly limits?: Readonly<QueryLimitOverrides>;
}

/** The validated, frozen sharing policy. */
export interface Policy {
  readonly purposes: ReadonlyMap<string, Purpose>;
  readonly consumers: ReadonlyMap<string, ConsumerPolicy>;
  /** Consumers whose consent tokens count: those with the `consent-issuer` role (never for their own requests). */
  readonly consentIssuers: ReadonlySet<string>;
  /** How consent tokens are accepted. */
  readonly consent: ConsentSettings;
}

/** The policy's consent settings (`"consent"` in its file). */
export interface ConsentSettings {
  /** Longest `exp - iat` of a consent token accepted, in seconds. @default DEFAULT_CONSENT_MAX_LIFETIME_SEC (24 h) */
  readonly maxLifetimeSec: number;
}

function parseInstant(value: string, end: boolean): number | undefined {
  const date = parseFullDate(value);
  if (date) {
    const start = Date.parse(`${value}T00:00:00${CST}`);
    return end ? start + DAY_MS : start;
  }
  return parseDateTime(value);
}

function entryName(path: readonly PropertyKey[], raw: unknown): string {
  const get = (o: unknown, k: PropertyKey): unknown => (o !== null && typeof o === 'object' ? (o as Record<PropertyKey, unknown>)[k] : undefined);
  if (path[0] === 'consumers' && typeof path[1] === 'number') {
    const id = get(get(get(raw, 'consumers'), path[1]), 'id');
    const who = typeof id === 'string' ? `consumer ${JSON.stringify(id)}` : `consumers[${path[1]}]`;
    if (path[2] === 'grants' && typeof path[3] === 'number') {
      const rest = path.slice(4);
      return `${who} grant[${path[3]}]${rest.length > 0 ? ` ${rest.map(String).join('.')}` : ''}`;
    }
    return `${who}${path.length > 2 ? ` ${path.slice(2).map(String).join('.')}` : ''}`;
  }
  if (path[0] === 'purposes' && typeof path[1] === 'number') {
    const code = get(get(get(raw, 'purposes'), path[1]), 'code');
    const which = typeof code === 'string' ? `purpose ${JSON.stringify(code)}` : `purposes[${path[1]}]`;
    return `${which}${path.length > 2 ? ` ${path.slice(2).map(String).join('.')}` : ''}`;
  }
  return path.length > 0 ? path.map(String).join('.') : 'policy';
}

function parsePurposes(input: z.output<typeof policySchema>['purposes'], problems: string[]): Map<string, Purpose> {
  const purposes = new Map<string, Purpose>();
  for (const p of input) {
    const name = `purpose ${JSON.stringify(p.code)}`;
    if (purposes.has(p.code)) problems.push(`${name}: registered twice`);
    const confidential = p.confidential ?? false;
    if (confidential && p.discloseAfter === undefined) problems.push(`${name}: a confidential purpose needs discloseAfter (e.g. "P1Y")`);
    if (!confidential && p.discloseAfter !== undefined) problems.push(`${name}: discloseAfter applies only to a confidential purpose`);
    purposes.set(p.code, Object.freeze({
      code: p.code,
      description: p.description,
      legalBasis: p.legalBasis,
      requiresConsent: p.requiresConsent ?? false,
      confidential,
      discloseAfter: p.discloseAfter ?? null,
    }));
  }
  return purposes;
}

function parseGrant(
  grant: z.output<typeof grantSchema>,
  where: string,
  index: number,
  classification: Classification,
  purposes: ReadonlyMap<string, Purpose>,
  problems: string[],
): Grant {
  const grantPurposes = grant.purposes === undefined ? null : new Set(grant.purposes);
  for (const code of grant.purposes ?? []) {
    if (!purposes.has(code)) problems.push(`${where}: unknown purpose ${JSON.stringify(code)}`);
  }
  const unlocks = (purposesOfField: readonly string[]): boolean => grantPurposes !== null && purposesOfField.some((p) => grantPurposes.has(p));
  const coordinates = new Set<string>();
  for (const entry of grant.fields) {
    const at = `${where} ${JSON.stringify(entry)}`;
    if (entry.includes('.')) {
      const field = classification.byCoordinate.get(entry);
      if (field === undefined || !classification.fieldsOf.has(field.typeName)) {
        problems.push(`${at}: unknown field coordinate`);
      } else if (OPEN_DEPARTMENTS.has(field.department)) {
        problems.push(`${at}: is hub metadata (${field.department}), open to every consumer; do not grant it`);
      } else if (field.class === 'NOT_SHARED') {
        problems.push(`${at}: is not shared (不予共享) and can never be granted`);
      } else if (field.class === 'CONDITIONAL' && !unlocks(field.purposes)) {
        problems.push(
          `${at}: is conditional (有条件共享) and ${grantPurposes === null ? 'the grant names no purpose' : 'none of the grant\'s purposes unlocks it'} (unlocked by ${field.purposes.join(', ')})`,
        );
      } else {
        coordinates.add(entry);
      }
      continue;
    }
    const fields = classification.fieldsOf.get(entry);
    if (fields === undefined) {
      problems.push(`${at}: unknown type`);
      continue;
    }
    let added = 0;
    for (const coordinate of fields) {
      const field = classification.byCoordinate.get(coordinate)!;
      if (OPEN_DEPARTMENTS.has(field.department) || field.class === 'NOT_SHARED') continue;
      // The access log's root fields are role-bound: granted only by their coordinate, never with all of Query.
      if (field.department === AUDIT_DEPARTMENT && field.typeName === 'Query') continue;
      if (field.class === 'CONDITIONAL' && !unlocks(field.purposes)) continue;
      coordinates.add(coordinate);
      added++;
    }
    if (added === 0) problems.push(`${at}: grants nothing (every field is not shared, or locked for the grant's purposes)`);
  }
  const masked = new Set<string>();
  for (const rule of grant.mask ?? []) {
    const at = `${where} mask ${JSON.stringify(rule)}`;
    if (SENSITIVITIES.includes(rule)) {
      for (const c of coordinates) if (classification.byCoordinate.get(c)?.sensitivity === (rule as Sensitivity)) masked.add(c);
      continue;
    }
    const field = classification.byCoordinate.get(rule);
    if (field === undefined) problems.push(`${at}: neither a sensitivity kind (${SENSITIVITIES.join(', ')}) nor a field coordinate`);
    else if (!coordinates.has(rule)) problems.push(`${at}: is not granted by this grant`);
    else if (field.sensitivity === null) problems.push(`${at}: has no sensitivity kind to mask by`);
    else masked.add(rule);
  }
  let validFrom = -Infinity;
  let validTo = Infinity;
  if (grant.validFrom !== undefined) {
    const ms = parseInstant(grant.validFrom, false);
    if (ms === undefined) problems.push(`${where} validFrom: ${JSON.stringify(grant.validFrom)} is not a date (YYYY-MM-DD) or a date-time with an offset`);
    else validFrom = ms;
  }
  if (grant.validTo !== undefined) {
    const ms = parseInstant(grant.validTo, true);
    if (ms === undefined) problems.push(`${where} validTo: ${JSON.stringify(grant.validTo)} is not a date (YYYY-MM-DD) or a date-time with an offset`);
    else validTo = ms;
  }
  if (validTo <= validFrom) problems.push(`${where}: validTo is not after validFrom`);
  return Object.freeze({ index, coordinates, purposes: grantPurposes, masked, validFrom, validTo });
}

/**
 * Validates a sharing policy against the classified schema and freezes it; throws a
 * PolicyConfigError listing every problem, each naming its entry (consumer, grant index, coordinate).
 */
export function parsePolicy(input: unknown, classification: Classification): Policy {
  const parsed = policySchema.safeParse(input);
  if (!parsed.success) {
    throw new PolicyConfigError(parsed.error.issues.map((issue) => `${entryName(issue.path, input)}: ${issue.message}`));
  }
  const problems: string[] = [];
  const purposes = parsePurposes(parsed.data.purposes, problems);
  for (const field of classification.byCoordinate.values()) {
    for (const code of field.purposes) {
      if (!purposes.has(code)) problems.push(`schema ${field.coordinate}: unlocked by unknown purpose ${JSON.stringify(code)}`);
    }
  }
  const consumers = new Map<string, ConsumerPolicy>();
  for (const c of parsed.data.consumers) {
    const who = `consumer ${JSON.stringify(c.id)}`;
    if (consumers.has(c.id)) problems.push(`${who}: registered twice`);
    const roles = new Set<Role>(c.roles);
    const grants = c.grants ?? [];
    if (grants.length > 0 && !roles.has('consumer') && !roles.has('auditor')) problems.push(`${who}: holds grants but lacks the "consumer" or "auditor" role`);
    if (roles.has('auditor') && roles.has('consumer')) problems.push(`${who}: an auditor may hold no department data, so it cannot also be a consumer`);
    if (roles.has('federation-peer') && !roles.has('consumer')) problems.push(`${who}: a "federation-peer" (another hub) asks for data as a consumer, so it needs the "consumer" role too`);
    if (roles.has('federation-peer') && (roles.has('consent-issuer') || roles.has('admin'))) problems.push(`${who}: a "federation-peer" (another hub) cannot also be a consent issuer or an administrator here`);
    const parsedGrants = grants.map((g, i) => parseGrant(g, `${who} grant[${i}]`, i, classification, purposes, problems));
    // Separation of roles (三员分立): auditors read the access log and nothing else; only auditors read it.
    parsedGrants.forEach((grant, i) => {
      for (const coordinate of grant.coordinates) {
        const department = classification.byCoordinate.get(coordinate)?.department;
        const where = `${who} grant[${i}] ${JSON.stringify(coordinate)}`;
        if (roles.has('auditor') && department !== AUDIT_DEPARTMENT && !coordinate.startsWith('PageInfo.')) problems.push(`${where}: an auditor reads the access log only, never department data`);
        if (coordinate === 'Query.accessLog' && !roles.has('auditor')) problems.push(`${where}: only a consumer with the "auditor" role may read the access log`);
        if (coordinate === 'Query.dataAccesses' && !roles.has('consent-issuer')) problems.push(`${where}: the citizen's view of the log is for a "consent-issuer" (the one-window hall)`);
      }
    });
    const limits = c.limits === undefined ? undefined : Object.freeze(Object.fromEntries(Object.entries(c.limits).filter(([, v]) => v !== undefined)) as QueryLimitOverrides);
    consumers.set(c.id, Object.freeze({ id: c.id, name: c.name, roles, grants: Object.freeze(parsedGrants), ...(limits ? { limits } : {}) }));
  }
  const consentIssuers = new Set([...consumers.values()].filter((c) => c.roles.has('consent-issuer')).map((c) => c.id));
  const needConsent = [...purposes.values()].filter((p) => p.requiresConsent);
  if (needConsent.length > 0 && consentIssuers.size === 0) {
    problems.push(`purpose ${JSON.stringify(needConsent[0]!.code)}: requires consent, but no consumer has the "consent-issuer" role`);
  }
  if (problems.length > 0) throw new PolicyConfigError(problems);
  const maxLifetime = parsed.data.consent?.maxLifetime;
  const consent = Object.freeze({ maxLifetimeSec: maxLifetime === undefined ? DEFAULT_CONSENT_MAX_LIFETIME_SEC : durationSeconds(maxLifetime)! });
  return Object.freeze({ purposes, consumers, consentIssuers, consent });
}

/** Reads a sharing policy file as JSON (validation happens in `createPolicyEngine`); names the file when it is not JSON. */
export function readPolicyFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyConfigError([`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PolicyConfigError([`${file}: is not JSON (${(error as Error).message})`]);
  }
}
