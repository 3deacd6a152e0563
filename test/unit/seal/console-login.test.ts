import { createMemoryReplayGuard } from '../../../src/state';
import {
  CONSOLE_LOGIN_TOKEN_TYPE,
  createConsoleLoginVerifier,
  createKeyStore,
  createRequestSigner,
  signConsoleLogin,
  UnauthenticatedError,
  type ConsoleLoginVerifier,
  type KeyStore,
  type PrivateJwk,
} from '../../../src/seal';
import { craftJws, decodeSegment, privateJwkOf, removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const NOW = Date.parse('2026-12-01T03:00:00Z');
const KEYS_MADE = new Date(NOW - 86_400_000);

let store: KeyStore;
let auditorKey: PrivateJwk;
let verifier: ConsoleLoginVerifier;

beforeAll(async () => {
  store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: KEYS_MADE });
  auditorKey = privateJwkOf(store, 'auditor');
  verifier = createConsoleLoginVerifier({ keyStore: store, replayGuard: createMemoryReplayGuard({ now: () => NOW }), clockSkewSec: 60 });
});
afterAll(removeTempDirs);

const sign = (overrides: Partial<Parameters<typeof signConsoleLogin>[0]> = {}): string =>
  signConsoleLogin({ consumerId: 'auditor', privateJwk: auditorKey, operator: '审计员-赵强', caseNumber: 'SJ-2026-0012', now: NOW, ...overrides });

async function refusal(token: string | undefined, now = NOW): Promise<UnauthenticatedError> {
  const error = await verifier.verify(token, now).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UnauthenticatedError)) throw new Error(`expected an UnauthenticatedError, got ${String(error)}`);
  return error;
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = NOW / 1000;
  return { iss: 'auditor', aud: 'datarun-hub', iat, exp: iat + 60, jti: `jti-${Math.random().toString(36).slice(2)}`, operator: '审计员-赵强', ...overrides };
}

describe('console sign-in tokens', () => {
  it('carry their own typ, a short lifetime, a one-time id, the operator and the case; the hub accepts one once', async () => {
    const token = sign();
    const header = decodeSegment(token.split('.')[0]!);
    const payload = decodeSegment(token.split('.')[1]!);
    expect(header).toMatchObject({ typ: CONSOLE_LOGIN_TOKEN_TYPE, alg: 'ES256', kid: auditorKey.kid });
    expect(payload).toMatchObject({ iss: 'auditor', aud: 'datarun-hub', operator: '审计员-赵强', case: 'SJ-2026-0012' });
    expect((payload.exp as number) - (payload.iat as number)).toBe(60);
    expect(payload).not.toHaveProperty('bh');

    const verified = await verifier.verify(token, NOW);
    expect(verified).toMatchObject({ consumer: 'auditor', roles: ['auditor'], keyId: auditorKey.kid, claims: { operator: '审计员-赵强', case: 'SJ-2026-0012' } });
    expect((await refusal(token)).reason).toBe('REPLAYED');
  });

  it('are refused when expired, too long-lived, not yet valid, for another hub, or missing', async () => {
    expect((await refusal(sign(), NOW + 121_000)).reason).toBe('EXPIRED');
    expect(() => sign({ lifetimeSec: 121 })).toThrow(/lifetime/);
    expect((await refusal(craftJws({ alg: 'ES256', kid: auditorKey.kid, typ: CONSOLE_LOGIN_TOKEN_TYPE }, claims({ exp: NOW / 1000 + 600 }), auditorKey))).reason).toBe('LIFETIME_TOO_LONG');
    expect((await refusal(craftJws({ alg: 'ES256', kid: auditorKey.kid, typ: CONSOLE_LOGIN_TOKEN_TYPE }, claims({ nbf: NOW / 1000 + 600 }), auditorKey))).reason).toBe('NOT_YET_VALID');
    expect((await refusal(sign({ audience: 'another-hub' }))).reason).toBe('WRONG_AUDIENCE');
    expect((await refusal(undefined)).reason).toBe('MISSING');
    expect((await refusal('not.a-token')).reason).toBe('MALFORMED');
    expect((await refusal(craftJws({ alg: 'ES256', kid: auditorKey.kid, typ: CONSOLE_LOGIN_TOKEN_TYPE }, claims({ operator: undefined }), auditorKey))).reason).toBe('MISSING_CLAIM');
  });

  it('are never a signed request token, nor the other way round', async () => {
    const request = createRequestSigner({ consumerId: 'auditor', privateJwk: auditorKey }).sign('{}', { purpose: 'AUDIT', caseNumber: 'SJ-1', operator: 'x' }, NOW);
    expect((await refusal(request)).reason).toBe('MALFORMED');
  });

  it('need the consumer\'s own registered request key', async () => {
    // Another consumer's key, claiming to be the auditor.
    const hallKey = privateJwkOf(store, 'one-window-hall');
    expect((await refusal(signConsoleLogin({ consumerId: 'auditor', privateJwk: hallKey, operator: 'x', now: NOW }))).reason).toBe('UNKNOWN_KEY');
    // A key the hub never registered under that kid.
    const { generateKeyPairSync } = await import('node:crypto');
    const stranger = { ...(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as PrivateJwk), kid: auditorKey.kid, alg: 'ES256' };
    expect((await refusal(signConsoleLogin({ consumerId: 'auditor', privateJwk: stranger, operator: 'x', now: NOW }))).reason).toBe('BAD_SIGNATURE');
    // A department, not a consumer.
    expect((await refusal(signConsoleLogin({ consumerId: 'tax', privateJwk: auditorKey, operator: 'x', now: NOW }))).reason).toBe('UNKNOWN_CONSUMER');
  });
});
