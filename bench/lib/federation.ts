/**
 * Row F (跨域通办, docs/federation.md): hub A's CPU per cross-city request against the same
 * question on one hub holding both cities' departments.
 *
 * - Federated: hub B (Heze, `heze`) over its own departments (B's seed), hub A (Tai'an, `taian`)
 *   over its own (A's seed, whose cross-city units are owned by persons of B's), with a connector
 *   of type "hub" to B configured as the demo configures it (`datarun demo cross-city`): B's graph
 *   from B's operator route `GET /federation/schema.graphql`, A's consumer `taian-hub` at B with
 *   the key B made for it, B's federation root pinned in `federation.peers`, A's policy granting
 *   its registration centre Heze's persons' tax records. The load generator asks A the demo's
 *   `CROSS_CITY_QUERY` as the centre: the unit from A's registry, the seller's name and tax records
 *   from B. A runs alone on the server core; B beside the departments.
 * - Single: one hub over departments holding both seeds (A's and B's persons, units and taxpayers
 *   in the same four departments), asked the same question with `person` for `hezePerson`.
 *
 * Both hubs signed, with the durable access log, record cache off (as every cold row), over the
 * five departments of the hub's graph (the row's query asks three of them).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CROSS_CITY_HUBS, CROSS_CITY_PEER, CROSS_CITY_QUERY, crossCityRequestingPolicy } from '../../src/cli/demo-cross-city';
import { discoverConnectorModules } from '../../src/gateway';
import { createRequestSigner, DEMO_OWNERS, initKeys, loadKeyStore, type PrivateJwk } from '../../src/seal';
import { comparableData, SINGLE_HUB_QUERY } from './federation-replies';
import { federationSeeds, type FederationCase, type FederationRole } from './federation-seeds';
import type { BenchPostgres } from './postgres';
import type { ManagedProcess } from './processes';
import type { RowResult } from './report';
import { body } from './scenarios';
import type { ModeRequests, SigningSpec } from './security';
import { startCityDepartments, startHub, type Running } from './servers';

/** What row F needs of the runner: where to run, and its measuring of a row (rounds, disturbances, CPU meters). */
export interface FederationRowContext {
  size: number;
  seed: number;
  tmpDir: string;
  serverCpus: string | undefined;
  otherCpus: string | undefined;
  pg: BenchPostgres | undefined;
  startup: Record<string, number>;
  /** Replies compared between the two hubs before measuring. */
  checkedReplies: number;
  log(line: string): void;
  /** Fails unless the reply has data and no errors. */
  checkReply(what: string, reply: { data?: unknown; errors?: unknown[] }): void;
  /** The runner's measuring of one row, with row F's own meters: its departments' processes (the bench's PostgreSQL added by the runner), and the peer hub. */
  measure(
    spec: { id: string; scenario: string; server: string; mode: string; connections: number; note?: string },
    target: Running,
    bodies: string[],
    requests: ModeRequests,
    meters: { departmentPids: readonly number[]; peerPids?: readonly number[]; rate?: number },
  ): Promise<RowResult>;
  connections: number;
}

/** The keys of both hubs: each its trust list (hub id, the demo parties, the departments as sandboxes held by the hub). */
async function prepareHubKeys(dir: string, hubId: string): Promise<void> {
  await initKeys(dir, {
    hubId,
    owners: DEMO_OWNERS.map((o) => (o.kind === 'hub' ? { ...o, id: hubId } : o)),
    departments: discoverConnectorModules().map(({ module }) => ({ id: module.id, kind: 'department' as const, name: module.title, custody: true, sandbox: true })),
  });
}

async function post(url: string, requestBody: string, headers: Record<string, string>): Promise<{ data?: Record<string, unknown>; errors?: unknown[] }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: requestBody });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as { data?: Record<string, unknown>; errors?: unknown[] };
}

/** The offered rate of rows F= and F-1=: this share of what the federated path reached (row F), at least MIN_COMPARED_RATE req/s. */
const COMPARED_RATE_SHARE = 0.6;
const MIN_COMPARED_RATE = 10;

/**
 * Runs row F: the federated pair, then the single hub, each first as fast as it answers (`F`: hub A,
 * B's CPU beside it; `F-1`: the single hub), then both at one offered rate (`F=`, `F-1=`, whose CPU
 * per request the verdict compares); returns the four rows.
 */
export async function runFederationRow(ctx: FederationRowContext): Promise<RowResult[]> {
  const { serving, requesting } = CROSS_CITY_HUBS;
  const dir = path.join(ctx.tmpDir, 'federation');
  mkdirSync(dir, { recursive: true });
  // Each hub its own data directory (its access log, and what the hub keeps beside it: proofs' status lists, webhooks, cases).
  const hubDir = (name: string): string => {
    const d = path.join(dir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const seedStart = performance.now();
  const seeds = federationSeeds({ seed: ctx.seed, size: ctx.size });
  ctx.startup['F seeds (runner)'] = performance.now() - seedStart;
  const cases: FederationCase[] = seeds.cases;
  const started: ManagedProcess[] = [];
  const stopAllOf = (): Promise<unknown> => Promise.allSettled(started.map((p) => p.stop()));
  try {
    // The three seeds' departments, each in one process on the other core; real estate in the bench's PostgreSQL when it runs.
    const t0 = performance.now();
    const roles: FederationRole[] = ['serving', 'requesting', 'single'];
    if (ctx.pg) for (const role of roles) await ctx.pg.createDatabase(`bench_f_${role}`);
    const departments = await Promise.all(
      roles.map((role) =>
        startCityDepartments(role, { size: ctx.size, seed: ctx.seed, ...(ctx.otherCpus ? { cpus: ctx.otherCpus } : {}), ...(ctx.pg ? { databaseUrl: ctx.pg.urlOf(`bench_f_${role}`) } : {}) }).then((d) => {
          started.push(d.process);
          ctx.startup[`F departments (${role})`] = d.readyMs;
          return d;
        }),
      ),
    );
    ctx.startup['F departments ready (wall)'] = performance.now() - t0;
    const [servingDepartments, requestingDepartments, singleDepartments] = departments as [(typeof departments)[0], (typeof departments)[0], (typeof departments)[0]];
    const departmentPidsOf = (...ds: { process: ManagedProcess }[]): number[] => ds.map((d) => d.process.pid);
    ctx.log(`bench: row F departments ready in ${(ctx.startup['F departments ready (wall)']! / 1000).toFixed(1)} s (${ctx.size} persons per city, ${cases.length} cross-city units)`);

    // Keys: each hub its own trust list; A's consumer at B signs with the key B made for it.
    const keysOf = { [serving]: path.join(dir, `keys-${serving}`), [requesting]: path.join(dir, `keys-${requesting}`) };
    await prepareHubKeys(keysOf[serving]!, serving);
    await prepareHubKeys(keysOf[requesting]!, requesting);
    const servingKeys = await loadKeyStore(keysOf[serving]!);
    const requestingKeys = await loadKeyStore(keysOf[requesting]!);
    const peerKey = servingKeys.privateKeyPath(CROSS_CITY_PEER.consumer);
    const centreKey = requestingKeys.privateKeyPath(CROSS_CITY_PEER.requester);
    const root = servingKeys.federationRoot()?.thumbprint;
    if (!peerKey || !centreKey || !root) throw new Error(`row F: the keys lack ${!peerKey ? `${CROSS_CITY_PEER.consumer}'s key at ${serving}` : !centreKey ? `${CROSS_CITY_PEER.requester}'s key at ${requesting}` : `${serving}'s federation root`}`);
    const signing: SigningSpec = {
      consumerId: CROSS_CITY_PEER.requester,
      keyFile: centreKey,
      context: { purpose: CROSS_CITY_PEER.purpose, caseNumber: 'TA-BDC-2026-BENCH', operator: 'bench' },
      audience: requesting,
    };
    const requests: ModeRequests = { signing };
    // The runner's own checks sign like the load generator.
    const signer = createRequestSigner({ consumerId: signing.consumerId, privateJwk: JSON.parse(readFileSync(centreKey, 'utf8')) as PrivateJwk, audience: requesting });
    const sign = (requestBody: string): Record<string, string> => ({ authorization: signer.authorization(requestBody, signing.context) });
    const federatedBodies = cases.map((c) => body(CROSS_CITY_QUERY, { unit: c.unit, seller: c.seller }));
    const singleBodies = cases.map((c) => body(SINGLE_HUB_QUERY, { unit: c.unit, seller: c.seller }));
    const checked = Math.min(ctx.checkedReplies, cases.length);
    const spec = { scenario: 'cross-city transfer: unit at A, seller\'s tax from B', mode: 'secure', connections: ctx.connections };

    // Federated: B on the other core, A alone on the server core.
    const federatedReplies: unknown[] = [];
    let row: RowResult;
    let rowAtRate: RowResult;
    let rate = MIN_COMPARED_RATE;
    const hubB = await startHub(servingDepartments.endpoints, { mode: 'secure', keysDir: keysOf[serving]!, tmpDir: hubDir('hub-b'), cache: false, label: `hub B (${serving})`, ...(ctx.otherCpus ? { cpus: ctx.otherCpus } : {}) });
    started.push(hubB.process);
    try {
      // B's operator hands over B's graph; A's configuration puts it behind A's own.
      const snapshot = await fetch(`${hubB.operatorUrl}/federation/schema.graphql`);
      if (snapshot.status !== 200) throw new Error(`row F: B's operator route /federation/schema.graphql answered HTTP ${snapshot.status}`);
      const schemaFile = path.join(dir, 'peer-schema.graphql');
      writeFileSync(schemaFile, await snapshot.text());
      const policyFile = path.join(dir, 'policy-requesting.json');
      writeFileSync(policyFile, JSON.stringify(crossCityRequestingPolicy(), null, 2));
      const configFile = path.join(dir, 'hub-requesting.json');
      const bBase = new URL(hubB.url).origin;
      writeFileSync(
        configFile,
        JSON.stringify({
          policy: { file: policyFile },
          federation: { peers: { [serving]: { url: bBase, root } } },
          connectors: {
            [serving]: { type: 'hub', url: hubB.url, hub: serving, consumer: CROSS_CITY_PEER.consumer, keyFile: peerKey, prefix: CROSS_CITY_PEER.prefix, fields: [...CROSS_CITY_PEER.fields], schemaFile },
          },
        }),
      );
      const hubA = await startHub(requestingDepartments.endpoints, {
        mode: 'secure',
        keysDir: keysOf[requesting]!,
        tmpDir: hubDir('hub-a'),
        cache: false,
        configFile,
        label: `hub A (${requesting})`,
        ...(ctx.serverCpus ? { cpus: ctx.serverCpus } : {}),
      });
      try {
        for (let i = 0; i < checked; i++) {
          const reply = await post(hubA.url, federatedBodies[i]!, sign(federatedBodies[i]!));
          ctx.checkReply(`hub A, cross-city case ${i}`, reply);
          const seller = (reply.data as { seller?: { taxRecords?: unknown } | null }).seller;
          if (!seller?.taxRecords) throw new Error(`row F: hub A gave no tax records from B for seller ${cases[i]!.seller}: ${JSON.stringify(reply).slice(0, 500)}`);
          federatedReplies.push(reply);
        }
        const meters = { departmentPids: departmentPidsOf(requestingDepartments, servingDepartments), peerPids: [hubB.process.pid] };
        row = await ctx.measure({ id: 'F', ...spec, server: 'hub A → B' }, hubA, federatedBodies, requests, meters);
        // Then at one rate both paths sustain with room to spare (a share of what the federated path reached): the CPU comparison.
        rate = Math.max(MIN_COMPARED_RATE, Math.floor(COMPARED_RATE_SHARE * row.summary.reqPerSec));
        rowAtRate = await ctx.measure({ id: 'F=', ...spec, server: 'hub A → B', note: `${rate} req/s offered` }, hubA, federatedBodies, requests, { ...meters, rate });
      } finally {
        await hubA.process.stop();
      }
    } finally {
      await hubB.process.stop();
    }

    // Single: one hub over both cities' departments, the same keys as A (Tai'an's hub, holding Heze's departments too).
    const hub = await startHub(singleDepartments.endpoints, { mode: 'secure', keysDir: keysOf[requesting]!, tmpDir: hubDir('hub-single'), cache: false, label: 'hub (both cities)', ...(ctx.serverCpus ? { cpus: ctx.serverCpus } : {}) });
    let single: RowResult;
    let singleAtRate: RowResult;
    try {
      for (let i = 0; i < checked; i++) {
        const reply = await post(hub.url, singleBodies[i]!, sign(singleBodies[i]!));
        ctx.checkReply(`single hub, case ${i}`, reply);
        const mine = JSON.stringify(comparableData(reply));
        const theirs = JSON.stringify(comparableData(federatedReplies[i] as { data?: unknown }));
        if (mine !== theirs) throw new Error(`row F: the single hub does not answer what A (with B) answers for case ${i}:\nA      ${theirs.slice(0, 600)}\nsingle ${mine.slice(0, 600)}`);
      }
      single = await ctx.measure({ id: 'F-1', ...spec, server: 'hub, both cities' }, hub, singleBodies, requests, { departmentPids: departmentPidsOf(singleDepartments) });
      singleAtRate = await ctx.measure({ id: 'F-1=', ...spec, server: 'hub, both cities', note: `${rate} req/s offered` }, hub, singleBodies, requests, { departmentPids: departmentPidsOf(singleDepartments), rate });
    } finally {
      await hub.process.stop();
    }
    return [row, single, rowAtRate, singleAtRate];
  } finally {
    await stopAllOf();
  }
}
