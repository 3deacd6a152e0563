/** `datarun verify <seal> --peer <statement> --root <root>`: a peer hub's seal, offline from files. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliUsageError, exitCodeOfError } from '../../src/cli/exit';
import { runVerify } from '../../src/cli/verify';
import { createFederationStatementSigner, createKeyStore, createSealer, presentSeal, type KeyStore } from '../../src/seal';
import { WITH_DEPARTMENTS } from '../support/keys';
import { removeTempDirs, tempDir } from './seal/fixture';

const T0 = new Date('2026-03-01T08:00:00Z');
const at = (sec: number): Date => new Date(T0.getTime() + sec * 1000);

let peer: KeyStore;
let other: KeyStore;
let dir: string;
let statement: string;
let rootFile: string;
let seal: string;
beforeAll(async () => {
  peer = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: T0 });
  other = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: T0 });
  dir = await tempDir();
  statement = join(dir, 'statement.jwt');
  writeFileSync(statement, `${createFederationStatementSigner({ keyStore: peer }).statement(peer.publicJwks(), T0)}\n`);
  rootFile = join(dir, 'root.json');
  const root = peer.federationRoot()!;
  writeFileSync(rootFile, JSON.stringify({ hub: root.hub, alg: root.alg, jwk: root.jwk, thumbprint: root.thumbprint, createdAt: root.createdAt }));
  seal = presentSeal(createSealer({ keyStore: peer }).sealRecord({ department: 'tax', recordType: 'TaxPayment', recordId: 'P-1', fields: { amount: 3 }, issuedAt: at(10) }), ['amount']);
});
afterAll(removeTempDirs);

async function verify(options: Partial<Parameters<typeof runVerify>[0]>): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runVerify({ token: seal, peer: statement, root: rootFile, now: at(60), out: (l) => lines.push(l), ...options });
  return { code, lines };
}

describe('datarun verify --peer --root', () => {
  it('verifies a peer’s seal through its statement and the root file `datarun keys federation-root` printed', async () => {
    const { code, lines } = await verify({});
    expect(code).toBe(0);
    expect(lines[0]).toBe(`peer       datarun-hub: keys signed by its root ${peer.federationRoot()!.thumbprint}, statement of ${T0.toISOString()}, valid until ${at(86_400).toISOString()}`);
    expect(lines.slice(1, 3)).toEqual(['VALID seal', expect.stringMatching(/^ {2}issuer {5}tax \(key tax\.seal\./)]);
    expect((await verify({ root: peer.federationRoot()!.thumbprint })).code).toBe(0);
  });

  it('fails (exit 6) for a statement of another root, another hub, an expired one, or a seal the peer’s keys do not know', async () => {
    expect(await verify({ root: other.federationRoot()!.thumbprint })).toEqual({ code: 6, lines: ['INVALID peer statement: the statement names a root key other than the pinned one (WRONG_ROOT)'] });
    expect(await verify({ peerHub: 'city-b' })).toEqual({ code: 6, lines: ['INVALID peer statement: the statement is issued by another hub than the peer (WRONG_HUB)'] });
    expect(await verify({ now: at(2 * 86_400) })).toEqual({ code: 6, lines: ['INVALID peer statement: the statement has expired (EXPIRED)'] });
    const late = await verify({ now: at(2 * 86_400), allowExpired: true });
    expect(late.code).toBe(0);
    expect(late.lines[0]).toContain(`EXPIRED ${at(86_400).toISOString()} (--allow-expired)`);
    const foreign = presentSeal(createSealer({ keyStore: other }).sealRecord({ department: 'tax', recordType: 'TaxPayment', recordId: 'P-1', fields: { amount: 3 }, issuedAt: at(10) }), ['amount']);
    const unknown = await verify({ token: foreign });
    expect(unknown.code).toBe(6);
    expect(unknown.lines[1]).toMatch(/^INVALID: seal: unknown signing key \(UNKNOWN_KEY\)/);
  });

  it('is a usage error (exit 2) without exactly one of --jwks and --peer, --peer without --root, or a root file that is not one', async () => {
    const usage = async (options: Partial<Parameters<typeof runVerify>[0]>, message: RegExp): Promise<void> => {
      const error = await verify(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CliUsageError);
      expect((error as Error).message).toMatch(message);
      expect(exitCodeOfError(error)).toBe(2);
    };
    await usage({ jwks: join(dir, 'jwks.json') }, /give either --jwks <file\|url> or --peer/);
    await usage({ peer: undefined }, /give either --jwks/);
    await usage({ root: undefined }, /--peer needs --root <thumbprint\|file>/);
    await usage({ root: join(dir, 'missing.json') }, /--root: expected a root thumbprint .* does not exist/);
    const bad = join(dir, 'bad-root.json');
    writeFileSync(bad, JSON.stringify({ hub: 'datarun-hub', jwk: peer.federationRoot()!.jwk, thumbprint: other.federationRoot()!.thumbprint }));
    await usage({ root: bad }, /its thumbprint is not the RFC 7638 thumbprint of its jwk/);
    writeFileSync(bad, JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'abc', d: 'secret' }));
    await usage({ root: bad }, /no private members/);
  });
});
