/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/): the headers `webhook-id`,
 * `webhook-timestamp` and `webhook-signature` over the signed content `${id}.${timestamp}.${body}`.
 * The hub signs with its Ed25519 key (`v1a,<base64 signature>`, the key published in its JWKS as
 * an OKP JWK with a `kid`, named to receivers in `webhook-key-id`) and, when a subscriber has a
 * `whsec_` secret, also with HMAC-SHA256 (`v1,<base64>`, computed by the `standardwebhooks`
 * package); both signatures go space-separated into one header. `verifyWebhook` is the receiver's
 * side, for our documentation and tests.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { PushInputError, WebhookVerifyError } from './errors';

/** The headers of one signed webhook request. */
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
  /** The `kid` of the hub key that made the `v1a` signature (a hint: receivers may try every key of the JWKS). */
  'webhook-key-id': string;
};

/** Signs webhook messages. */
export interface WebhookSigner {
  /** The `kid` of the signing key. */
  readonly kid: string;
  /** The headers for message `id` with `body`, at `timestampSeconds` (default now). */
  sign(id: string, body: string, timestampSeconds?: number): WebhookHeaders;
  /** The same signer, adding a `v1` HMAC signature with the subscriber's `whsec_` secret. */
  withSecret(secret: string): WebhookSigner;
}

/** Options of `createWebhookSigner`. */
export interface WebhookSignerOptions {
  /** The hub's Ed25519 private key. */
  privateKey: KeyObject;
  /** Its key id, as the JWKS publishes it. */
  kid: string;
  /** A subscriber's `whsec_<base64>` secret: adds a `v1` signature. */
  secret?: string;
}

/** The public JWK of an Ed25519 key (private or public given), as the hub's JWKS publishes it. */
export type WebhookPublicJwk = {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
};

const ID = /^[\x21-\x7e]{1,256}$/;
const SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

function checkEd25519(key: KeyObject, what: string): void {
  if (!key || typeof key !== 'object' || key.asymmetricKeyType !== 'ed25519') throw new PushInputError(`${what} must be an Ed25519 KeyObject.`);
}

function checkSecret(secret: string): Webhook {
  if (typeof secret !== 'string' || !SECRET.test(secret) || Buffer.from(secret.slice(6), 'base64').length < 16) {
    throw new PushInputError('A webhook secret must be "whsec_" followed by at least 16 bytes in base64.');
  }
  return new Webhook(secret);
}

/** The content both signatures cover. */
function signedContent(id: string, timestamp: number, body: string): Buffer {
  return Buffer.from(`${id}.${timestamp}.${body}`, 'utf8');
}

/** A signer with the hub's key and, optionally, a subscriber's secret. */
export function createWebhookSigner(options: WebhookSignerOptions): WebhookSigner {
  checkEd25519(options.privateKey, 'The webhook signing key');
  if (options.privateKey.type !== 'private') throw new PushInputError('The webhook signing key must be a private key.');
  if (typeof options.kid !== 'string' || options.kid.length === 0) throw new PushInputError('The webhook signing key needs a non-empty kid.');
  const hmac = options.secret === undefined ? undefined : checkSecret(options.secret);
  return {
    kid: options.kid,
    sign(id, body, timestampSeconds = Math.floor(Date.now() / 1000)) {
      if (typeof id !== 'string' || !ID.test(id)) throw new PushInputError('A webhook id must be 1 to 256 printable ASCII characters without spaces.');
      if (typeof body !== 'string') throw new PushInputError('A webhook body must be a string.');
      if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new PushInputError('A webhook timestamp must be whole seconds since the epoch.');
      const v1a = `v1a,${crypto.sign(null, signedContent(id, timestampSeconds, body), options.privateKey).toString('base64')}`;
      const signatures = hmac ? `${hmac.sign(id, new Date(timestampSeconds * 1000), body)} ${v1a}` : v1a;
      return { 'webhook-id': id, 'webhook-timestamp': String(timestampSeconds), 'webhook-signature': signatures, 'webhook-key-id': options.kid };
    },
    withSecret: (secret) => createWebhookSigner({ ...options, secret }),
  };
}

/** The public JWK (OKP, Ed25519) of the key, with `kid`, for the hub's JWKS. */
export function webhookPublicJwk(key: KeyObject, kid: string): WebhookPublicJwk {
  checkEd25519(key, 'The webhook key');
  if (typeof kid !== 'string' || kid.length === 0) throw new PushInputError('The webhook key needs a non-empty kid.');
  const publicKey = key.type === 'private' ? crypto.createPublicKey(key) : key;
  const jwk = publicKey.export({ format: 'jwk' }) as { x: string };
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' };
}

/** Options of `verifyWebhook`: the hub's JWKS (for `v1a`) or the subscriber's secret (for `v1`), or both. */
export interface VerifyWebhookOptions {
  publicJwks?: { keys: readonly Record<string, unknown>[] };
  secret?: string;
  /** How far the timestamp may be from now, either way. @default 300 */
  toleranceSeconds?: number;
  /** Now, in seconds (tests). */
  nowSeconds?: number;
}

/** What verified. */
export interface VerifiedWebhook {
  readonly id: string;
  readonly timestamp: number;
  /** `v1a` (with the kid of the key) or `v1`. */
  readonly scheme: 'v1a' | 'v1';
  readonly kid?: string;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}

function importJwk(jwk: Record<string, unknown>): KeyObject | undefined {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') return undefined;
  try {
    return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/**
 * Verifies a received webhook: its three headers, a timestamp within `toleranceSeconds` of now,
 * and one signature that verifies: `v1a` with a key of `publicJwks` (the one `webhook-key-id`
 * names when it names one; an unknown kid is refused), or `v1` with `secret`. Throws a
 * WebhookVerifyError saying which check failed.
 */
export function verifyWebhook(headers: Record<string, string | string[] | undefined>, body: string | Buffer, options: VerifyWebhookOptions): VerifiedWebhook {
  if (!options.publicJwks && options.secret === undefined) throw new WebhookVerifyError('NO_KEY', 'Verifying a webhook needs the hub\'s JWKS or the subscriber\'s secret.');
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !ts || !signatures) throw new WebhookVerifyError('MISSING_HEADER', 'The webhook lacks webhook-id, webhook-timestamp or webhook-signature.');
  if (!/^\d{1,15}$/.test(ts)) throw new WebhookVerifyError('BAD_TIMESTAMP', 'The webhook-timestamp is not whole seconds since the epoch.');
  const timestamp = Number(ts);
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now - timestamp) > tolerance) throw new WebhookVerifyError('STALE_TIMESTAMP', `The webhook-timestamp is more than ${tolerance} s from now.`);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const content = signedContent(id, timestamp, text);
  const offered = signatures.split(' ').filter(Boolean).map((s) => {
    const comma = s.indexOf(',');
    return comma < 0 ? { version: s, value: '' } : { version: s.slice(0, comma), value: s.slice(comma + 1) };
  });

  if (options.publicJwks) {
    const kid = header(headers, 'webhook-key-id');
    let keys = options.publicJwks.keys;
    if (kid !== undefined) {
      keys = keys.filter((k) => k.kid === kid);
      if (keys.length === 0 && options.secret === undefined) throw new WebhookVerifyError('UNKNOWN_KID', `The webhook is signed with key ${JSON.stringify(kid.slice(0, 64))}, which the JWKS does not hold.`);
    }
    for (const jwk of keys) {
      const key = importJwk(jwk);
      if (!key) continue;
      for (const s of offered) {
        if (s.version !== 'v1a') continue;
        const sig = Buffer.from(s.value, 'base64');
        if (sig.length === 64 && crypto.verify(null, content, key, sig)) return { id, timestamp, scheme: 'v1a', ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}) };
      }
    }
  }
  if (options.secret !== undefined) {
    let expected: Buffer;
    try {
      expected = Buffer.from(checkSecret(options.secret).sign(id, new Date(timestamp * 1000), text).slice(3), 'base64');
    } catch (error) {
      throw new WebhookVerifyError('NO_KEY', (error as Error).message);
    }
    for (const s of offered) {
      if (s.version !== 'v1') continue;
      const sig = Buffer.from(s.value, 'base64');
      if (sig.length === expected.length && crypto.timingSafeEqual(sig, expected)) return { id, timestamp, scheme: 'v1' };
    }
  }
  throw new WebhookVerifyError('BAD_SIGNATURE', 'No signature of the webhook verifies with the given keys.');
}
