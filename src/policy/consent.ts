import type { ConsentProblem, MissingConsent } from './errors';

/** JWS `typ` of a consent token. */
export const CONSENT_TOKEN_TYPE = 'datarun-consent+jwt';

/** The HTTP header that carries consent tokens: one or several compact JWS, comma-separated or repeated. */
export const CONSENT_HEADER = 'x-datarun-consent';

/** Most consent tokens one request may carry (each costs a signature check). */
export const MAX_CONSENT_TOKENS = 200;

/** Default longest lifetime (`exp - iat`) of a consent token the hub accepts: 24 hours, in seconds. */
export const DEFAULT_CONSENT_MAX_LIFETIME_SEC = 24 * 3600;

/**
 * How long past its `exp` a one-time consent's id is remembered: the hub refuses it after `exp`
 * anyway, the margin covers clocks of hub instances that disagree a little.
 */
export const CONSENT_MEMORY_MARGIN_MS = 5 * 60_000;

/**
 * What the injected verifier reports about one consent token: whether its signature and format
 * hold, and its claims. The engine itself checks issuer, subject, purpose, audience, expiry,
 * lifetime and one-time use.
 */
export interface ConsentVerification {
  /** Signature valid under a key of the trust list, `typ` and algorithm as expected. */
  readonly valid: boolean;
  /** `iss`: the consumer id that signed it (a consent issuer such as the citizen identity platform). */
  readonly issuer?: string;
  /** `sub`: the identifier of the person who consents. */
  readonly subject?: string;
  /** `purpose`: the purpose code consented to. */
  readonly purpose?: string;
  /** `iat`: when it was issued, seconds since the epoch; without it the consent never counts. */
  readonly iat?: number;
  /** `exp`: expiry, seconds since the epoch. */
  readonly exp?: number;
  /** `aud`: when present, the only consumer the consent is for. */
  readonly audience?: string;
  /** `jti`: the token's id, for the audit record, and the key a one-time consent is remembered by. */
  readonly jti?: string;
  /** `once: true`: the consent lets one request through, never a second. */
  readonly once?: boolean;
  /** Why it is not valid (never the token's content). */
  readonly reason?: string;
}

/**
 * Records the first use of a one-time consent (`issuer + "\u0000" + jti`) until `expiresAtMs`:
 * true when it was not used before. Injected (the hub gives the shared state's replay guard); a
 * rejection counts as "could not tell", and the consent then does not count (fail closed).
 */
export type ConsentMemory = (issuerAndJti: string, expiresAtMs: number) => Promise<boolean>;

/** Verifies a consent token's signature and reads its claims; injected (the seal module provides the real one). */
export type ConsentVerifier = (token: string) => ConsentVerification | Promise<ConsentVerification>;

/** A consent that let a person subject through, for the audit record. */
export interface ConsentUse {
  /** Where the subject is in the operation, e.g. `people.idNumbers[0]`. */
  readonly subject: string;
  readonly issuer: string;
  readonly jti: string | null;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
}

/** A consent token that the verifier refused, by its position in the request. */
export interface RejectedConsent {
  readonly index: number;
  readonly reason: string;
}

/** Splits the consent header into tokens: values may repeat and hold several comma-separated tokens. */
export function consentTokensFromHeader(value: string | readonly string[] | undefined | null): string[] {
  if (value === undefined || value === null) return [];
  const values = typeof value === 'string' ? [value] : value;
  return values.flatMap((v) => v.split(',')).map((t) => t.trim()).filter((t) => t.length > 0);
}

/** The outcome of checking consents for the person subjects of one request. */
export interface ConsentOutcome {
  readonly missing: MissingConsent[];
  readonly used: ConsentUse[];
  readonly rejected: RejectedConsent[];
  /**
   * Every person with a consent that counts in this request, named or not: a reusable one that
   * passes every rule, or a one-time one spent by this request. Persons reached through links are
   * shown only when in it.
   */
  readonly consented?: ReadonlySet<string>;
}

/** A consent that holds for one person subject, before a one-time one is spent. */
interface Candidate {
  readonly issuer: string;
  readonly jti: string | null;
  readonly exp: number;
  readonly once: boolean;
}

/**
 * Checks that every person subject has a consent for the purpose that counts: valid signature,
 * signed by a consent issuer that is not the consumer using it, for this subject, purpose and
 * consumer, unexpired, and issued for at most `maxLifetimeSec`. A one-time consent is spent
 * (`remember`) only when every subject has one that counts and `spend` is true (nothing else
 * refuses the request yet), so a refused request never uses up a citizen's consent.
 */
export async function checkConsents(options: {
  subjects: readonly { readonly id: string | null; readonly at: string }[];
  purpose: string;
  consumer: string;
  tokens: readonly string[];
  verifier: ConsentVerifier | undefined;
  issuers: ReadonlySet<string>;
  nowMs: number;
  /** Longest `exp - iat` accepted, in seconds. @default DEFAULT_CONSENT_MAX_LIFETIME_SEC */
  maxLifetimeSec?: number;
  /** Remembers one-time consents; without it a one-time consent never counts. */
  remember?: ConsentMemory | undefined;
  /** Spend one-time consents (false: the request is refused anyway, only report). @default true */
  spend?: boolean;
}): Promise<ConsentOutcome> {
  const { subjects, purpose, consumer, tokens, verifier, issuers, nowMs, remember } = options;
  const maxLifetimeSec = options.maxLifetimeSec ?? DEFAULT_CONSENT_MAX_LIFETIME_SEC;
  const rejected: RejectedConsent[] = [];
  let verified: ConsentVerification[] = [];
  if (verifier !== undefined && tokens.length > 0) {
    verified = await Promise.all(
      tokens.map(async (token, index) => {
        try {
          const v = await verifier(token);
          if (!v.valid) rejected.push({ index, reason: v.reason ?? 'invalid' });
          return v;
        } catch {
          rejected.push({ index, reason: 'verification failed' });
          return { valid: false };
        }
      }),
    );
  }
  const missing: MissingConsent[] = [];
  // Per subject, the consents that count, or why none does: the furthest check any consent passed names the problem.
  const found: { at: string; candidates: Candidate[] }[] = [];
  for (const s of subjects) {
    const matching = verified.filter(
      (v) => v.valid && s.id !== null && v.subject === s.id && v.purpose === purpose && (v.audience === undefined || v.audience === consumer),
    );
    const trusted = matching.filter((v) => v.issuer !== undefined && issuers.has(v.issuer));
    // A consumer cannot vouch for the consent that lets itself read a person's data.
    const independent = trusted.filter((v) => v.issuer !== consumer);
    const live = independent.filter((v) => typeof v.exp === 'number' && v.exp * 1000 > nowMs);
    const bounded = live.filter((v) => typeof v.iat === 'number' && v.exp! - v.iat <= maxLifetimeSec);
    const candidates = bounded
      .filter((v) => v.once !== true || typeof v.jti === 'string')
      .map((v) => ({ issuer: v.issuer!, jti: v.jti ?? null, exp: v.exp!, once: v.once === true }));
    if (candidates.length > 0) {
      found.push({ at: s.at, candidates });
      continue;
    }
    const reason: ConsentProblem =
      bounded.length > 0 ? 'use-unconfirmed' // one-time, but without a jti to remember it by
      : live.length > 0 ? 'lifetime-too-long'
      : independent.length > 0 ? 'expired'
      : trusted.length > 0 ? 'self-issued'
      : matching.length > 0 ? 'untrusted-issuer'
      : 'absent';
    missing.push({ subject: s.at, purpose, reason });
  }
  // Persons not named in the operation whose consent counts as it is (reusable, every rule passed).
  const consented = new Set<string>();
  for (const v of verified) {
    if (!v.valid || typeof v.subject !== 'string' || v.purpose !== purpose || (v.audience !== undefined && v.audience !== consumer)) continue;
    if (v.issuer === undefined || !issuers.has(v.issuer) || v.issuer === consumer) continue;
    if (typeof v.exp !== 'number' || v.exp * 1000 <= nowMs || typeof v.iat !== 'number' || v.exp - v.iat > maxLifetimeSec) continue;
    if (v.once !== true) consented.add(v.subject);
  }
  const idAt = new Map(subjects.map((s) => [s.at, s.id]));
  const used: ConsentUse[] = [];
  if (missing.length > 0 || options.spend === false) {
    // Refused anyway, or only reported: nothing is spent.
    for (const { at, candidates } of found) {
      const c = candidates.find((x) => !x.once) ?? candidates[0]!;
      used.push({ subject: at, issuer: c.issuer, jti: c.jti, exp: c.exp });
    }
    return { missing, used, rejected, consented };
  }
  // One-time consents are spent only now that every subject has one that counts; a reusable one is preferred.
  const spent = new Map<string, Promise<'first' | 'used' | 'unconfirmed'>>();
  const spend = (c: Candidate): Promise<'first' | 'used' | 'unconfirmed'> => {
    const key = `${c.issuer}\u0000${c.jti!}`;
    let outcome = spent.get(key);
    if (outcome === undefined) {
      outcome = remember === undefined
        ? Promise.resolve('unconfirmed' as const)
        : remember(key, c.exp * 1000 + CONSENT_MEMORY_MARGIN_MS).then((first) => (first === true ? 'first' : 'used') as 'first' | 'used', () => 'unconfirmed' as const);
      spent.set(key, outcome);
    }
    // One use is one request: the same person named twice in it needs the consent once.
    return outcome;
  };
  for (const { at, candidates } of found) {
    const reusable = candidates.find((c) => !c.once);
    if (reusable !== undefined) {
      used.push({ subject: at, issuer: reusable.issuer, jti: reusable.jti, exp: reusable.exp });
      continue;
    }
    let problem: ConsentProblem = 'used';
    let counted: Candidate | undefined;
    for (const c of candidates) {
      const outcome = await spend(c);
      if (outcome === 'first') {
        counted = c;
        break;
      }
      if (outcome === 'unconfirmed') problem = 'use-unconfirmed';
    }
    if (counted !== undefined) used.push({ subject: at, issuer: counted.issuer, jti: counted.jti, exp: counted.exp });
    else missing.push({ subject: at, purpose, reason: problem });
  }
  // A named person whose consent counted (a spent one-time one included) may appear again through a link.
  for (const u of used) {
    const id = idAt.get(u.subject);
    if (typeof id === 'string') consented.add(id);
  }
  return { missing, used, rejected, consented };
}
