/**
 * Test support for the policy tests: the real schema from schema/ with stub resolvers that return
 * deterministic data and count their calls, the classification read independently of src/policy,
 * a demo engine, and consent tokens.
 */
import { generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { getDirective } from '@graphql-tools/utils';
import {
  getNullableType,
  isEnumType,
  isListType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLFieldResolver,
  type GraphQLOutputType,
  type GraphQLSchema,
  execute,
  parse,
  validate,
  type ExecutionResult,
} from 'graphql';
import { loadTypeDefs } from '../../../src/gateway/schema';
import { createPolicyEngine, DEMO_POLICY, type ConsentVerification, type PolicyEngine, type ResponsePath } from '../../../src/policy';

/** A fixed clock for the tests: 2026-03-01, inside the demo grants' validity. */
export const NOW = Date.parse('2026-03-01T08:00:00+08:00');

/** Raw values of the sensitive fields, distinct from every other stub value, so a leak is visible in the JSON of a reply. */
export const RAW: Readonly<Record<string, string>> = {
  'Person.idNumber': '371702199001011234',
  'Person.name': '王小明',
  'Taxpayer.name': '李大伟',
  'Property.address': '山东省菏泽市牡丹区中华路12号3单元201室',
};

/** The classification of one field as the SDL states it (read here without src/policy). */
export interface Sdl {
  readonly class: 'UNCONDITIONAL' | 'CONDITIONAL' | 'NOT_SHARED';
  readonly purposes: readonly string[];
  readonly sensitivity: string | null;
  readonly department: string;
}

/** Reads every object field's @share arguments straight from the schema. */
export function sdlClassification(schema: GraphQLSchema): Map<string, Sdl> {
  const out = new Map<string, Sdl>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const [args] = getDirective(schema, field, 'share') ?? [];
      if (!args) throw new Error(`${type.name}.${field.name} is unclassified`);
      out.set(`${type.name}.${field.name}`, {
        class: args['class'],
        purposes: args['purposes'] ?? [],
        sensitivity: args['sensitivity'] ?? null,
        department: args['department'],
      });
    }
  }
  return out;
}

function stubValue(type: GraphQLOutputType, coordinate: string, listIndex: number): unknown {
  const nullable = getNullableType(type);
  if (isListType(nullable)) return [0, 1].map((i) => stubValue(nullable.ofType, coordinate, i));
  if (isUnionType(nullable)) return { kind: listIndex % 2 === 0 ? 'Person' : 'Enterprise' };
  if (isObjectType(nullable)) return {};
  if (isEnumType(nullable)) return nullable.getValues()[0]!.value;
  if (isScalarType(nullable)) {
    const raw = RAW[coordinate];
    if (raw !== undefined) return raw;
    switch (nullable.name) {
      case 'Int':
        return 1;
      case 'Float':
        return 1.5;
      case 'Boolean':
        return true;
      default:
        return coordinate;
    }
  }
  return null;
}

/** The real schema from schema/ with stub resolvers on every field that record each call's coordinate. */
export function stubSchema(): { schema: GraphQLSchema; calls: string[] } {
  const typeDefs = loadTypeDefs();
  const bare = makeExecutableSchema({ typeDefs });
  const calls: string[] = [];
  const resolvers: Record<string, Record<string, GraphQLFieldResolver<unknown, unknown> | { __resolveType: unknown }>> = {};
  for (const type of Object.values(bare.getTypeMap())) {
    if (isUnionType(type)) resolvers[type.name] = { __resolveType: (o: { kind: string }) => o.kind } as never;
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const fields: Record<string, GraphQLFieldResolver<unknown, unknown>> = {};
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      fields[field.name] = (_parent, _args, _ctx, info) => {
        calls.push(coordinate);
        const index = typeof info.path.prev?.key === 'number' ? info.path.prev.key : 0;
        return stubValue(field.type, coordinate, index);
      };
    }
    resolvers[type.name] = fields;
  }
  return { schema: makeExecutableSchema({ typeDefs, resolvers: resolvers as never }), calls };
}

/**
 * A consent verifier for tests: tokens `consent:<issuer>:<subject>:<purpose>:<exp>[:<iat>[:once]]`
 * (`iat` defaults to NOW; `-` for none), or `bad` for a broken signature.
 */
export function fakeVerifier(token: string): ConsentVerification {
  const [tag, issuer, subject, purpose, exp, iat, once] = token.split(':');
  if (tag !== 'consent') return { valid: false, reason: 'signature verification failed' };
  return {
    valid: true,
    issuer,
    subject,
    purpose,
    exp: Number(exp),
    ...(iat === '-' ? {} : { iat: iat === undefined ? NOW / 1000 : Number(iat) }),
    jti: `jti-${subject}`,
    ...(once === 'once' ? { once: true } : {}),
  };
}

/**
 * A fake consent token the fake verifier accepts, signed by the citizen identity platform at NOW
 * and valid for a day (the default longest lifetime) unless told; `iat: null` leaves `iat` out.
 */
export function fakeConsent(subject: string, purpose: string, options: { issuer?: string; exp?: number; iat?: number | null; once?: boolean } = {}): string {
  const iat = options.iat === null ? '-' : String(options.iat ?? NOW / 1000);
  return `consent:${options.issuer ?? 'citizen-identity'}:${subject}:${purpose}:${options.exp ?? NOW / 1000 + 86_400}:${iat}${options.once ? ':once' : ''}`;
}

/** The demo engine over the stub schema, at NOW, with the fake consent verifier. */
export function demoEngine(schema: GraphQLSchema = stubSchema().schema): PolicyEngine {
  return createPolicyEngine({ schema, policy: DEMO_POLICY, verifyConsent: fakeVerifier, now: () => NOW });
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** An ES256 key pair of a consent issuer, made in the test. */
export function consentKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** Signs a consent token as a consent issuer (the citizen identity platform) does: compact JWS, ES256, typ datarun-consent+jwt. */
export function signConsent(
  privateKey: KeyObject,
  kid: string,
  claims: { iss: string; sub: string; purpose: string; exp: number; iat?: number; jti?: string; aud?: string; once?: boolean },
): string {
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'datarun-consent+jwt', kid }));
  const payload = b64url(JSON.stringify({ iat: claims.exp - 3600, jti: randomUUID(), ...claims }));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${b64url(signature)}`;
}

/**
 * A consent verifier over node:crypto with the shape the seal module's will have: the signature
 * must verify under the key its `kid` names in the trust list, and the key must belong to `iss`.
 */
export function jwsConsentVerifier(trust: ReadonlyMap<string, { owner: string; key: KeyObject }>): (token: string) => ConsentVerification {
  return (token) => {
    const parts = token.split('.');
    if (parts.length !== 3) return { valid: false, reason: 'malformed' };
    const [h, p, s] = parts as [string, string, string];
    let header: { alg?: string; typ?: string; kid?: string };
    let claims: { iss?: string; sub?: string; purpose?: string; iat?: number; exp?: number; jti?: string; aud?: string; once?: boolean };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      return { valid: false, reason: 'malformed' };
    }
    if (header.alg !== 'ES256' || header.typ !== 'datarun-consent+jwt') return { valid: false, reason: 'unexpected header' };
    const trusted = header.kid === undefined ? undefined : trust.get(header.kid);
    if (trusted === undefined) return { valid: false, reason: 'unknown key' };
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key: trusted.key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    if (!ok || trusted.owner !== claims.iss) return { valid: false, reason: 'signature verification failed' };
    return {
      valid: true,
      issuer: claims.iss,
      subject: claims.sub,
      purpose: claims.purpose,
      exp: claims.exp,
      ...(typeof claims.iat === 'number' ? { iat: claims.iat } : {}),
      ...(claims.jti ? { jti: claims.jti } : {}),
      ...(claims.aud ? { audience: claims.aud } : {}),
      ...(claims.once === true ? { once: true } : {}),
    };
  };
}

/** What the hub does with one request, in the order it will: check, then (only if allowed) execute and mask. */
export async function runAsHub(
  engine: PolicyEngine,
  request: Parameters<PolicyEngine['check']>[0] & { document: string },
): Promise<{ decision: Awaited<ReturnType<PolicyEngine['check']>>; result?: ExecutionResult; masked?: ResponsePath[] }> {
  const decision = await engine.check(request);
  if (!decision.allowed) return { decision };
  const document = parse(request.document);
  const errors = validate(decision.schema, document);
  if (errors.length > 0) return { decision, result: { errors } };
  // As the hub executes: against the decision's schema, which masks where values are resolved.
  const context = { decision, maskedPaths: [] as ResponsePath[] };
  const result = (await execute({
    schema: decision.schema,
    document,
    variableValues: request.variables ?? {},
    contextValue: context,
    ...(request.operationName ? { operationName: request.operationName } : {}),
  })) as ExecutionResult;
  return { decision, result: JSON.parse(JSON.stringify(result)) as ExecutionResult, masked: context.maskedPaths };
}
