import { z } from 'zod';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './jws';

/** Who holds a key: the hub itself, a department (its seal key) or a consumer (a department system that queries). */
export type OwnerKind = 'hub' | 'department' | 'consumer';

/** What a key signs: record seals, reply receipts, audit checkpoints, or consumers' requests. */
export type KeyUse = 'seal' | 'receipt' | 'checkpoint' | 'request';

/** The key uses each kind of owner has, one signing key per use at any time. */
export const KEY_USES_BY_KIND: Readonly<Record<OwnerKind, readonly KeyUse[]>> = {
  hub: ['receipt', 'checkpoint'],
  department: ['seal'],
  consumer: ['request'],
};

/** The hub's id: the `iss` of receipts and checkpoints, the `aud` of signed requests. */
export const DEFAULT_HUB_ID = 'datarun-hub';

/**
 * How long a rotated-out key keeps verifying, per use, in days. Seals and receipts are kept by
 * the departments that received them, so their keys verify for years; a consumer gets a week
 * to move its systems to a new request key.
 */
export const DEFAULT_KEY_RETENTION_DAYS: Readonly<Record<KeyUse, number>> = { seal: 3650, receipt: 3650, checkpoint: 3650, request: 7 };

/** One party in the trust list. */
export interface OwnerEntry {
  /** Kebab-case id: `one-window-hall`, `datarun-hub`. */
  readonly id: string;
  readonly kind: OwnerKind;
  /** Human name, with the Chinese name where there is one. */
  readonly name: string;
  /** Consumer roles: `consumer`, `consent-issuer`, `auditor`… (empty for hub and departments). */
  readonly roles: readonly string[];
  /** The hub holds this owner's private keys (always for the hub; departments whose seal key is in custody; sandbox consumers). */
  readonly custody: boolean;
  /** A demo/sandbox owner: a missing private key is regenerated at start-up instead of failing it. */
  readonly sandbox: boolean;
  /** Algorithm of new keys for this owner. @default 'ES256' */
  readonly alg: SigningAlgorithm;
}

/** An owner as declared to `initKeys`; omitted members take their defaults. */
export interface OwnerSpec {
  readonly id: string;
  readonly kind: OwnerKind;
  readonly name: string;
  readonly roles?: readonly string[];
  readonly custody?: boolean;
  readonly sandbox?: boolean;
  readonly alg?: SigningAlgorithm;
}

/** A public JWK as stored in the trust list: key members only, never `d`. */
export type PublicJwk = { readonly kty: 'EC'; readonly crv: 'P-256' | 'P-384'; readonly x: string; readonly y: string } | { readonly kty: 'OKP'; readonly crv: 'Ed25519'; readonly x: string };

/** One key in the trust list: whose it is, what it signs, its pinned algorithm and when it is valid. */
export interface TrustListKey {
  readonly kid: string;
  readonly owner: string;
  readonly use: KeyUse;
  readonly alg: SigningAlgorithm;
  /** ISO 8601: created. */
  readonly validFrom: string;
  /** ISO 8601: verifies nothing after this time (set when the key is rotated out); null = open. */
  readonly validTo: string | null;
  /** ISO 8601: verifies nothing signed at or after this time; null = not revoked. */
  readonly revokedAt: string | null;
  readonly jwk: PublicJwk;
}

/** The trust list (`keys/trust.json`): every party and every public key the hub trusts. */
export interface TrustList {
  readonly format: 'datarun-trust-list/1';
  readonly hub: string;
  readonly owners: readonly OwnerEntry[];
  readonly keys: readonly TrustListKey[];
}

/**
 * The demo parties of a fresh clone: the hub, the consumers and the citizens' consent issuer. The
 * departments are not listed here: each connector the hub runs registers its own department (on
 * a sandbox at start-up, a real one with `datarun keys init`).
 */
export const DEMO_OWNERS: readonly OwnerSpec[] = [
  { id: DEFAULT_HUB_ID, kind: 'hub', name: 'datarun hub 数据共享枢纽', custody: true, sandbox: true },
  { id: 'one-window-hall', kind: 'consumer', name: 'One-window hall 一窗受理', roles: ['consumer', 'consent-issuer'], custody: true, sandbox: true },
  { id: 'real-estate-centre', kind: 'consumer', name: 'Real-estate registration centre 不动产登记中心', roles: ['consumer'], custody: true, sandbox: true },
  { id: 'tax-bureau', kind: 'consumer', name: 'Tax bureau 税务局', roles: ['consumer'], custody: true, sandbox: true },
  { id: 'civil-affairs', kind: 'consumer', name: 'Civil affairs bureau 民政局', roles: ['consumer'], custody: true, sandbox: true },
  { id: 'social-security-bureau', kind: 'consumer', name: 'Human resources and social security bureau 人力资源和社会保障局', roles: ['consumer'], custody: true, sandbox: true },
  { id: 'market-regulation-bureau', kind: 'consumer', name: 'Market regulation bureau 市场监督管理局', roles: ['consumer'], custody: true, sandbox: true },
  // Another city's hub (跨域通办): asks on behalf of its own consumers, named in each request's obo claim (docs/federation.md).
  { id: 'taian-hub', kind: 'consumer', name: "Tai'an hub 泰安市数据共享枢纽", roles: ['consumer', 'federation-peer'], custody: true, sandbox: true },
  // Electronic supervision 电子监察: lists the overdue steps of pushed cases; reads no department data.
  { id: 'supervision-office', kind: 'consumer', name: 'Government service supervision office 政务服务电子监察', roles: ['consumer'], custody: true, sandbox: true },
  { id: 'auditor', kind: 'consumer', name: 'Audit office 审计', roles: ['auditor'], custody: true, sandbox: true },
  { id: 'hub-admin', kind: 'consumer', name: 'Hub operator 枢纽运维', roles: ['admin'], custody: true, sandbox: true },
  // Signs citizens' consent tokens after it has identified the citizen; it reads no data itself.
  { id: 'citizen-identity', kind: 'consumer', name: 'Citizen identity platform 公民身份认证平台', roles: ['consent-issuer'], custody: true, sandbox: true },
];

const ownerId = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'expected a kebab-case id');
/** Key ids name private key files, so they are restricted to file-name-safe characters. */
export const KID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const algSchema = z.enum(SIGNING_ALGORITHMS as [SigningAlgorithm, ...SigningAlgorithm[]]);
const b64u = z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected base64url');

/** Zod schema of a public JWK: strict, so a private member (`d`) makes it invalid. */
export const publicJwkSchema = z.union([
  z.strictObject({ kty: z.literal('EC'), crv: z.enum(['P-256', 'P-384']), x: b64u, y: b64u }),
  z.strictObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: b64u }),
]);

const ownerSchema = z.strictObject({
  id: ownerId,
  kind: z.enum(['hub', 'department', 'consumer']),
  name: z.string().min(1),
  roles: z.array(z.string().min(1)).default([]),
  custody: z.boolean(),
  sandbox: z.boolean().default(false),
  alg: algSchema.default('ES256'),
});

const keySchema = z.strictObject({
  kid: z.string().regex(KID_PATTERN, 'expected a file-name-safe key id'),
  owner: ownerId,
  use: z.enum(['seal', 'receipt', 'checkpoint', 'request']),
  alg: algSchema,
  validFrom: z.iso.datetime(),
  validTo: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
  jwk: publicJwkSchema,
});

/** Zod schema of `keys/trust.json`. */
export const trustListSchema = z
  .strictObject({
    format: z.literal('datarun-trust-list/1'),
    hub: ownerId,
    owners: z.array(ownerSchema),
    keys: z.array(keySchema),
  })
  .superRefine((list, ctx) => {
    const owners = new Map(list.owners.map((o) => [o.id, o]));
    if (owners.size !== list.owners.length) ctx.addIssue({ code: 'custom', message: 'owner ids must be unique', path: ['owners'] });
    if (owners.get(list.hub)?.kind !== 'hub') ctx.addIssue({ code: 'custom', message: `hub "${list.hub}" must be an owner of kind hub`, path: ['hub'] });
    const kids = new Set<string>();
    list.keys.forEach((key, i) => {
      if (kids.has(key.kid)) ctx.addIssue({ code: 'custom', message: `duplicate kid ${key.kid}`, path: ['keys', i, 'kid'] });
      kids.add(key.kid);
      const owner = owners.get(key.owner);
      if (!owner) ctx.addIssue({ code: 'custom', message: `unknown owner ${key.owner}`, path: ['keys', i, 'owner'] });
      else if (!KEY_USES_BY_KIND[owner.kind].includes(key.use)) ctx.addIssue({ code: 'custom', message: `a ${owner.kind} key cannot have use ${key.use}`, path: ['keys', i, 'use'] });
      if (!jwkMatchesAlg(key.jwk, key.alg)) ctx.addIssue({ code: 'custom', message: `jwk does not fit alg ${key.alg}`, path: ['keys', i, 'jwk'] });
    });
  });

/** True when a public JWK is of the key type and curve that the algorithm needs. */
export function jwkMatchesAlg(jwk: PublicJwk, alg: SigningAlgorithm): boolean {
  if (alg === 'EdDSA') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return jwk.kty === 'EC' && jwk.crv === (alg === 'ES256' ? 'P-256' : 'P-384');
}

/** Fills in an owner's defaults. */
export function ownerFromSpec(spec: OwnerSpec): OwnerEntry {
  return ownerSchema.parse({ roles: [], custody: spec.kind !== 'consumer', sandbox: false, alg: 'ES256', ...spec }) as OwnerEntry;
}
