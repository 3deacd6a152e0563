/**
 * 跨域通办 between two hub PROCESSES (issue 18): hub B (Heze, `heze`) and hub A (Tai'an, `taian`)
 * each a `datarun serve` of the compiled sources, each over its own embedded sandboxes holding its
 * own city's persons (`DATARUN_SANDBOX_CITY`), configured as an operator would: B's graph from
 * B's operator route, A's consumer at B signing with the key B made for it, B's federation root
 * pinned at A, A's policy letting its registration centre read Heze's persons' tax records. Over
 * real sockets: a cross-city query at A answered with B's tax records under B's seal (checked
 * against B's JWKS statement, signed by B's root); both access logs linked; a field B does not
 * grant A refused at A naming B (B's answer to A's look at its grants); B's process killed → A's
 * fields and CONNECTOR_UNAVAILABLE naming B; B restarted on its port after rotating its tax
 * department's seal key → A takes B's new statement and goes on, the seal under the new key
 * verifying. federation.test.ts tells the same story (and B's late refusal, the replay refusal)
 * with both hubs in the test's process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSeed } from '../../departments';
import { propertyTransferExample } from '../../src/cli/examples';
import { runQuery } from '../../src/cli/query';
import { CROSS_CITY_HUBS, CROSS_CITY_PEER, crossCityRequestingPolicy } from '../../src/cli/demo-cross-city';
import { createDataRunClient, type DataRunClient } from '../../src/client';
import { discoverConnectorModules } from '../../src/gateway';
import { DEMO_OWNERS, FEDERATION_STATEMENT_PATH, initKeys, loadKeyStore, rotateKey, verifyPeerJwks, verifySeal, type Jwks } from '../../src/seal';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { CROSS_CITY_TEST_QUERY, LINKED_ACCESS_LOG_QUERY } from '../support/federation';
import { buildDistIfStale, killHubProcesses, startHubProcess, type HubProcess } from '../support/hub-process';

const { serving, requesting } = CROSS_CITY_HUBS;
/** Persons per city: small, the story needs a handful. */
const SIZE = 200;
const SEED_B = 2;
const SEED_A = 1;
const TRANSFER = { purpose: CROSS_CITY_PEER.purpose, caseNumber: 'TA-BDC-2026-PROC-001', operator: '泰安窗口-1' };
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-PROC', operator: 'auditor-1' };

/** What each hub's sandboxes hold: the same seeds the processes generate. */
const seedB = generateSeed({ seed: SEED_B, size: SIZE, city: serving });
const seedA = generateSeed({ seed: SEED_A, size: SIZE, city: requesting });

const QUERY = CROSS_CITY_TEST_QUERY;
const ACCESS_LOG = LINKED_ACCESS_LOG_QUERY;

let dir: string;
let keysB: string;
let keysA: string;
let envB: Record<string, string>;
let b: HubProcess;
let a: HubProcess;
/** B's federation root as A's operator pinned it (its thumbprint). */
let rootB: string;
/** A's registration centre, asking A. */
let centre: DataRunClient;
let auditorA: DataRunClient;
let auditorB: DataRunClient;
/** A seller registered in Heze (B's seed only) and units of A's registry. */
let seller: { idNumber: string; name: string };
const units = seedA.properties.map((p) => p.unitNumber);

/** The keys of a hub `hubId`: the demo parties, its sandbox departments, its federation root. */
async function prepareKeys(keysDir: string, hubId: string): Promise<void> {
  await initKeys(keysDir, {
    hubId,
    owners: DEMO_OWNERS.map((o) => (o.kind === 'hub' ? { ...o, id: hubId } : o)),
    departments: discoverConnectorModules().map(({ module }) => ({ id: module.id, kind: 'department' as const, name: module.title, custody: true, sandbox: true })),
  });
}

/**
 * The environment of one city's hub: its keys and its log in a directory of its own (a hub keeps
 * its proofs' status lists, webhooks and cases beside its log), its city's sandboxes; deadlines
 * that a busy machine does not reach.
 */
function cityEnv(city: string, seed: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATARUN_KEYS_DIR: path.join(dir, city, 'keys'),
    DATARUN_AUDIT_DIR: path.join(dir, city, 'audit'),
    DATARUN_INSTANCE_ID: `${city}-hub`,
    DATARUN_SANDBOX_CITY: city,
    DATARUN_SANDBOX_SEED: String(seed),
    DATARUN_SANDBOX_SIZE: String(SIZE),
    DATARUN_SECURITY_MODE: 'signed',
    DATARUN_LOG_LEVEL: 'warn',
    DATARUN_CONNECTOR_TIMEOUT_MS: '60000',
    DATARUN_REQUEST_DEADLINE_MS: '120000',
    ...extra,
  };
}

/** A's policy: the demo's (the centre reads Heze's persons' tax records), and the provident fund of Heze's persons, which B does not grant A. */
function policyOfA(): unknown {
  const policy = crossCityRequestingPolicy() as { consumers: { id: string; grants: { fields: string[]; purposes?: string[] }[] }[] };
  const centre = policy.consumers.find((c) => c.id === CROSS_CITY_PEER.requester)!;
  centre.grants.push({ fields: ['HezePerson.providentFund', 'HezeFundAccount.status'], purposes: [CROSS_CITY_PEER.purpose] });
  return policy;
}

/** A client of `hub` signing as `consumer` with the key in `keysDir`. */
async function clientOf(hub: HubProcess, keysDir: string, hubId: string, consumer: string): Promise<DataRunClient> {
  const keyFile = (await loadKeyStore(keysDir)).privateKeyPath(consumer);
  if (!keyFile) throw new Error(`no key of ${consumer} in ${keysDir}`);
  return createDataRunClient({ hubUrl: hub.url, consumerId: consumer, keyFile, audience: hubId });
}

/** The access records an auditor finds. */
async function records(auditor: DataRunClient, filter: Record<string, unknown>): Promise<any[]> {
  const reply = await auditor.query<any>(ACCESS_LOG, { f: filter }, AUDIT);
  expect(reply.errors).toBeUndefined();
  return reply.data.accessLog.edges.map((e: { node: unknown }) => e.node);
}

/** B's JWKS as B's statement at B's URL gives it, checked against the root A pinned. */
async function statementOfB(): Promise<Jwks> {
  const res = await fetch(`${b.url}${FEDERATION_STATEMENT_PATH}`);
  expect(res.status).toBe(200);
  const verified = verifyPeerJwks(await res.text(), { hub: serving, root: rootB });
  if (!verified.valid) throw new Error(`B's statement does not verify against B's root: ${verified.reason}`);
  return verified.jwks;
}

/** The cross-city question at A about `unit` and the seller, for case `caseNumber`. */
const ask = (unit: string, caseNumber: string) => centre.query<any>(QUERY, { unit, seller: seller.idNumber }, { ...TRANSFER, caseNumber });

// Builds only when a source changed; a build another test runs is waited for (a build on a busy machine takes minutes).
beforeAll(() => buildDistIfStale(), 600_000);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'datarun-federation-processes-'));
  keysB = path.join(dir, serving, 'keys');
  keysA = path.join(dir, requesting, 'keys');
  await prepareKeys(keysB, serving);
  await prepareKeys(keysA, requesting);
  rootB = (await loadKeyStore(keysB)).federationRoot()!.thumbprint;
  const aPersons = new Set(seedA.persons.map((p) => p.idNumber));
  const taxpayer = seedB.taxpayers.find((t) => t.kind === 'PERSON' && !aPersons.has(t.taxpayerId) && t.payments.some((p) => p.taxType === 'DEED'));
  if (!taxpayer) throw new Error('B\'s seed has no person with a deed tax payment');
  seller = { idNumber: taxpayer.taxpayerId, name: taxpayer.name };

  envB = cityEnv(serving, SEED_B);
  b = await startHubProcess(`hub B (${serving})`, envB);

  // B's operator hands over B's graph (its operator route) and the key of A's consumer at B.
  const snapshot = await fetch(`${b.operatorUrl}/federation/schema.graphql`);
  expect(snapshot.status).toBe(200);
  const schemaFile = path.join(dir, 'peer-heze.graphql');
  writeFileSync(schemaFile, await snapshot.text());
  const peerKey = (await loadKeyStore(keysB)).privateKeyPath(CROSS_CITY_PEER.consumer)!;
  const policyFile = path.join(dir, 'policy-taian.json');
  writeFileSync(policyFile, JSON.stringify(policyOfA(), null, 2));
  const configFile = path.join(dir, 'hub-taian.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      policy: { file: policyFile },
      // A pins B's root; a seal under a key A has not seen fetches B's statement again at once (B rotated), not after 30 s.
      federation: { peers: { [serving]: { url: b.url, root: rootB } }, refetchIntervalSec: 0 },
      connectors: {
        [serving]: { type: 'hub', url: `${b.url}/graphql`, hub: serving, consumer: CROSS_CITY_PEER.consumer, keyFile: peerKey, prefix: CROSS_CITY_PEER.prefix, fields: [...CROSS_CITY_PEER.fields], schemaFile },
      },
    }),
  );
  a = await startHubProcess(`hub A (${requesting})`, cityEnv(requesting, SEED_A, { DATARUN_CONFIG: configFile }));
  centre = await clientOf(a, keysA, requesting, CROSS_CITY_PEER.requester);
  auditorA = await clientOf(a, keysA, requesting, 'auditor');
  auditorB = await clientOf(b, keysB, serving, 'auditor');
}, 2 * HANG_DEADLINE_MS);

afterAll(async () => {
  await killHubProcesses();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, HANG_DEADLINE_MS);

describe('跨域通办 between two hub processes', () => {
  let firstSealKid: string;

  it('answers A\'s unit and B\'s seller in one reply; B\'s seal verifies against B\'s keys from B\'s statement, signed by B\'s root, and not against A\'s', async () => {
    expect(seller.idNumber).toMatch(/^3717/);
    const reply = await ask(units[0]!, TRANSFER.caseNumber);
    expect(reply.errors).toBeUndefined();
    expect(reply.status).toBe(200);
    expect(reply.data.property.unitNumber).toBe(units[0]);
    // The seller is B's person, A's seed does not hold them; B masks the identity number for A.
    expect(reply.data.seller).toMatchObject({ name: seller.name, idNumber: expect.stringContaining('*') });
    const deed = seedB.taxpayers.find((t) => t.taxpayerId === seller.idNumber)!.payments.filter((p) => p.taxType === 'DEED');
    expect(reply.data.seller.taxRecords.payments.map((p: { voucherNumber: string }) => p.voucherNumber).sort()).toEqual(deed.map((p) => p.voucherNumber).sort());
    expect((await centre.verifyReply(reply)).valid).toBe(true);

    const seal = reply.data.seller.taxRecords.seal;
    expect(seal.issuer).toBe('tax');
    const jwksB = await statementOfB();
    expect(verifySeal(seal.token, { jwks: jwksB })).toMatchObject({ valid: true, issuer: 'tax', keyId: seal.keyId });
    // A signs nothing for B: A's own keys do not verify it.
    const jwksA = (await (await fetch(`${a.url}/.well-known/jwks.json`)).json()) as Jwks;
    expect(verifySeal(seal.token, { jwks: jwksA })).toMatchObject({ valid: false });
    firstSealKid = seal.keyId;
  }, HANG_DEADLINE_MS);

  it('links both access logs: one federation request id, B\'s record naming A, A\'s consumer and A\'s request', async () => {
    const mine = await records(auditorA, { caseNumber: TRANSFER.caseNumber });
    expect(mine).toHaveLength(1);
    const fid = mine[0].federationRequestId as string;
    expect(fid).toMatch(new RegExp(`^${requesting}:`));
    expect(mine[0]).toMatchObject({ consumer: CROSS_CITY_PEER.requester, onBehalfOf: null });
    expect(mine[0].fields.map((f: { department: string }) => f.department)).toEqual(expect.arrayContaining([serving, 'real-estate']));
    const theirs = await records(auditorB, { federationRequestId: fid });
    expect(theirs).toHaveLength(1);
    expect(theirs[0]).toMatchObject({
      consumer: CROSS_CITY_PEER.consumer,
      purpose: TRANSFER.purpose,
      caseNumber: TRANSFER.caseNumber,
      operator: TRANSFER.operator,
      federationRequestId: fid,
      onBehalfOf: { hub: requesting, consumer: CROSS_CITY_PEER.requester, request: mine[0].requestId },
    });
    expect(theirs[0].fields.map((f: { department: string }) => f.department)).toContain('tax');
  }, HANG_DEADLINE_MS);

  it('datarun query signs for B\'s hub id and takes its worked example from B\'s city seed (--city)', async () => {
    let out = '';
    let err = '';
    const run = (city: string) => runQuery({ hub: b.url, keysDir: keysB, seed: SEED_B, size: SIZE, city, example: 'property-transfer' }, (t) => (out += t), (t) => (err += t));
    expect(await run(serving)).toBe(0);
    expect(err).toMatch(/^receipt: valid/);
    expect(JSON.parse(out).data.property.unitNumber).toBe(propertyTransferExample(seedB).unitNumber);
    await expect(run('jinan')).rejects.toThrow('unknown sandbox city "jinan": expected taian or heze');
  }, HANG_DEADLINE_MS);

  it('refuses at A, naming B, a field B does not grant A (B\'s answer to A\'s look at its grants); A\'s fields and B\'s other fields are answered', async () => {
    const reply = await centre.query<any>(
      'query($unit: ID!, $seller: ID!) { property(unitNumber: $unit) { unitNumber } seller: hezePerson(idNumber: $seller) { name providentFund { status } } again: hezePerson(idNumber: $seller) { name } }',
      { unit: units[3], seller: seller.idNumber },
      { ...TRANSFER, caseNumber: 'TA-BDC-2026-PROC-004' },
    );
    expect(reply.data.property.unitNumber).toBe(units[3]);
    expect(reply.data.seller).toBeNull();
    expect(reply.data.again).toEqual({ name: seller.name });
    expect(reply.errors).toEqual([expect.objectContaining({ path: ['seller'], extensions: expect.objectContaining({ code: 'POLICY_DENIED', hub: serving, denied: expect.arrayContaining(['FundAccount.status']) }) })]);
    expect(reply.errors![0]!.message).toContain(`peer hub ${serving}`);
    expect(reply.errors![0]!.message).toContain('does not grant this hub');
  }, HANG_DEADLINE_MS);

  it('answers A\'s fields and CONNECTOR_UNAVAILABLE naming B for B\'s when B\'s process is killed', async () => {
    await b.stop('SIGKILL');
    const reply = await ask(units[1]!, 'TA-BDC-2026-PROC-002');
    expect(reply.data.property.unitNumber).toBe(units[1]);
    expect(reply.data.seller).toBeNull();
    expect(reply.errors).toEqual([expect.objectContaining({ path: ['seller'], extensions: expect.objectContaining({ code: 'CONNECTOR_UNAVAILABLE' }) })]);
    expect(reply.errors![0]!.message).toContain(serving);
  }, HANG_DEADLINE_MS);

  it('goes on once B is back on its port with its tax seal key rotated: A takes B\'s new statement, the seal under the new key verifies', async () => {
    const rotated = await rotateKey(keysB, 'tax', { use: 'seal' });
    expect(rotated.created).toHaveLength(1);
    const newKid = rotated.created[0]!;
    // B restarted where A looks for it, on the same keys and the log it left when killed.
    b = await startHubProcess(`hub B (${serving}, restarted)`, envB, { port: b.port });
    const reply = await ask(units[2]!, 'TA-BDC-2026-PROC-003');
    expect(reply.errors).toBeUndefined();
    expect(reply.data.property.unitNumber).toBe(units[2]);
    const seal = reply.data.seller.taxRecords.seal;
    expect(seal).toMatchObject({ issuer: 'tax', keyId: newKid });
    expect(newKid).not.toBe(firstSealKid);
    const jwksB = await statementOfB();
    expect(verifySeal(seal.token, { jwks: jwksB })).toMatchObject({ valid: true, issuer: 'tax', keyId: newKid });
    // A holds B's new statement (the one it held before lacked the key), still signed by the root it pinned.
    const held = readFileSync(path.join(keysA, 'peers', `${serving}.federation.jwt`), 'utf8');
    const heldJwks = verifyPeerJwks(held, { hub: serving, root: rootB });
    if (!heldJwks.valid) throw new Error(`A's held statement of B does not verify against B's root: ${heldJwks.reason}`);
    expect(heldJwks.jwks.keys.map((k) => k.kid)).toContain(newKid);
    // Both logs still linked after B's restart.
    const mine = await records(auditorA, { caseNumber: 'TA-BDC-2026-PROC-003' });
    expect(mine).toHaveLength(1);
    const theirs = await records(await clientOf(b, keysB, serving, 'auditor'), { federationRequestId: mine[0].federationRequestId });
    expect(theirs).toEqual([expect.objectContaining({ onBehalfOf: { hub: requesting, consumer: CROSS_CITY_PEER.requester, request: mine[0].requestId } })]);
  }, HANG_DEADLINE_MS);
});
