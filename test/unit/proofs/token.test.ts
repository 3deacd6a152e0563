/**
 * The Status List Token: signed with the hub's own key through src/seal, verified with the key
 * store or the published JWKS; each refusal with its reason (wrong typ, bad signature, expired,
 * another list's sub, a status_list that does not decode), and the statuses read at their index.
 */
import { createHubStatementSigner, type KeyStore } from '../../../src/seal';
import { createStatusListSigner, signStatusListToken, statusAt, statusReference, STATUS, STATUS_LIST_TOKEN_TYPE, verifyStatusListToken, type StatusListSigner } from '../../../src/proofs';
import { craftJws, demoKeyStore, privateJwkOf, removeTempDirs } from '../seal/fixture';

const URI = 'https://hub.example.gov.cn/status/0';
const NOW = Date.UTC(2026, 2, 6, 2, 0, 0);
let store: KeyStore;
let signer: StatusListSigner;

beforeAll(async () => {
  store = await demoKeyStore(new Date(NOW - 86_400_000));
  signer = createStatusListSigner({ keyStore: store });
});
afterAll(removeTempDirs);

const decodePart = (token: string, i: number): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8')) as Record<string, unknown>;
const statuses = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];

/** A JWS signed here with the hub's checkpoint key (low-S), header and payload as given: independent of the signer under test. */
const craft = (header: Record<string, unknown>, payload: Record<string, unknown>): string => craftJws(header, payload, privateJwkOf(store, store.hubId, 'checkpoint'));

describe('the Status List Token', () => {
  it('carries typ, alg and kid, and sub, iat, exp, ttl and status_list as the draft names them', () => {
    const token = signStatusListToken({ uri: URI, bits: 1, statuses, ttlSeconds: 300, lifetimeSeconds: 3600, now: NOW, sign: signer });
    const header = decodePart(token, 0);
    expect(header).toEqual({ alg: 'ES256', kid: store.currentKeyId(store.hubId, 'checkpoint'), typ: 'statuslist+jwt' });
    expect(decodePart(token, 1)).toEqual({ iss: store.hubId, iat: NOW / 1000, sub: URI, exp: NOW / 1000 + 3600, ttl: 300, status_list: { bits: 1, lst: 'eNrbuRgAAhcBXQ' } });
    expect(statusReference(URI, 42)).toEqual({ status_list: { idx: 42, uri: URI } });
  });

  it('verifies with the key store and with the published JWKS, and reads each status at its index', () => {
    const token = signStatusListToken({ uri: URI, bits: 2, statuses: [0, STATUS.INVALID, STATUS.SUSPENDED, 3], ttlSeconds: 60, now: NOW, sign: signer });
    for (const keys of [{ keyStore: store }, { jwks: store.publicJwks() }]) {
      const verified = verifyStatusListToken(token, { keys, expectedUri: URI, now: NOW + 1000 });
      expect(verified).toMatchObject({ valid: true, uri: URI, bits: 2, ttlSeconds: 60, expiresAt: new Date(NOW + 86_400_000) });
      expect([0, 1, 2, 3].map((i) => statusAt(verified, i))).toEqual([0, 1, 2, 3]);
      expect(() => statusAt(verified, 4)).toThrow(expect.objectContaining({ code: 'STATUS_INDEX_OUT_OF_RANGE' }));
    }
  });

  it('refuses a wrong typ, a bad signature, an expired token, another list’s sub and a bad status_list, each with its reason', () => {
    const token = signStatusListToken({ uri: URI, bits: 1, statuses, ttlSeconds: 300, lifetimeSeconds: 3600, now: NOW, sign: signer });
    const verify = (t: string, now = NOW + 1000, expectedUri = URI) => verifyStatusListToken(t, { keys: { keyStore: store }, expectedUri, now });
    expect(verify(token)).toMatchObject({ valid: true });
    // Another typ, signed by the same key: a checkpoint-like statement is not a status list.
    const other = createHubStatementSigner({ keyStore: store, typ: 'example-statement+jwt' }).sign({ sub: URI, exp: NOW / 1000 + 3600, status_list: { bits: 1, lst: 'eNrbuRgAAhcBXQ' } }, NOW);
    expect(verify(other)).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodePart(token, 1), status_list: { bits: 1, lst: 'eNpjYGAAAAAEAAE' } })).toString('base64url')}.${s}`;
    expect(verify(tampered)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    expect(verify(`${h}.${p}.${s!.slice(0, -4)}AAAA`)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    // exp is iat + 3600; the clock skew (60 s) is allowed, no more.
    expect(verify(token, NOW + 3_600_000 + 59_000)).toMatchObject({ valid: true });
    expect(verify(token, NOW + 3_600_000 + 60_000)).toMatchObject({ valid: false, reason: 'EXPIRED', message: 'status list token has expired' });
    expect(verify(token, NOW + 1000, 'https://hub.example.gov.cn/status/1')).toMatchObject({ valid: false, reason: 'WRONG_SUBJECT' });
    expect(verify('not.a.token')).toMatchObject({ valid: false, reason: 'MALFORMED' });
    expect(verify(token, NOW - 3_600_000)).toMatchObject({ valid: false, reason: 'NOT_YET_VALID' });
    // Correctly signed, but the content is not a status list token the draft allows.
    const claims = { iss: store.hubId, iat: NOW / 1000, sub: URI, exp: NOW / 1000 + 3600 };
    const header = { alg: 'ES256', kid: store.currentKeyId(store.hubId, 'checkpoint'), typ: STATUS_LIST_TOKEN_TYPE };
    expect(verify(craft(header, { ...claims, status_list: { bits: 1, lst: 'eNrbuRgAAhcBXQ' } }))).toMatchObject({ valid: true });
    expect(verify(craft(header, { ...claims, status_list: { bits: 3, lst: 'eNrbuRgAAhcBXQ' } }))).toMatchObject({ valid: false, reason: 'BAD_STATUS_LIST' });
    expect(verify(craft(header, { ...claims, status_list: { bits: 1, lst: 'aGVsbG8' } }))).toMatchObject({ valid: false, reason: 'BAD_STATUS_LIST' });
    expect(verify(craft(header, { ...claims }))).toMatchObject({ valid: false, reason: 'BAD_STATUS_LIST' });
    expect(verify(craft(header, { ...claims, exp: undefined, status_list: { bits: 1, lst: 'eNrbuRgAAhcBXQ' } }))).toMatchObject({ valid: false, reason: 'BAD_STATUS_LIST' });
    expect(verify(craft(header, { ...claims, ttl: -5, status_list: { bits: 1, lst: 'eNrbuRgAAhcBXQ' } }))).toMatchObject({ valid: false, reason: 'BAD_STATUS_LIST' });
    // A receipt key is not the key of hub statements.
    const receiptKid = store.currentKeyId(store.hubId, 'receipt');
    expect(verify(craft({ ...header, kid: receiptKid }, { ...claims, status_list: { bits: 1, lst: 'eNrbuRgAAhcBXQ' } }))).toMatchObject({ valid: false, reason: 'WRONG_KEY_USE' });
    expect(() => statusAt(verify('x'), 0)).toThrow(expect.objectContaining({ code: 'STATUS_LIST_TOKEN_INVALID' }));
  });

  it('refuses to sign bad input with a coded error, and the seal module keeps its own token types', () => {
    const base = { uri: URI, bits: 1 as const, statuses, ttlSeconds: 300, now: NOW, sign: signer };
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => signStatusListToken({ ...base, uri: 'not a uri' }))).toBe('STATUS_LIST_TOKEN_INVALID');
    expect(code(() => signStatusListToken({ ...base, ttlSeconds: 0 }))).toBe('STATUS_LIST_TOKEN_INVALID');
    expect(code(() => signStatusListToken({ ...base, ttlSeconds: 600, lifetimeSeconds: 300 }))).toBe('STATUS_LIST_TOKEN_INVALID');
    expect(code(() => signStatusListToken({ ...base, bits: 3 as never }))).toBe('STATUS_LIST_BITS_INVALID');
    expect(code(() => signStatusListToken({ ...base, statuses: [2] }))).toBe('STATUS_VALUE_INVALID');
    expect(code(() => signStatusListToken({ ...base, now: Number.NaN }))).toBe('STATUS_LIST_TOKEN_INVALID');
    expect(code(() => statusReference(URI, -1))).toBe('STATUS_INDEX_OUT_OF_RANGE');
    expect(code(() => createHubStatementSigner({ keyStore: store, typ: 'datarun-receipt+jwt' }))).toBe('ERR_SEAL_INPUT_INVALID');
    expect(code(() => createHubStatementSigner({ keyStore: store, typ: 'Bad Typ' }))).toBe('ERR_SEAL_INPUT_INVALID');
  });
});
