import type { ConsentProblem, MissingConsent } from './errors';

/** JWS `typ` of a consent token. */
export const CONSENT_TOKEN_TYPE = 'datarun-consent+jwt';

/** The HTTP header that carries consent tokens: one or several compact JWS, comma-separated or repeated. */
export const CONSENT_HEADER = 'x-datarun-consent';

/** Most consent tokens one request may carry (each costs a signature check). */
export const MAX_CONSENT_TOKENS = 200;

/**
 * What the injected verifier reports about one consent token: whether its signature and format
 * hold, and its claims. The engine itself checks issuer, subject, purpose, audience and expiry.
 */
export interface ConsentVerification {
  /** Signature valid under a key of the trust list, `typ` and algorithm as expected. */
  readonly valid: boolean;
  /** `iss`: the consumer id that signed it (the one-window hall). */
  readonly issuer?: string;
  /** `sub`: the identifier of the person who consents. */
  readonly subject?: string;
  /** `purpose`: the purpose code consented to. */
  readonly purpose?: string;
  /** `exp`: expiry, seconds since the epoch. */
  readonly exp?: number;
  /** `aud`: when present, the only consumer the consent is for. */
  readonly audience?: string;
  /** `jti`: the token's id, for the audit record. */
  readonly jti?: string;
  /** Why it is not valid (never the token's content). */
  readonly reason?: string;
}

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
}

/** Checks that every person subject has a valid, unexpired consent for the purpose, signed by a consent issuer. */
export async function checkConsents(options: {
  subjects: readonly { readonly id: string | null; readonly at: string }[];
  purpose: string;
  consumer: string;
  tokens: readonly string[];
  verifier: ConsentVerifier | undefined;
  issuers: ReadonlySet<string>;
  nowMs: number;
}): Promise<ConsentOutcome> {
  const { subjects, purpose, consumer, tokens, verifier, issuers, nowMs } = options;
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
  const used: ConsentUse[] = [];
  for (const s of subjects) {
    const matching = verified.filter(
      (v) => v.valid && s.id !== null && v.subject === s.id && v.purpose === purpose && (v.audience === undefined || v.audience === consumer),
    );
    const trusted = matching.filter((v) => v.issuer !== undefined && issuers.has(v.issuer));
    const live = trusted.find((v) => typeof v.exp === 'number' && v.exp * 1000 > nowMs);
    if (live !== undefined) {
      used.push({ subject: s.at, issuer: live.issuer!, jti: live.jti ?? null, exp: live.exp! });
      continue;
    }
    const reason: ConsentProblem = trusted.length > 0 ? 'expired' : matching.length > 0 ? 'untrusted-issuer' : 'absent';
    missing.push({ subject: s.at, purpose, reason });
  }
  return { missing, used, rejected };
}
