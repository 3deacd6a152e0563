import { createDataRunClient, DataRunClientError } from '../../../src/client';
import { createMemoryReplayGuard } from '../../../src/state';
import {
  UnauthenticatedError,
  createKeyStore,
  createReceiptSigner,
  createRequestVerifier,
  createSealer,
  hashJson,
  hashText,
  presentSeal,
  readRequestToken,
  rotateKey,
  loadKeyStore,
  type KeyStore,
  type VerifiedRequest,
} from '../../../src/seal';
import { removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

afterAll(removeTempDirs);

const CONTEXT = { purpose: 'LIVING_ALLOWANCE', caseNumber: 'MZ-2025-0007', operator: 'chen.jing' };

/** A fake hub behind `fetch`: verifies the signed request, answers with data and a receipt; serves the JWKS. */
function fakeHub(store: () => KeyStore) {
  const seen: VerifiedRequest[] = [];
  const calls: string[] = [];
  const verifier = () => createRequestVerifier({ keyStore: store(), replayGuard: guard });
  const guard = createMemoryReplayGuard();
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
    if (url.endsWith('/.well-known/jwks.json')) return Response.json(store().publicJwks());
    const body = Buffer.from(init!.body as Uint8Array);
    try {
      const verified = await verifier().verify(readRequestToken(new Headers(init!.headers).get('authorization') ?? undefined), body);
      seen.push(verified);
      const { query, variables } = JSON.parse(body.toString('utf8')) as { query: string; variables: Record<string, unknown> };
      const data = { household: { members: 3 } };
      const receipt = createReceiptSigner({ keyStore: store() }).signReceipt({
        requestId: verified.claims.jti,
        consumer: verified.consumer,
        purpose: verified.claims.purpose,
        case: verified.claims.case,
        operator: verified.claims.operator,
        time: new Date(),
        queryHash: hashText(query),
        variablesHash: hashJson(variables),
        dataHash: hashJson(data),
      });
      return Response.json({ data, extensions: { receipt } });
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      return Response.json({ errors: [{ message: error.message, extensions: { code: 'UNAUTHENTICATED', reason: error.reason } }] }, { status: 401 });
    }
  }) as typeof fetch;
  return { fetch: fetchImpl, seen, calls };
}

describe('the TypeScript client', () => {
  it('signs each query so the hub accepts it, and checks the reply against its receipt', async () => {
    const store = await createKeyStore(await tempDir(), WITH_DEPARTMENTS);
    const hub = fakeHub(() => store);
    const client = createDataRunClient({ hubUrl: 'http://hub.test/', consumerId: 'civil-affairs', keyFile: store.privateKeyPath('civil-affairs')!, fetch: hub.fetch });
    const response = await client.query('query ($id: ID!) { household(id: $id) { members } }', { id: 'H-1' }, CONTEXT);
    expect(response).toMatchObject({ status: 200, data: { household: { members: 3 } }, receipt: expect.any(String) });
    expect(hub.seen[0]).toMatchObject({ consumer: 'civil-affairs', claims: { purpose: 'LIVING_ALLOWANCE', case: 'MZ-2025-0007', operator: 'chen.jing' } });
    expect(await client.verifyReply(response)).toMatchObject({ valid: true, receipt: { consumer: 'civil-affairs', case: 'MZ-2025-0007' } });
    expect(await client.verifyReply({ ...response, data: { household: { members: 4 } } })).toMatchObject({ valid: false, reason: 'HASH_MISMATCH' });
  });

  it('returns the hub\'s UNAUTHENTICATED answer as a response, not an exception', async () => {
    const store = await createKeyStore(await tempDir(), WITH_DEPARTMENTS);
    const hub = fakeHub(() => store);
    const client = createDataRunClient({ hubUrl: 'http://hub.test', consumerId: 'civil-affairs', keyFile: store.privateKeyPath('civil-affairs')!, audience: 'another-hub', fetch: hub.fetch });
    const response = await client.query('{ a }', undefined, CONTEXT);
    expect(response.status).toBe(401);
    expect(response.errors).toEqual([{ message: 'request token is not for this hub', extensions: { code: 'UNAUTHENTICATED', reason: 'WRONG_AUDIENCE' } }]);
  });

  it('verifies seals against the hub\'s JWKS, fetched once and fetched again for a key rotated in since', async () => {
    const dir = await tempDir();
    let store = await createKeyStore(dir, WITH_DEPARTMENTS);
    const hub = fakeHub(() => store);
    const client = createDataRunClient({ hubUrl: 'http://hub.test', consumerId: 'civil-affairs', keyFile: store.privateKeyPath('civil-affairs')!, fetch: hub.fetch });
    const seal = (s: KeyStore) => presentSeal(createSealer({ keyStore: s }).sealRecord({ department: 'social-security', recordType: 'Pension', recordId: 'P-1', fields: { monthly: 3210 } }), ['monthly']);
    expect(await client.verifySeal(seal(store))).toMatchObject({ valid: true, issuer: 'social-security', disclosed: { monthly: 3210 } });
    expect(await client.verifySeal(seal(store))).toMatchObject({ valid: true });
    expect(hub.calls.filter((c) => c.endsWith('jwks.json'))).toHaveLength(1);

    await rotateKey(dir, 'social-security');
    store = await loadKeyStore(dir);
    const later = Date.now() + 31_000;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(later);
    try {
      expect(await client.verifySeal(seal(store))).toMatchObject({ valid: true });
    } finally {
      clock.mockRestore();
    }
    expect(hub.calls.filter((c) => c.endsWith('jwks.json'))).toHaveLength(2);
  });

  it('reports an unreachable hub and a reply that is not GraphQL with stable codes', async () => {
    const store = await createKeyStore(await tempDir(), WITH_DEPARTMENTS);
    const down = (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch;
    const html = (() => Promise.resolve(new Response('<html>bad gateway</html>', { status: 502 }))) as typeof fetch;
    const make = (f: typeof fetch) => createDataRunClient({ hubUrl: 'http://hub.test', consumerId: 'civil-affairs', keyFile: store.privateKeyPath('civil-affairs')!, fetch: f });
    await expect(make(down).query('{ a }', {}, CONTEXT)).rejects.toEqual(new DataRunClientError('ERR_HUB_UNREACHABLE', 'cannot reach the hub at http://hub.test/graphql'));
    await expect(make(html).query('{ a }', {}, CONTEXT)).rejects.toMatchObject({ code: 'ERR_HUB_RESPONSE_INVALID', message: 'the hub answered HTTP 502 without a GraphQL response' });
  });

  it('throws the signer\'s own error for what it cannot sign, not "unreachable", and sends nothing', async () => {
    const store = await createKeyStore(await tempDir(), WITH_DEPARTMENTS);
    let sent = 0;
    const counting = (() => {
      sent++;
      return Promise.reject(new TypeError('fetch failed'));
    }) as typeof fetch;
    const client = createDataRunClient({ hubUrl: 'http://hub.test', consumerId: 'civil-affairs', keyFile: store.privateKeyPath('civil-affairs')!, fetch: counting });
    const bad = { ...CONTEXT, onBehalfOf: 'nobody' as never };
    await expect(client.query('{ a }', {}, bad)).rejects.toMatchObject({ code: 'ERR_SEAL_INPUT_INVALID', message: expect.stringMatching(/^onBehalfOf cannot be signed: onBehalfOf must be an object/) });
    const stream = client.subscribe('subscription { a }', {}, bad);
    await expect(stream.next()).rejects.toMatchObject({ message: expect.stringMatching(/^onBehalfOf cannot be signed/) });
    expect(sent).toBe(0);
  });
});
