import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InvalidKeyError, JwksUnavailableError } from './errors';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './jws';
import { KID_PATTERN, publicJwkSchema, jwkMatchesAlg, type KeyUse, type OwnerKind, type PublicJwk, type TrustList } from './trust';
import type { TrustedKey, TrustedKeys } from './trusted-keys';

/** Trust facts about a published key, carried in the non-standard `datarun` JWK member (ignored by other JOSE libraries). */
export interface PublishedKeyTrust {
  readonly owner: string;
  readonly ownerKind: OwnerKind;
  readonly use: KeyUse;
  readonly validFrom: string;
  readonly validTo: string | null;
  readonly revokedAt: string | null;
}

/** One key of the published JWKS: a public JWK with kid, pinned alg, `use: "sig"` and its trust facts. */
export type PublishedJwk = PublicJwk & { readonly kid: string; readonly alg: SigningAlgorithm; readonly use: 'sig'; readonly datarun: PublishedKeyTrust };

/** A JWK Set (RFC 7517 §5), as served at `GET /.well-known/jwks.json`. */
export interface Jwks {
  readonly keys: readonly PublishedJwk[];
}

/** The uses whose keys are published: what anyone may need to verify (consumers' request keys are not). */
const PUBLISHED_USES: ReadonlySet<KeyUse> = new Set(['seal', 'receipt', 'checkpoint']);

/** Builds the public JWKS from a trust list: seal, receipt and checkpoint keys that still verify something at `nowMs`. */
export function buildJwks(trust: TrustList, nowMs: number): Jwks {
  const kinds = new Map(trust.owners.map((o) => [o.id, o.kind]));
  const keys = trust.keys
    .filter((k) => PUBLISHED_USES.has(k.use) && (k.validTo === null || Date.parse(k.validTo) >= nowMs))
    .map(
      (k): PublishedJwk => ({
        ...k.jwk,
        kid: k.kid,
        alg: k.alg,
        use: 'sig',
        datarun: { owner: k.owner, ownerKind: kinds.get(k.owner)!, use: k.use, validFrom: k.validFrom, validTo: k.validTo, revokedAt: k.revokedAt },
      }),
    );
  return { keys };
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

const publishedSchema = z.object({
  kid: z.string().regex(KID_PATTERN),
  alg: z.enum(SIGNING_ALGORITHMS as [SigningAlgorithm, ...SigningAlgorithm[]]),
  use: z.literal('sig').optional(),
  datarun: z.object({
    owner: z.string().min(1),
    ownerKind: z.enum(['hub', 'department', 'consumer']),
    use: z.enum(['seal', 'receipt', 'checkpoint', 'request']),
    validFrom: z.iso.datetime(),
    validTo: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
  }),
});

const imported = new WeakMap<object, TrustedKeys>();

/**
 * Imports a JWKS once into KeyObjects to verify with. Keys of unknown type, or without the
 * `datarun` trust member, are skipped (they cannot vouch for a department or the hub); a JWKS
 * holding private key material is refused outright.
 */
export function importJwks(document: unknown): TrustedKeys {
  if (document !== null && typeof document === 'object') {
    const cached = imported.get(document);
    if (cached) return cached;
  }
  const list = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new InvalidKeyError('expected a JWKS with a "keys" array');
  const keys = new Map<string, TrustedKey>();
  // Keys left out, by kid (when the entry has a string kid), with the reason: a token signed with one is refused saying why.
  const skipped = new Map<string, string>();
  const skip = (raw: object, reason: string): void => {
    const kid = (raw as { kid?: unknown }).kid;
    if (typeof kid === 'string' && kid.length <= 200 && !keys.has(kid) && skipped.size < 1000) skipped.set(kid, reason);
  };
  for (const raw of list as unknown[]) {
    if (raw === null || typeof raw !== 'object') continue;
    if (PRIVATE_MEMBERS.some((m) => m in raw)) throw new InvalidKeyError('a JWKS must not hold private key material');
    const meta = publishedSchema.safeParse(raw);
    const { kty, crv, x, y } = raw as Record<string, unknown>;
    const jwk = publicJwkSchema.safeParse(kty === 'OKP' ? { kty, crv, x } : { kty, crv, x, y });
    if (!meta.success) {
      const issue = meta.error.issues[0]!;
      skip(raw, `its member ${issue.path.length > 0 ? issue.path.join('.') : '(the entry)'} is missing or not what a datarun key holds`);
      continue;
    }
    if (!jwk.success || !jwkMatchesAlg(jwk.data, meta.data.alg)) {
      skip(raw, `its kty, crv, x and y are not a public key for ${meta.data.alg}`);
      continue;
    }
    if (keys.has(meta.data.kid)) throw new InvalidKeyError(`duplicate kid in JWKS: ${meta.data.kid}`);
    let publicKey;
    try {
      publicKey = createPublicKey({ key: jwk.data, format: 'jwk' });
    } catch {
      skip(raw, 'its x and y are not a point on its curve');
      continue;
    }
    skipped.delete(meta.data.kid);
    const t = meta.data.datarun;
    keys.set(meta.data.kid, {
      kid: meta.data.kid,
      owner: t.owner,
      ownerKind: t.ownerKind,
      use: t.use,
      alg: meta.data.alg,
      validFrom: Date.parse(t.validFrom),
      validTo: t.validTo === null ? undefined : Date.parse(t.validTo),
      revokedAt: t.revokedAt === null ? undefined : Date.parse(t.revokedAt),
      publicKey,
    });
  }
  const trusted: TrustedKeys = { resolveKey: (kid) => keys.get(kid), skippedKey: (kid) => skipped.get(kid) };
  if (document !== null && typeof document === 'object') imported.set(document, trusted);
  return trusted;
}

/** Reads a JWKS from a file path or fetches it from an http(s) URL (10 s timeout). */
export async function loadJwks(source: string, options: { fetch?: typeof fetch; timeoutMs?: number } = {}): Promise<Jwks> {
  let text: string;
  if (/^https?:\/\//i.test(source)) {
    const doFetch = options.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(source, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new JwksUnavailableError(`cannot fetch JWKS from ${source}`, { cause: error });
    }
    if (!response.ok) throw new JwksUnavailableError(`cannot fetch JWKS from ${source}: HTTP ${response.status}`);
    text = await response.text();
  } else {
    try {
      text = await readFile(source, 'utf8');
    } catch (error) {
      throw new JwksUnavailableError(`cannot read JWKS file ${source}`, { cause: error });
    }
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new JwksUnavailableError(`${source} does not hold JSON`, { cause: error });
  }
  if (!Array.isArray((document as { keys?: unknown } | null)?.keys)) throw new JwksUnavailableError(`${source} does not hold a JWKS (no "keys" array)`);
  return document as Jwks;
}
