/**
 * The `obo` claim of a signed request (a peer hub asking on behalf of its own consumer,
 * docs/federation.md): signed by `createRequestSigner`, read back by the verifier, and any
 * malformed claim refused as MALFORMED naming the member, never a crash.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { createMemoryReplayGuard } from '../../../src/state';
import {
  MAX_OBO_ID_LENGTH,
  MAX_OBO_REQUEST_ID_LENGTH,
  SealInputError,
  UnauthenticatedError,
  createKeyStore,
  createRequestSigner,
  createRequestVerifier,
  oboProblem,
  type KeyStore,
  type OnBehalfOf,
  type PrivateJwk,
  type RequestVerifier,
} from '../../../src/seal';
import { craftJws, decodeSegment, privateJwkOf, removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const NOW = Date.parse('2025-06-01T09:00:00Z');
const BODY = Buffer.from(JSON.stringify({ query: '{ person(idNumber: "371702199001011234") { name } }', variables: {} }));
const CONTEXT = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'TA-2025-000123', operator: 'liu.yang' };
const OBO: OnBehalfOf = { hub: 'taian', consumer: 'real-estate-centre', request: 'req-8f14e45f', federation: '3f2b9c1e-7a4d-4e0b-9d2a-5c6f7e8a9b0c' };

let store: KeyStore;
let peerKey: PrivateJwk;
let verifier: RequestVerifier;

beforeAll(async () => {
  store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: new Date(NOW - 86_400_000) });
  peerKey = privateJwkOf(store, 'taian-hub');
  verifier = createRequestVerifier({ keyStore: store, replayGuard: createMemoryReplayGuard({ now: () => NOW }), clockSkewSec: 60 });
});
afterAll(removeTempDirs);

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = NOW / 1000;
  return {
    iss: 'taian-hub',
    aud: 'datarun-hub',
    iat,
    exp: iat + 60,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    bh: createHash('sha256').update(BODY).digest('base64url'),
    purpose: 'PROPERTY_TRANSFER',
    case: 'TA-2025-000123',
    operator: 'liu.yang',
    ...overrides,
  };
}

function signed(payload: Record<string, unknown>): string {
  return craftJws({ alg: 'ES256', kid: peerKey.kid, typ: 'datarun-request+jwt' }, payload, peerKey);
}

async function refusal(token: string): Promise<UnauthenticatedError> {
  const error = await verifier.verify(token, BODY, NOW).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UnauthenticatedError)) throw new Error(`expected an UnauthenticatedError, but got: ${String(error)}`);
  return error;
}

describe('the obo claim', () => {
  it('is signed from onBehalfOf and read back with the rest of the claims', async () => {
    const token = createRequestSigner({ consumerId: 'taian-hub', privateJwk: peerKey }).sign(BODY, { ...CONTEXT, onBehalfOf: OBO }, NOW);
    expect(decodeSegment(token.split('.')[1]!)).toMatchObject({ iss: 'taian-hub', purpose: 'PROPERTY_TRANSFER', case: CONTEXT.caseNumber, operator: CONTEXT.operator, obo: OBO });
    const verified = await verifier.verify(token, BODY, NOW);
    expect(verified.claims.obo).toEqual(OBO);
    expect(verified.roles).toEqual(['consumer', 'federation-peer']);
  });

  it('is absent from a token signed without onBehalfOf', async () => {
    const token = createRequestSigner({ consumerId: 'taian-hub', privateJwk: peerKey }).sign(BODY, CONTEXT, NOW);
    expect(decodeSegment(token.split('.')[1]!)).not.toHaveProperty('obo');
    expect((await verifier.verify(token, BODY, NOW)).claims.obo).toBeUndefined();
  });

  it('cannot be changed without breaking the signature (BAD_SIGNATURE)', async () => {
    const token = createRequestSigner({ consumerId: 'taian-hub', privateJwk: peerKey }).sign(BODY, { ...CONTEXT, onBehalfOf: OBO }, NOW);
    const [h, p, s] = token.split('.');
    for (const change of [{ consumer: 'tax-bureau' }, { hub: 'jinan' }, { request: 'req-other' }, { federation: 'another-id' }]) {
      const payload = { ...decodeSegment(p!), obo: { ...OBO, ...change } };
      const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
      expect((await refusal(tampered)).reason).toBe('BAD_SIGNATURE');
    }
    // Dropping it breaks the signature too.
    const { obo: _obo, ...without } = decodeSegment(p!) as Record<string, unknown>;
    expect((await refusal(`${h}.${Buffer.from(JSON.stringify(without)).toString('base64url')}.${s}`)).reason).toBe('BAD_SIGNATURE');
  });

  it('is refused the second time the same token comes (REPLAYED)', async () => {
    const token = createRequestSigner({ consumerId: 'taian-hub', privateJwk: peerKey }).sign(BODY, { ...CONTEXT, onBehalfOf: OBO }, NOW);
    await verifier.verify(token, BODY, NOW);
    expect((await refusal(token)).reason).toBe('REPLAYED');
  });

  it('names the member that is wrong, without its value', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [null, 'obo', /must be an object/],
      ['taian', 'obo', /must be an object/],
      [[OBO], 'obo', /must be an object/],
      [{ ...OBO, extra: 1 }, 'obo', /member other than/],
      [{ ...OBO, hub: undefined }, 'obo.hub', /is missing/],
      [{ ...OBO, hub: 'Tai An' }, 'obo.hub', /kebab-case id/],
      [{ ...OBO, consumer: 'x'.repeat(MAX_OBO_ID_LENGTH + 1) }, 'obo.consumer', /kebab-case id of 1 to 64/],
      [{ ...OBO, consumer: 7 }, 'obo.consumer', /kebab-case id/],
      [{ ...OBO, request: '' }, 'obo.request', /1 to 128 characters/],
      [{ ...OBO, request: 'a'.repeat(MAX_OBO_REQUEST_ID_LENGTH + 1) }, 'obo.request', /1 to 128 characters/],
      [{ ...OBO, federation: 'id\nwith newline' }, 'obo.federation', /1 to 128 characters/],
      [{ hub: 'taian', consumer: 'real-estate-centre', request: 'r-1' }, 'obo.federation', /is missing/],
    ];
    for (const [obo, member, message] of cases) {
      const error = await refusal(signed(claims({ obo })));
      expect(error.reason).toBe('MALFORMED');
      expect(error.claim).toBe(member);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('Tai An');
    }
  });

  it('may not name the hub it is sent to', async () => {
    const error = await refusal(signed(claims({ obo: { ...OBO, hub: 'datarun-hub' } })));
    expect(error).toMatchObject({ reason: 'MALFORMED', claim: 'obo.hub' });
    expect(() => createRequestSigner({ consumerId: 'taian-hub', privateJwk: peerKey }).sign(BODY, { ...CONTEXT, onBehalfOf: { ...OBO, hub: 'datarun-hub' } }, NOW)).toThrow(SealInputError);
  });

  it('is refused by the signer when malformed, naming onBehalfOf', () => {
    const signer = createRequestSigner({ consumerId: 'taian-hub', privateJwk: peerKey });
    expect(() => signer.sign(BODY, { ...CONTEXT, onBehalfOf: { ...OBO, consumer: 'Real Estate' } }, NOW)).toThrow(/onBehalfOf\.consumer must be a kebab-case id/);
    expect(() => signer.sign(BODY, { ...CONTEXT, onBehalfOf: { ...OBO, extra: 'x' } as OnBehalfOf }, NOW)).toThrow(/onBehalfOf has a member other than/);
  });

  it('refuses any malformed obo as MALFORMED (property): never a crash, never accepted', async () => {
    const wellFormed = (v: unknown): boolean => oboProblem(v) === undefined;
    const member = fc.oneof(
      fc.string({ maxLength: 140 }),
      fc.constantFrom('', ' ', 'a b', 'UPPER', '-lead', 'trail-', 'a--b', '\u0000', '\u202e', 'x'.repeat(65), 'y'.repeat(129), '__proto__'),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
      fc.object({ maxDepth: 1 }),
    );
    const oboValue = fc.oneof(
      fc.record({ hub: member, consumer: member, request: member, federation: member }, { requiredKeys: [] }),
      fc.record({ hub: fc.constant('taian'), consumer: fc.constant('real-estate-centre'), request: member, federation: fc.constant('f-1') }),
      fc.record({ hub: fc.constant('taian'), consumer: member, request: fc.constant('r-1'), federation: fc.constant('f-1') }),
      fc.dictionary(fc.string({ maxLength: 10 }), member, { maxKeys: 6 }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    await fc.assert(
      fc.asyncProperty(oboValue, async (obo) => {
        // JSON drops undefined members: judge what the token carries.
        const carried: unknown = JSON.parse(JSON.stringify({ obo })).obo;
        fc.pre(carried !== undefined);
        const token = signed(claims({ obo: carried }));
        const outcome = await verifier.verify(token, BODY, NOW).then(
          (v) => ({ ok: true as const, obo: v.claims.obo }),
          (e: unknown) => ({ ok: false as const, error: e }),
        );
        if (wellFormed(carried) && (carried as OnBehalfOf).hub !== 'datarun-hub') {
          expect(outcome.ok).toBe(true);
          return;
        }
        expect(outcome.ok).toBe(false);
        const error = (outcome as { error: unknown }).error;
        expect(error).toBeInstanceOf(UnauthenticatedError);
        expect((error as UnauthenticatedError).reason).toBe('MALFORMED');
        expect((error as UnauthenticatedError).claim).toMatch(/^obo(\.(hub|consumer|request|federation))?$/);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts exactly the well-formed members (property)', () => {
    const id = fc.stringMatching(/^[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,3}$/);
    const requestId = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
    fc.assert(
      fc.property(id, id, requestId, requestId, (hub, consumer, request, federation) => {
        expect(oboProblem({ hub, consumer, request, federation })).toBeUndefined();
      }),
    );
  });
});
