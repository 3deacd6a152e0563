/**
 * Standard Webhooks signing: v1 (HMAC, checked by the `standardwebhooks` package itself) and
 * v1a (Ed25519, checked with node:crypto and the published JWK), both in one header, and the
 * receiver's verifyWebhook refusing tampered bodies, stale timestamps, unknown kids.
 */
import crypto from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { createWebhookSigner, verifyWebhook, webhookPublicJwk, WebhookVerifyError } from '../../../src/push';

const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
const secret = `whsec_${crypto.randomBytes(24).toString('base64')}`;
const body = JSON.stringify({ type: 'ENTERPRISE_REGISTERED', subject: 'ENTERPRISE:91370000000000000X' });
const now = Math.floor(Date.now() / 1000);

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerifyError);
    expect((error as WebhookVerifyError).code).toBe('WEBHOOK_VERIFY_FAILED');
    return (error as WebhookVerifyError).reason;
  }
  throw new Error('expected a refusal');
}

describe('webhook signing', () => {
  const signer = createWebhookSigner({ privateKey, kid: 'hub-webhooks-1' }).withSecret(secret);
  const headers = signer.sign('evt_1', body, now);
  const jwks = { keys: [webhookPublicJwk(privateKey, 'hub-webhooks-1')] };

  it('puts v1 and v1a space-separated in one header, over id.timestamp.body', () => {
    expect(headers['webhook-id']).toBe('evt_1');
    expect(headers['webhook-timestamp']).toBe(String(now));
    const parts = headers['webhook-signature'].split(' ');
    expect(parts.map((p) => p.split(',')[0])).toEqual(['v1', 'v1a']);
    const v1a = Buffer.from(parts[1]!.slice(4), 'base64');
    expect(crypto.verify(null, Buffer.from(`evt_1.${now}.${body}`), publicKey, v1a)).toBe(true);
  });

  it('v1 verifies with the standardwebhooks package, which ignores the v1a signature', () => {
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow(/No matching signature/);
  });

  it('publishes an OKP/Ed25519 JWK that node:crypto imports to the same key', () => {
    const jwk = jwks.keys[0]!;
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: 'hub-webhooks-1', alg: 'EdDSA', use: 'sig' });
    expect(jwk).not.toHaveProperty('d');
    const imported = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    expect(imported.export({ format: 'der', type: 'spki' })).toEqual(publicKey.export({ format: 'der', type: 'spki' }));
    expect(webhookPublicJwk(publicKey, 'k')).toEqual({ ...jwk, kid: 'k' });
  });

  it('verifyWebhook accepts v1a with the JWKS and v1 with the secret', () => {
    expect(verifyWebhook(headers, body, { publicJwks: jwks, nowSeconds: now })).toEqual({ id: 'evt_1', timestamp: now, scheme: 'v1a', kid: 'hub-webhooks-1' });
    expect(verifyWebhook(headers, Buffer.from(body), { secret, nowSeconds: now })).toMatchObject({ scheme: 'v1' });
    // A receiver's framework may give the headers capitalized.
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyWebhook(upper, body, { publicJwks: jwks, nowSeconds: now }).scheme).toBe('v1a');
  });

  it('refuses a tampered body, id or timestamp', () => {
    expect(reason(() => verifyWebhook(headers, `${body}x`, { publicJwks: jwks, nowSeconds: now }))).toBe('BAD_SIGNATURE');
    expect(reason(() => verifyWebhook(headers, `${body}x`, { secret, nowSeconds: now }))).toBe('BAD_SIGNATURE');
    expect(reason(() => verifyWebhook({ ...headers, 'webhook-id': 'evt_2' }, body, { publicJwks: jwks, nowSeconds: now }))).toBe('BAD_SIGNATURE');
    expect(reason(() => verifyWebhook({ ...headers, 'webhook-timestamp': String(now + 1) }, body, { publicJwks: jwks, nowSeconds: now }))).toBe('BAD_SIGNATURE');
  });

  it('refuses a stale or future timestamp, before any signature check', () => {
    const old = signer.sign('evt_1', body, now - 301);
    expect(reason(() => verifyWebhook(old, body, { publicJwks: jwks, nowSeconds: now }))).toBe('STALE_TIMESTAMP');
    expect(reason(() => verifyWebhook(signer.sign('evt_1', body, now + 301), body, { secret, nowSeconds: now }))).toBe('STALE_TIMESTAMP');
    expect(verifyWebhook(old, body, { publicJwks: jwks, nowSeconds: now, toleranceSeconds: 600 }).scheme).toBe('v1a');
    expect(() => new Webhook(secret).verify(body, createWebhookSigner({ privateKey, kid: 'k', secret }).sign('evt_1', body, now - 400))).toThrow(/too old/);
    expect(reason(() => verifyWebhook({ ...headers, 'webhook-timestamp': 'yesterday' }, body, { secret, nowSeconds: now }))).toBe('BAD_TIMESTAMP');
  });

  it('refuses an unknown kid, a key from another JWKS, missing headers, no key', () => {
    expect(reason(() => verifyWebhook({ ...headers, 'webhook-key-id': 'other' }, body, { publicJwks: jwks, nowSeconds: now }))).toBe('UNKNOWN_KID');
    const other = crypto.generateKeyPairSync('ed25519').publicKey;
    expect(reason(() => verifyWebhook(headers, body, { publicJwks: { keys: [webhookPublicJwk(other, 'hub-webhooks-1')] }, nowSeconds: now }))).toBe('BAD_SIGNATURE');
    const { 'webhook-signature': _omitted, ...missing } = headers;
    expect(reason(() => verifyWebhook(missing, body, { publicJwks: jwks, nowSeconds: now }))).toBe('MISSING_HEADER');
    expect(reason(() => verifyWebhook(headers, body, {}))).toBe('NO_KEY');
    // Without a key-id header every key of the JWKS is tried.
    const { 'webhook-key-id': _kid, ...noKid } = headers;
    expect(verifyWebhook(noKid, body, { publicJwks: { keys: [webhookPublicJwk(other, 'a'), ...jwks.keys] }, nowSeconds: now }).kid).toBe('hub-webhooks-1');
  });

  it('refuses unusable keys, secrets and ids with PUSH_INPUT_INVALID', () => {
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(() => createWebhookSigner({ privateKey: ec, kid: 'k' })).toThrow(expect.objectContaining({ code: 'PUSH_INPUT_INVALID' }));
    expect(() => createWebhookSigner({ privateKey: publicKey, kid: 'k' })).toThrow(/private key/);
    expect(() => createWebhookSigner({ privateKey, kid: '' })).toThrow(/kid/);
    expect(() => createWebhookSigner({ privateKey, kid: 'k', secret: 'not-a-secret' })).toThrow(/whsec_/);
    expect(() => signer.sign('has space', body)).toThrow(/webhook id/);
  });
});
