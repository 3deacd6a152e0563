/**
 * `npm run bench` (and `npm run bench:quick`): starts the four sandbox department systems seeded
 * with 100 000 persons, the hub and the baselines, each as its own process; drives each with
 * autocannon (its own process) after a warm-up, over several rounds; prints one table and writes
 * bench/results/<timestamp>.json. See bench/README.md for what each row means and what runs where.
 *
 * Flags: --quick, --size <persons>, --seed <n>, --only <row,row>, --profile / --no-profile,
 * --profile-load S1|S2|S3 (the load under which the hub is profiled; default S2),
 * --connections <n>, --rounds <n>, --duration <s>, --warmup <s>, --real-estate postgres|pglite
 * (default: a throw-away PostgreSQL server when the Debian binaries are installed, else the
 * embedded PGlite engine, which runs one statement at a time), --events <n> (changes per burst of
 * rows E/Ew), --event-poll-ms <n> (the hub's change-feed poll interval in rows E/Ew),
 * --event-subscribers <n> (streams or webhooks in rows E/Ew, each delivered every event),
 * --webhook-concurrency <n> (the hub's webhooks.concurrency in row Ew; default the hub's, 8),
 * --event-profile (a CPU profile of each E/Ew hub, written when it stops; its summary is logged),
 * --federation-size <n> (row F: persons per city, 20 000; its single hub holds both cities'),
 * --hub-heap-growth <percent> (every hub's memory.heapGrowthPercent; 0 for V8's own heuristics;
 * default the hub's, 100).
 *
 * The verdicts are issue 19's gates 1–4 and goals 5–8 (bench/lib/verdicts.ts), then issue 16's
 * events target and issue 18's row F target; bench/README.md "Modes, targets, profiles".
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSeed } from '../departments';
import { PROPERTY_TRANSFER_QUERY } from '../src/cli/examples';
import { formatErrorCodes } from './lib/error-codes';
import { EVENT_SUBSCRIBER, eventHubConfig, runEventRow, type EventPlan, type EventRowExtra, type EventTransport } from './lib/events';
import { runFederationRow } from './lib/federation';
import { FEDERATION_CPU_TARGET, federationVerdict } from './lib/federation-seeds';
import { runLoad } from './lib/load';
import { buildPools, resizeFamilies, type Pools, type TransferCase } from './lib/pools';
import { repin, stopAll, TASKSET_AVAILABLE } from './lib/processes';
import { coreBusySeconds, cpuMeter, processGroup, sampleRss } from './lib/proc-stats';
import { findPostgresBin, startBenchPostgres, type BenchPostgres } from './lib/postgres';
import { prepareSecurity, type ModeRequests } from './lib/security';
import { formatProfile, monotonicUs, shareOf, summarizeProfileFile, type ProfileSummary, type ProfileWindow } from './lib/profile';
import { formatTable, formatTargets, summarize, type RoundResult, type RowResult, type TargetCheck } from './lib/report';
import { gate1, gate2, gate3, gate4, goal5Linearity, goal5Throughput, goal6, goal7, goal8, ISSUE_19, versusCeiling } from './lib/verdicts';
import { familyBodies, livingAllowanceFundBodies, meshPartiesBodies, partiesBodies, transferBodies, transferBody } from './lib/scenarios';
import {
  DEPARTMENTS,
  FUND_DEPARTMENT,
  HUB_MODES,
  ROOT,
  composeMesh,
  sandboxCalls,
  setSandboxLatency,
  startB1,
  startB2,
  startB2S3,
  startB3,
  startC,
  setHubHeapGrowth,
  startHub,
  startSandbox,
  type Department,
  type Endpoints,
  type HubMode,
  type Running,
} from './lib/servers';

/** How long and how hard each row is driven. */
interface Plan {
  warmupSec: number;
  rounds: number;
  roundSec: number;
  /** Connections of the throughput rows. */
  connections: number;
  /** Connections of the latency rows (S4): few enough that no server queues. */
  latencyConnections: number;
  profile: boolean;
  /** The load under which the hub's CPU profile is taken: S2 (cache cold, many units) or S1 (one unit again, cache warm). */
  profileLoad: 'S1' | 'S2' | 'S3';
  /** Load through the hub before its first row, so that every department has run its code paths and touched its data once. */
  departmentWarmupSec: number;
  /** Rows E/Ew: department changes per burst (one burst per round). */
  eventBurst: number;
  /** Rows E/Ew: the hub's change-feed poll interval, in milliseconds (the hub's default: 300). */
  eventPollMs: number;
  /** Rows E/Ew: subscribers (streams or webhooks), each delivered every event. */
  eventSubscribers: number;
  /** Row Ew: the hub's webhooks.concurrency (unset: the hub's default, 8). */
  webhookConcurrency?: number;
  /** A CPU profile of each E/Ew hub. */
  eventProfile?: boolean;
  /** `--hub-heap-growth <percent>`: every hub's memory.heapGrowthPercent (0: V8's own heuristics); absent: the hub's default. */
  hubHeapGrowthPercent?: number;
}

const FULL: Plan = { warmupSec: 8, rounds: 3, roundSec: 10, connections: 32, latencyConnections: 8, profile: true, profileLoad: 'S2', departmentWarmupSec: 10, eventBurst: 1000, eventPollMs: 300, eventSubscribers: 4 };
const QUICK: Plan = { warmupSec: 1, rounds: 1, roundSec: 2, connections: 32, latencyConnections: 8, profile: false, profileLoad: 'S2', departmentWarmupSec: 2, eventBurst: 300, eventPollMs: 300, eventSubscribers: 4 };
/** Latency of every department in S4, in milliseconds. */
const FAN_OUT_LATENCY_MS = 20;
/** Share of core 0 (%) used outside the benchmark above which a round is disturbed. */
const DISTURBED_PERCENT = 10;
/** Disturbed rounds run again per row before a disturbed one is kept (and flagged). */
const MAX_DISCARDED_ROUNDS = 3;
/** Rows E/Ew: changes per second of the paced phase (latency with nothing queued), parallel change requests of a burst, changes before measuring. */
const EVENT_PACED_PER_SECOND = 5;
const EVENT_BURST_CONCURRENCY = 8;
const EVENT_WARMUP = 50;
/** Rows E/Ew: the target of secure deliveries against the same deliveries unsigned and unaudited. */
const EVENT_RATIO_TARGET = 0.7;
/** Replies compared between the hub and each baseline before measuring. */
const CHECKED_REPLIES = 20;
/** The hub rows each mode runs: everything secure and unsecured; the audit-off baseline where the audit target is judged (S2) and to split the event gap (E). */
const HUB_ROWS: Readonly<Record<HubMode, readonly string[]>> = {
  secure: ['S1', 'S2', 'S3-10', 'S3', 'S3-100', 'S3f', 'S2p', 'S4', 'E', 'Ew'],
  // E: how much of the event gap is the access log (one durable record per delivery).
  'secure-audit-off': ['S2', 'E'],
  // A webhook is registered by a signed caller: Ew runs in signed mode only.
  unsecured: ['S1', 'S2', 'S3-10', 'S3', 'S3-100', 'S3f', 'S2p', 'S4', 'E'],
};
/** All row ids, in table order (F also gives F-1, its single hub). */
const ROW_IDS = ['C', 'B1', 'S1', 'S2', 'B2', 'S3-10', 'S3', 'S3-100', 'B2-S3', 'S3f', 'S2p', 'B3', 'S4', 'B2-S4', 'E', 'Ew', 'F'] as const;
/** The living-allowance rows by persons per request (goal 5: CPU per request linear in persons); S3 is the 50 of the original row. */
const S3_SIZES: readonly { id: string; persons: number }[] = [
  { id: 'S3-10', persons: 10 },
  { id: 'S3', persons: 50 },
  { id: 'S3-100', persons: 100 },
];
/** Row F: persons per city by default (its single hub holds both cities'; two cities of 100 000 and both again would triple the bench's start-up). */
const FEDERATION_SIZE = 20_000;

interface Args {
  plan: Plan;
  quick: boolean;
  size: number;
  seed: number;
  only: Set<string>;
  postgres: boolean;
  /** Row F: persons per city (its single hub holds both cities'). */
  federationSize: number;
}

function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const plan = { ...(quick ? QUICK : FULL) };
  let size = 100_000;
  let seed = 1;
  let only = new Set<string>(ROW_IDS);
  let postgres = findPostgresBin() !== undefined;
  let federationSize = FEDERATION_SIZE;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (min: number): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min) throw new Error(`${a} must be an integer ≥ ${min}`);
      return n;
    };
    if (a === '--quick') continue;
    else if (a === '--size') size = int(10);
    else if (a === '--seed') seed = int(0);
    else if (a === '--federation-size') federationSize = int(500);
    else if (a === '--connections') plan.connections = int(1);
    else if (a === '--rounds') plan.rounds = int(1);
    else if (a === '--duration') plan.roundSec = int(1);
    else if (a === '--warmup') plan.warmupSec = int(0);
    else if (a === '--events') plan.eventBurst = int(10);
    else if (a === '--event-poll-ms') plan.eventPollMs = int(50);
    else if (a === '--event-subscribers') plan.eventSubscribers = int(1);
    else if (a === '--webhook-concurrency') plan.webhookConcurrency = int(1);
    else if (a === '--event-profile') plan.eventProfile = true;
    else if (a === '--hub-heap-growth') plan.hubHeapGrowthPercent = int(0);
    else if (a === '--profile') plan.profile = true;
    else if (a === '--no-profile') plan.profile = false;
    else if (a === '--profile-load') {
      const load = value();
      if (load !== 'S1' && load !== 'S2' && load !== 'S3') throw new Error('--profile-load must be S1, S2 or S3');
      plan.profileLoad = load;
      plan.profile = true;
    }
    else if (a === '--real-estate') {
      const engine = value();
      if (engine !== 'postgres' && engine !== 'pglite') throw new Error('--real-estate must be postgres or pglite');
      postgres = engine === 'postgres';
    }
    else if (a === '--only') {
      only = new Set(value().split(','));
      for (const id of only) if (!(ROW_IDS as readonly string[]).includes(id)) throw new Error(`--only: unknown row ${id}; rows are ${ROW_IDS.join(', ')}`);
    } else throw new Error(`unknown flag ${a}`);
  }
  return { plan, quick, size, seed, only, postgres, federationSize };
}

/** Sorted-key JSON, so that two replies compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

async function post(url: string, requestBody: string, headers: Record<string, string> = {}): Promise<{ data?: Record<string, unknown>; errors?: unknown[] }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: requestBody });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as { data?: Record<string, unknown>; errors?: unknown[] };
}

/** The `data` of a reply, canonical: replies of different servers (and modes: receipts) compare on it. */
const dataOf = (reply: unknown): string => canonical((reply as { data?: unknown }).data);

/** Fails unless the reply has data and no errors. */
function checkReply(what: string, reply: { data?: unknown; errors?: unknown[] }): void {
  if (reply.errors?.length || reply.data == null) throw new Error(`${what}: the reply has errors or no data: ${JSON.stringify(reply).slice(0, 500)}`);
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { plan } = args;
  setHubHeapGrowth(plan.hubHeapGrowthPercent);
  const started = Date.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = path.join(ROOT, 'bench', 'results');
  const tmpDir = path.join(ROOT, '.tmp', `bench-${process.pid}`);
  mkdirSync(resultsDir, { recursive: true });
  mkdirSync(tmpDir, { recursive: true });

  // What runs where: the server under test alone on core 0; the departments, the load generator
  // and this runner on core 1.
  const pinning = TASKSET_AVAILABLE && os.cpus().length >= 2;
  const serverCpus = pinning ? '0' : undefined;
  const otherCpus = pinning ? '1' : undefined;
  if (otherCpus) repin(process.pid, otherCpus);
  const persons = [...(args.only.size > (args.only.has('F') ? 1 : 0) ? [`${args.size} persons`] : []), ...(args.only.has('F') ? [`row F ${args.federationSize} persons per city`] : [])].join(', ');
  log(`bench: ${args.quick ? 'quick' : 'full'} run, ${persons}, ${plan.rounds}×${plan.roundSec} s rounds after ${plan.warmupSec} s warm-up; ` +
    (pinning ? 'server under test on core 0, departments + load generator + runner on core 1' : 'taskset unavailable or < 2 cores: nothing pinned'));

  const rows: RowResult[] = [];
  const startup: Record<string, number> = {};
  const profiles: { mode: HubMode; file: string; summary: ProfileSummary }[] = [];
  const notes: string[] = [];

  /**
   * Warm-up, then the measured rounds of one row against one running server. `meters`: whose CPU
   * counts as the departments', which HTTP departments' calls are counted, and (row F) the peer
   * hub whose CPU is measured beside the server's.
   */
  async function measureRow(
    spec: { id: string; scenario: string; server: string; mode: string; connections: number; note?: string },
    target: Running,
    bodies: string[],
    requests: ModeRequests,
    meters: { departments: () => { stop(): number }; calls?: Readonly<Record<string, string>>; peerPids?: readonly number[]; rate?: number },
  ): Promise<RowResult> {
    const job = {
      url: target.url,
      connections: spec.connections,
      bodies,
      ...(meters.rate !== undefined ? { overallRate: meters.rate } : {}),
      ...(requests.bodyHeaders ? { bodyHeaders: requests.bodyHeaders } : {}),
      ...(requests.signing ? { signing: requests.signing } : {}),
    };
    const loadOptions = { cpus: otherCpus, tmpDir };
    if (plan.warmupSec > 0) await runLoad({ ...job, durationSec: plan.warmupSec }, loadOptions);
    const rounds: RoundResult[] = [];
    let discarded = 0;
    // A round in which processes outside the benchmark took ≥ 10 % of core 0 is run again (at most 3 times per row).
    for (let r = 0; r < plan.rounds; r++) {
      const counted = Object.entries(meters.calls ?? {});
      const callsBefore = counted.length > 0 ? await Promise.all(counted.map(([, url]) => sandboxCalls(url))) : undefined;
      // Reading the event-loop delay resets its histogram: the read after the round covers the round.
      await target.eventLoop?.reset();
      const rss = sampleRss(target.process.pid);
      const serverCpu = cpuMeter([target.process.pid]);
      const peerCpu = meters.peerPids ? cpuMeter(meters.peerPids) : undefined;
      const departmentsCpu = meters.departments();
      const coresBefore = coreBusySeconds();
      const roundStart = performance.now();
      const load = await runLoad({ ...job, durationSec: plan.roundSec }, loadOptions);
      const cpuSec = { server: serverCpu.stop(), departments: departmentsCpu.stop(), loadGenerator: load.cpuSec, ...(peerCpu ? { peer: peerCpu.stop() } : {}) };
      const wallSec = (performance.now() - roundStart) / 1000;
      const coreBusyPercent = coreBusySeconds().map((busy, i) => (100 * (busy - (coresBefore[i] ?? busy))) / wallSec);
      // Over the whole wall time of the round (load generator start and exit included), like the core figures.
      const foreignCore0Percent = serverCpus !== undefined && coreBusyPercent[0] !== undefined ? Math.max(0, coreBusyPercent[0] - (100 * cpuSec.server) / wallSec) : undefined;
      const memory = rss.stop();
      const eventLoopP99Ms = await target.eventLoop?.p99Ms();
      let callsPerRequest: Record<string, number> | undefined;
      if (callsBefore) {
        const after = await Promise.all(counted.map(([, url]) => sandboxCalls(url)));
        const total = load.requests + load.non2xx;
        callsPerRequest = Object.fromEntries(counted.map(([d], i) => [d, total > 0 ? (after[i]! - callsBefore[i]!) / total : 0]));
      }
      if ((foreignCore0Percent ?? 0) >= DISTURBED_PERCENT && discarded < MAX_DISCARDED_ROUNDS) {
        discarded++;
        log(`  ${spec.id} ${spec.mode}: round disturbed (${foreignCore0Percent!.toFixed(0)} % of core 0 used outside the benchmark), running it again`);
        r--;
        continue;
      }
      rounds.push({
        load,
        rssPeakMiB: memory.peakMiB,
        rssMeanMiB: memory.meanMiB,
        cpuSec,
        ...(callsPerRequest ? { callsPerRequest } : {}),
        coreBusyPercent,
        ...(foreignCore0Percent !== undefined ? { foreignCore0Percent } : {}),
        ...(eventLoopP99Ms !== undefined ? { eventLoopP99Ms } : {}),
      });
    }
    const row: RowResult = { ...spec, poolSize: bodies.length, rounds, summary: summarize(rounds), ...(discarded > 0 ? { discardedRounds: discarded } : {}) };
    const s = row.summary;
    log(`  ${spec.id.padEnd(5)} ${spec.server.padEnd(10)} ${spec.mode.padEnd(9)} ${s.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${s.p50Ms.toFixed(1)} ms  p99 ${s.p99Ms.toFixed(1)} ms  RSS ${s.rssPeakMiB.toFixed(0)} MiB  ${s.serverCpuMsPerReq.toFixed(2)} CPU ms/req${s.peerCpuMsPerReq !== undefined ? ` (peer ${s.peerCpuMsPerReq.toFixed(2)})` : ''}  failures ${s.failures}${formatErrorCodes(s.errorCodes)}`);
    rows.push(row);
    return row;
  }

  try {
    // Row F: two cities' hubs and one hub holding both, on departments of its own (docs in bench/README.md).
    const otherRows = [...args.only].some((id) => id !== 'F');
    let pg: BenchPostgres | undefined;
    if (args.postgres) {
      const tp = performance.now();
      pg = await startBenchPostgres({ ...(otherCpus ? { cpus: otherCpus } : {}) });
      startup['postgres'] = performance.now() - tp;
    }
    // Two sequential round trips (the unit, then its other parties); a mixed pool is judged against the deeper case too.
    const fanOutLevels = 2;
    const eventExtras = new Map<string, EventRowExtra>();
    /** The variables of the rows over the bench's seed (their note), once made. */
    let poolCounts: { transfers: number; twoLevel: number; fanOut: number; families: number } | undefined;

    // 0. Row F first: its departments are stopped before the others start (its rows join `rows` as they are measured).
    if (args.only.has('F')) {
      await runFederationRow({
        size: args.federationSize,
        seed: args.seed,
        tmpDir,
        serverCpus,
        otherCpus,
        pg,
        startup,
        checkedReplies: CHECKED_REPLIES,
        connections: plan.connections,
        log,
        checkReply,
        measure: (spec, target, bodies, requests, meters) =>
        measureRow(spec, target, bodies, requests, {
            // The bench's PostgreSQL (postmaster and backends) counts as the departments', as in the other rows.
            departments: () => cpuMeter(pg ? () => [...meters.departmentPids, ...processGroup(pg!.process.pid)] : meters.departmentPids),
            ...(meters.peerPids ? { peerPids: meters.peerPids } : {}),
            ...(meters.rate !== undefined ? { rate: meters.rate } : {}),
          }),
      });
    }

    if (otherRows) {

      // 1. The departments (and a second real-estate sandbox with latency for S4: PostgreSQL has no control route).
      const needLatency = args.only.has('S4') || args.only.has('B2-S4');
      const t0 = performance.now();
      if (pg && needLatency) await pg.createDatabase('bench_slow');
      const sandboxStarts = DEPARTMENTS.map((name) =>
        startSandbox(name, { size: args.size, seed: args.seed, ...(otherCpus ? { cpus: otherCpus } : {}), ...(pg && name === 'real-estate' ? { databaseUrl: pg.urlOf('postgres') } : {}) }),
      );
      const slowRealEstate = needLatency
        ? startSandbox('real-estate', {
            size: args.size,
            seed: args.seed,
            latencyMs: FAN_OUT_LATENCY_MS,
            label: 'sandbox real-estate (20 ms)',
            ...(otherCpus ? { cpus: otherCpus } : {}),
            ...(pg ? { databaseUrl: pg.urlOf('bench_slow') } : {}),
          })
        : undefined;
      // The fifth department runs beside the others, as in the hub's own graph (its demo policy grants its fields); only S3f asks it, and no baseline does.
      const fundStart = startSandbox(FUND_DEPARTMENT, { size: args.size, seed: args.seed, ...(otherCpus ? { cpus: otherCpus } : {}) });
      const seedStart = performance.now();
      const seedData = generateSeed({ seed: args.seed, size: args.size });
      const pools: Pools = buildPools(seedData);
      // Rows E/Ew: the legal representative of the enterprises the bench registers (a person of the seed).
      const eventLegalRep = seedData.persons[3]!.idNumber;
      startup['seed+pools (runner)'] = performance.now() - seedStart;
      const sandboxes = await Promise.all(sandboxStarts);
      const slowRe = slowRealEstate ? await slowRealEstate : undefined;
      const fund = await fundStart;
      startup[`sandbox ${FUND_DEPARTMENT}`] = fund.readyMs;
      DEPARTMENTS.forEach((name, i) => (startup[`sandbox ${name}`] = sandboxes[i]!.readyMs));
      if (slowRe) startup['sandbox real-estate (20 ms)'] = slowRe.readyMs;
      startup['departments ready (wall)'] = performance.now() - t0;
      log(`bench: departments ready in ${(startup['departments ready (wall)']! / 1000).toFixed(1)} s; ${pools.transfers.length} enterprise→person transfers, ${pools.families.length} family lists`);
      const endpoints = Object.fromEntries(DEPARTMENTS.map((name, i) => [name, sandboxes[i]!.url])) as Endpoints;
      const hubEndpoints = { ...endpoints, [FUND_DEPARTMENT]: fund.url };
      // With --postgres the database's own processes (postmaster and backends) count as the real-estate department's.
      const departmentPids = [...sandboxes.map((s) => s.process.pid), ...(slowRe ? [slowRe.process.pid] : [])];
      const departmentCpu = (): { stop(): number } => cpuMeter(pg ? () => [...departmentPids, ...processGroup(pg!.process.pid)] : departmentPids);
      const httpDepartments = DEPARTMENTS.filter((d): d is Exclude<Department, 'real-estate'> => d !== 'real-estate');

      const cold = pools.transfers;
      const twoLevel = cold.filter((c) => c.levels === 2);
      const fanOutCases: TransferCase[] = twoLevel.length >= 50 ? twoLevel : cold;
      poolCounts = { transfers: cold.length, twoLevel: twoLevel.length, fanOut: fanOutCases.length, families: pools.families.length };

      /** The rows over the four departments: their CPU, and their calls when `countCalls`. */
      const measure = (spec: Parameters<typeof measureRow>[0], target: Running, bodies: string[], requests: ModeRequests, countCalls: boolean): Promise<RowResult> =>
        measureRow(spec, target, bodies, requests, { departments: departmentCpu, ...(countCalls ? { calls: Object.fromEntries(httpDepartments.map((d) => [d, endpoints[d]])) } : {}) });

      /** Runs `work` with a server that is stopped afterwards, whatever happens. */
      async function withServer<T>(start: () => Promise<Running>, work: (server: Running) => Promise<T>): Promise<T> {
        const server = await start();
        try {
          return await work(server);
        } finally {
          await server.process.stop();
        }
      }

      // 2. The hub, in each mode: S1, S2, S3 and the parties subset that B3 can also answer.
      const security = await prepareSecurity(tmpDir);
      // S3 at 10, 50 and 100 persons per request (goal 5's linear fit), each over its own lists.
      const familyLists = new Map(S3_SIZES.map(({ id, persons }) => [id, persons === 50 ? pools.families : resizeFamilies(pools.families, persons)]));
      const families = familyBodies(pools.families);
      const fundFamilies = livingAllowanceFundBodies(pools);
      const hubReplies = { example: undefined as unknown, transfers: [] as unknown[], parties: [] as unknown[], allowance: [] as unknown[] };
      const hubRows = ['S1', 'S2', ...S3_SIZES.map((s) => s.id), 'S3f', 'S2p'].filter((id) => args.only.has(id));
      const needHubReplies = ['C', 'B1', 'B2', 'B3', 'B2-S4', 'B2-S3'].some((id) => args.only.has(id));
      let departmentsWarm = false;
      if (hubRows.length > 0 || needHubReplies) {
        for (const mode of HUB_MODES) {
          const runs = (id: string): boolean => args.only.has(id) && HUB_ROWS[mode].includes(id);
          const transfer = security.propertyTransfer(mode);
          const common = { server: 'hub', mode, connections: plan.connections };
          if (runs('S1')) {
            // S1 on a hub with its record cache (the default): after the first request the unit, the parties and the taxes come from the cache.
            await withServer(
              () => startHub(hubEndpoints, { mode, keysDir: security.keysDir, tmpDir, ...(serverCpus ? { cpus: serverCpus } : {}) }),
              async (hub) => {
                const first = transferBody(pools.example);
                checkReply(`hub S1 (${mode})`, await post(hub.url, first, security.headersFor(transfer, first, 0)));
                await measure({ id: 'S1', scenario: 'property transfer, one unit again (cache warm)', ...common }, hub, [first], transfer, true);
              },
            );
          }
          if (!HUB_ROWS[mode].some((id) => id !== 'S1' && runs(id)) && !(needHubReplies && mode === 'unsecured')) continue;
          // The other rows on a hub without its record cache: every request asks the departments.
          await withServer(
            () => startHub(hubEndpoints, { mode, keysDir: security.keysDir, tmpDir, cache: false, ...(serverCpus ? { cpus: serverCpus } : {}) }),
            async (hub) => {
              const allowance = security.livingAllowance(mode, pools.families);
              const ask = (requestBody: string, requests: ModeRequests, index = 0) => post(hub.url, requestBody, security.headersFor(requests, requestBody, index));
              const example = await ask(transferBody(pools.example), transfer);
              checkReply(`hub S1 (${mode})`, example);
              hubReplies.example = { data: example.data };
              hubReplies.transfers = [];
              hubReplies.parties = [];
              for (const c of cold.slice(0, CHECKED_REPLIES)) {
                const reply = await ask(transferBody(c.variables), transfer);
                checkReply(`hub S2 (${mode})`, reply);
                hubReplies.transfers.push(reply);
                const parties = await ask(partiesBodies([c])[0]!, transfer);
                checkReply(`hub S2p (${mode})`, parties);
                hubReplies.parties.push(parties);
              }
              // B2-S3 is checked against the open hub's living-allowance replies (no receipts, nothing masked).
              if (mode === 'unsecured' && args.only.has('B2-S3')) {
                hubReplies.allowance = [];
                for (const requestBody of families.slice(0, CHECKED_REPLIES)) {
                  const reply = await ask(requestBody, allowance);
                  checkReply(`hub S3 (${mode})`, reply);
                  hubReplies.allowance.push(reply);
                }
              }
              // The living-allowance check may be refused as a whole in one mode and size (see the note it leaves): the other rows still run.
              const s3Problems = new Map<string, string>();
              const s3Runs = new Map<string, { bodies: string[]; requests: ModeRequests }>();
              for (const { id, persons } of S3_SIZES.filter((size) => runs(size.id))) {
                const lists = familyLists.get(id)!;
                const bodies = familyBodies(lists);
                const requests = persons === 50 ? allowance : security.livingAllowance(mode, lists);
                if (bodies.length === 0) {
                  s3Problems.set(id, `${id} ${mode} not measured: the seed has no list of ${persons} persons (use a larger --size)`);
                } else {
                  try {
                    checkReply(`hub ${id} (${mode})`, await ask(bodies[0]!, requests, 0));
                    s3Runs.set(id, { bodies, requests });
                  } catch (error) {
                    const headerBytes = Object.entries(security.headersFor(requests, bodies[0]!, 0)).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
                    s3Problems.set(id, `${id} ${mode} not measured: ${error instanceof Error ? error.message.split('\n')[0] : String(error)} (request headers ${(headerBytes / 1024).toFixed(1)} KiB)`);
                  }
                }
                const problem = s3Problems.get(id);
                if (problem) {
                  notes.push(problem);
                  log(`bench: ${problem}`);
                }
              }
              const s3Problem = s3Problems.get('S3');
              if (!departmentsWarm && plan.departmentWarmupSec > 0) {
                // Every department runs its code paths and touches its data once before the first row.
                await runLoad(
                  { url: hub.url, connections: plan.connections, bodies: transferBodies(cold), durationSec: plan.departmentWarmupSec, ...(transfer.signing ? { signing: transfer.signing } : {}) },
                  { cpus: otherCpus, tmpDir },
                );
                departmentsWarm = true;
              }
              if (runs('S2')) await measure({ id: 'S2', scenario: 'property transfer, many units (cache cold)', ...common }, hub, transferBodies(cold), transfer, true);
              for (const { id, persons } of S3_SIZES) {
                const run = s3Runs.get(id);
                if (run) await measure({ id, scenario: `living allowance, ${persons} persons`, ...common }, hub, run.bodies, run.requests, true);
              }
              if (runs('S3f') && !s3Problem) {
                checkReply(`hub S3f (${mode})`, await ask(fundFamilies[0]!, allowance, 0));
                await measure({ id: 'S3f', scenario: 'living allowance + housing fund, 50 persons', ...common }, hub, fundFamilies, allowance, true);
              }
              if (runs('S2p')) await measure({ id: 'S2p', scenario: 'transfer parties (MR+SS), many units', ...common }, hub, partiesBodies(cold), transfer, true);
            },
          );
        }
      }

      // 3. C and B1: the worked example from memory, graphql-js alone (C, the ceiling) and Apollo Server (B1).
      const replyFile = path.join(tmpDir, 'b1-reply.json');
      if (args.only.has('C') || args.only.has('B1')) writeFileSync(replyFile, JSON.stringify(hubReplies.example));
      if (args.only.has('C')) {
        await withServer(
          () => startC(replyFile, { ...(serverCpus ? { cpus: serverCpus } : {}) }),
          async (c) => {
            const reply = await post(c.url, transferBody(pools.example));
            if (dataOf(reply) !== dataOf(hubReplies.example)) throw new Error(`C does not answer what the hub answers:\nhub ${JSON.stringify(hubReplies.example).slice(0, 500)}\nC   ${JSON.stringify(reply).slice(0, 500)}`);
            await measure({ id: 'C', scenario: 'property transfer, graphql-js execute only', server: 'C graphql', mode: '-', connections: plan.connections }, c, [transferBody(pools.example)], {}, false);
          },
        );
      }
      if (args.only.has('B1')) {
        await withServer(
          () => startB1(replyFile, { ...(serverCpus ? { cpus: serverCpus } : {}) }),
          async (b1) => {
            const reply = await post(b1.url, transferBody(pools.example));
            if (dataOf(reply) !== dataOf(hubReplies.example)) throw new Error('B1 does not answer what the hub answers');
            await measure({ id: 'B1', scenario: 'property transfer, from memory', server: 'B1 apollo', mode: '-', connections: plan.connections }, b1, [transferBody(pools.example)], {}, false);
          },
        );
      }

      // 4. B2: the plain Node service over the same departments, same variables as S2.
      const checkB2 = async (b2: Running): Promise<void> => {
        for (let i = 0; i < hubReplies.transfers.length; i++) {
          const reply = await post(b2.url, transferBody(cold[i]!.variables));
          if (dataOf(reply) !== dataOf(hubReplies.transfers[i])) {
            throw new Error(`B2 does not answer what the hub answers for case ${i}:\nhub ${JSON.stringify(hubReplies.transfers[i])}\nB2  ${JSON.stringify(reply)}`);
          }
        }
      };
      if (args.only.has('B2')) {
        await withServer(
          () => startB2(endpoints, { ...(serverCpus ? { cpus: serverCpus } : {}) }),
          async (b2) => {
            await checkB2(b2);
            await measure({ id: 'B2', scenario: 'property transfer, many units (cache cold)', server: 'B2 plain', mode: '-', connections: plan.connections }, b2, transferBodies(cold), {}, true);
          },
        );
      }

      // 4b. B2-S3: the plain Node living-allowance service, same lists as S3 (50 persons).
      if (args.only.has('B2-S3')) {
        await withServer(
          () => startB2S3(endpoints, { ...(serverCpus ? { cpus: serverCpus } : {}) }),
          async (b2s3) => {
            for (let i = 0; i < hubReplies.allowance.length; i++) {
              const reply = await post(b2s3.url, families[i]!);
              if (dataOf(reply) !== dataOf(hubReplies.allowance[i])) {
                throw new Error(`B2-S3 does not answer what the hub answers for list ${i}:\nhub ${JSON.stringify(hubReplies.allowance[i]).slice(0, 2000)}\nB2-S3 ${JSON.stringify(reply).slice(0, 2000)}`);
              }
            }
            await measure({ id: 'B2-S3', scenario: 'living allowance, 50 persons', server: 'B2 plain', mode: '-', connections: plan.connections }, b2s3, families, {}, true);
          },
        );
      }

      // 5. B3: GraphQL Mesh over the two REST departments, same upstream calls as S2p.
      if (args.only.has('B3')) {
        const supergraph = path.join(tmpDir, 'supergraph.graphql');
        startup['mesh compose'] = composeMesh(endpoints, supergraph, { ...(otherCpus ? { cpus: otherCpus } : {}) });
        await withServer(
          () => startB3(supergraph, { ...(serverCpus ? { cpus: serverCpus } : {}) }),
          async (b3) => {
            for (let i = 0; i < hubReplies.parties.length; i++) {
              const reply = await post(b3.url, meshPartiesBodies([cold[i]!])[0]!);
              checkReply('B3', reply);
              const data = reply.data as { seller: { items: unknown[] }; buyer: { items: unknown[] } };
              const mapped = { data: { seller: data.seller.items[0], buyer: data.buyer.items[0] } };
              if (dataOf(mapped) !== dataOf(hubReplies.parties[i])) {
                throw new Error(`B3 does not answer what the hub answers for case ${i}:\nhub ${JSON.stringify(hubReplies.parties[i])}\nB3  ${JSON.stringify(mapped)}`);
              }
            }
            await measure({ id: 'B3', scenario: 'transfer parties (MR+SS), many units', server: 'B3 mesh', mode: '-', connections: plan.connections }, b3, meshPartiesBodies(cold), {}, true);
          },
        );
      }

      // 6. S4: every department 20 ms slower; the hub's latency must follow the slowest department per level.
      if (slowRe && (args.only.has('S4') || args.only.has('B2-S4'))) {
        const slowEndpoints: Endpoints = { ...endpoints, 'real-estate': slowRe.url };
        await Promise.all(httpDepartments.map((d) => setSandboxLatency(endpoints[d], FAN_OUT_LATENCY_MS)));
        try {
          if (args.only.has('S4')) {
            for (const mode of HUB_MODES.filter((m) => HUB_ROWS[m].includes('S4'))) {
              await withServer(
                () => startHub({ ...slowEndpoints, [FUND_DEPARTMENT]: fund.url }, { mode, keysDir: security.keysDir, tmpDir, cache: false, ...(serverCpus ? { cpus: serverCpus } : {}) }),
                async (hub) => {
                  const first = transferBody(fanOutCases[0]!.variables);
                  checkReply(`hub S4 (${mode})`, await post(hub.url, first, security.headersFor(security.propertyTransfer(mode), first, 0)));
                  await measure(
                    { id: 'S4', scenario: `fan-out, ${FAN_OUT_LATENCY_MS} ms per department, ${fanOutLevels} levels`, server: 'hub', mode, connections: plan.latencyConnections },
                    hub,
                    transferBodies(fanOutCases),
                    security.propertyTransfer(mode),
                    true,
                  );
                },
              );
            }
          }
          if (args.only.has('B2-S4')) {
            await withServer(
              () => startB2(slowEndpoints, { ...(serverCpus ? { cpus: serverCpus } : {}) }),
              (b2) =>
                measure(
                  { id: 'B2-S4', scenario: `fan-out, ${FAN_OUT_LATENCY_MS} ms per department, ${fanOutLevels} levels`, server: 'B2 plain', mode: '-', connections: plan.latencyConnections },
                  b2,
                  transferBodies(fanOutCases),
                  {},
                  true,
                ),
            );
          }
        } finally {
          await Promise.all(httpDepartments.map((d) => setSandboxLatency(endpoints[d], 0)));
        }
      }

      // 6b. E/Ew: department events delivered by one hub: a subscription stream in each mode (E), a webhook in signed mode (Ew).
      const eventRows: { id: 'E' | 'Ew'; transport: EventTransport }[] = [
        { id: 'E', transport: 'sse' },
        { id: 'Ew', transport: 'webhook' },
      ];
      if (eventRows.some((r) => args.only.has(r.id))) {
        const configFile = path.join(tmpDir, 'hub-events.json');
        writeFileSync(configFile, JSON.stringify(eventHubConfig(plan.eventPollMs, plan.webhookConcurrency)));
        const eventPlan: EventPlan = {
          burst: plan.eventBurst,
          burstConcurrency: EVENT_BURST_CONCURRENCY,
          paced: Math.max(10, EVENT_PACED_PER_SECOND * plan.roundSec),
          pacedPerSecond: EVENT_PACED_PER_SECOND,
          warmup: EVENT_WARMUP,
          subscribers: plan.eventSubscribers,
          rounds: plan.rounds,
          deadlineMs: 120_000,
        };
        const serial = { next: 0 };
        for (const { id, transport } of eventRows.filter((r) => args.only.has(r.id))) {
          for (const mode of HUB_MODES.filter((m) => HUB_ROWS[m].includes(id))) {
            // A fresh hub per row: a webhook registered on it would otherwise be delivered to during the stream's rows.
            const profileDir = plan.eventProfile ? path.join(resultsDir, `profile-${stamp}`, `${id}-${mode}`) : undefined;
            if (profileDir) mkdirSync(profileDir, { recursive: true });
            // The summary starts once the hub is ready (its start-up is not the events' cost).
            const window: ProfileWindow = {};
            await withServer(
              () =>
                startHub(hubEndpoints, {
                  mode,
                  keysDir: security.keysDir,
                  tmpDir,
                  cache: false,
                  configFile,
                  ...(serverCpus ? { cpus: serverCpus } : {}),
                  ...(profileDir ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {}),
                }),
              async (hub) => {
                window.fromUs = monotonicUs();
                const signAs = mode === 'unsecured' ? undefined : (body: string) => security.authorizationAs(EVENT_SUBSCRIBER.consumerId, EVENT_SUBSCRIBER.context, body);
                const { rounds, discarded, extra } = await runEventRow({
                  hubUrl: hub.url,
                  hubPid: hub.process.pid,
                  mode,
                  transport,
                  sandboxUrl: endpoints['market-regulation'],
                  legalRepIdNumber: eventLegalRep,
                  signAs,
                  plan: eventPlan,
                  serial,
                  departmentCpu,
                  pinnedToCore0: serverCpus !== undefined,
                  disturbedPercent: DISTURBED_PERCENT,
                  maxDiscarded: MAX_DISCARDED_ROUNDS,
                  log,
                });
                const spec = {
                  id,
                  scenario: transport === 'sse' ? 'events: new enterprise → subscription (SSE)' : 'events: new enterprise → webhook',
                  server: 'hub',
                  mode,
                  connections: eventPlan.subscribers,
                };
                const row: RowResult = { ...spec, poolSize: eventPlan.burst, rounds, summary: summarize(rounds), ...(discarded > 0 ? { discardedRounds: discarded } : {}) };
                const s = row.summary;
                log(`  ${id.padEnd(5)} ${transport.padEnd(10)} ${mode.padEnd(9)} ${s.reqPerSec.toFixed(0).padStart(6)} events/s  latency p50 ${s.p50Ms.toFixed(1)} ms  p99 ${s.p99Ms.toFixed(1)} ms  ${s.serverCpuMsPerReq.toFixed(2)} CPU ms/event  failures ${s.failures}`);
                rows.push(row);
                eventExtras.set(`${id}/${mode}`, extra);
                window.toUs = monotonicUs();
              },
            );
            const file = profileDir ? readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
            if (profileDir) log(file ? `  ${id} ${mode} hub ${formatProfile(summarizeProfileFile(path.join(profileDir, file), 25, window))}\n  (profile: ${path.relative(ROOT, path.join(profileDir, file))})` : `  ${id} ${mode}: the hub wrote no CPU profile`);
          }
        }
      }

      // 7. A CPU profile of the hub under S2 load (or S1's or S3's, --profile-load), in each mode (the hub writes it when it exits).
      if (plan.profile) {
        const warm = plan.profileLoad === 'S1';
        for (const mode of HUB_MODES.filter((m) => m !== 'secure-audit-off')) {
          const profileDir = path.join(resultsDir, `profile-${stamp}`, mode);
          mkdirSync(profileDir, { recursive: true });
          const window: ProfileWindow = {};
          const hub = await startHub(hubEndpoints, { mode, keysDir: security.keysDir, tmpDir, ...(warm ? {} : { cache: false }), ...(serverCpus ? { cpus: serverCpus } : {}), nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] });
          try {
            // S3: the 50-person lists, each with its consents (secure mode).
            const requests = plan.profileLoad === 'S3' ? security.livingAllowance(mode, pools.families) : security.propertyTransfer(mode);
            const bodies = plan.profileLoad === 'S3' ? familyBodies(pools.families) : warm ? [transferBody(pools.example)] : transferBodies(cold);
            const load = { url: hub.url, connections: plan.connections, bodies, durationSec: plan.warmupSec + plan.roundSec };
            // The summary covers the load after its warm-up: not the hub's start-up (module loading, the schema) nor its first JIT compilations.
            window.fromUs = monotonicUs() + plan.warmupSec * 1e6;
            await runLoad({ ...load, ...(requests.signing ? { signing: requests.signing } : {}), ...(requests.bodyHeaders ? { bodyHeaders: requests.bodyHeaders } : {}) }, { cpus: otherCpus, tmpDir });
            window.toUs = monotonicUs();
          } finally {
            await hub.process.stop(15_000);
          }
          const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
          if (file) profiles.push({ mode, file: path.join(profileDir, file), summary: summarizeProfileFile(path.join(profileDir, file), 15, window) });
          else notes.push(`the hub (${mode}) wrote no CPU profile`);
        }
      }
    }

    // 8. Ratios, targets, the table and the JSON.
    const rowKey = (r: { id: string; mode: string }): string => (r.mode === '-' ? r.id : `${r.id}/${r.mode}`);
    const byKey = new Map(rows.map((r) => [rowKey(r), r]));
    const get = (id: string, mode: HubMode | '-' = '-'): RowResult | undefined => byKey.get(mode === '-' ? id : `${id}/${mode}`);
    const ratios = new Map<string, string>();
    const checks: TargetCheck[] = [];
    const x = (n: number): string => `${n.toFixed(2)}×`;
    const b1 = get('B1');
    const b2 = get('B2');
    const b3 = get('B3');
    const b2s4 = get('B2-S4');
    const b2s3 = get('B2-S3');
    const ceiling = get('C');
    // Issue 19's gates 1–4 and goals 5–8 (bench/lib/verdicts.ts), printed gates first, then goals, then the other issues' targets.
    const issue19: TargetCheck[] = [];
    const verdictModes = ['secure', 'unsecured'] as const;
    for (const mode of verdictModes) {
      const s1 = get('S1', mode);
      const s2 = get('S2', mode);
      const s2p = get('S2p', mode);
      const s3 = get('S3', mode);
      const s4 = get('S4', mode);
      if (s1 && b1) {
        ratios.set(rowKey(s1), `${x(s1.summary.reqPerSec / b1.summary.reqPerSec)} B1 req/s, p99 ${x(s1.summary.p99Ms / b1.summary.p99Ms)} B1`);
        issue19.push(...gate1(mode, s1.summary, b1.summary));
      }
      if (s2 && b2) {
        ratios.set(rowKey(s2), `${x(s2.summary.reqPerSec / b2.summary.reqPerSec)} B2 req/s, CPU/req ${x(s2.summary.serverCpuMsPerReq / b2.summary.serverCpuMsPerReq)} B2`);
        issue19.push(...gate2(mode, s2.summary, b2.summary));
      }
      if (s2p && b3) {
        ratios.set(rowKey(s2p), `${x(s2p.summary.reqPerSec / b3.summary.reqPerSec)} B3 req/s, CPU/req ${x(s2p.summary.serverCpuMsPerReq / b3.summary.serverCpuMsPerReq)} B3`);
        issue19.push(gate3(mode, s2p.summary, b3.summary));
      }
      if (s3 && b2s3) {
        ratios.set(rowKey(s3), `${x(s3.summary.reqPerSec / b2s3.summary.reqPerSec)} B2-S3 req/s, CPU/req ${x(s3.summary.serverCpuMsPerReq / b2s3.summary.serverCpuMsPerReq)} B2-S3`);
        issue19.push(goal5Throughput(mode, s3.summary, b2s3.summary));
      }
      const sized = S3_SIZES.flatMap(({ id, persons }) => {
        const r = get(id, mode);
        return r ? [{ persons, cpuMsPerReq: r.summary.serverCpuMsPerReq }] : [];
      });
      if (sized.length > 0 && S3_SIZES.some(({ id }) => args.only.has(id))) issue19.push(goal5Linearity(mode, sized));
      if (s4) {
        ratios.set(rowKey(s4), `p50 ${s4.summary.p50Ms.toFixed(1)} ms${b2s4 ? ` vs B2-S4 ${b2s4.summary.p50Ms.toFixed(1)} + ${ISSUE_19.s4AllowanceMs} ms allowed` : ''}`);
        if (b2s4) issue19.push(goal6(mode, s4.summary, b2s4.summary));
      }
    }
    // Gate 4: the durable access log against the same signed hub with the log off.
    const auditOn = get('S2', 'secure');
    const auditOff = get('S2', 'secure-audit-off');
    const openS2 = get('S2', 'unsecured');
    if (auditOn && auditOff) {
      ratios.set(rowKey(auditOff), `with the log (secure) = ${x(auditOn.summary.reqPerSec / auditOff.summary.reqPerSec)} this req/s`);
      issue19.push(gate4(auditOn.summary, auditOff.summary));
    }
    // Goal 7: the hub's RSS in every row of this run's persons (row F's hubs hold other seeds; E/Ew are measured too).
    const hubRssRows = rows.filter((r) => r.server === 'hub' && !r.id.startsWith('F')).map((r) => ({ key: rowKey(r), rssPeakMiB: r.summary.rssPeakMiB }));
    if (hubRssRows.length > 0) issue19.push(goal7(args.size, hubRssRows));
    // Goal 8: the GraphQL ceiling, and each property-transfer row's distance from it.
    if (ceiling) {
      const transferRows = rows.filter((r) => ['B1', 'S1', 'S2', 'B2'].includes(r.id));
      for (const r of transferRows) {
        const own = ratios.get(rowKey(r));
        ratios.set(rowKey(r), `${own ? `${own}; ` : ''}${versusCeiling(r.summary, ceiling.summary)}`);
      }
      issue19.push(goal8(ceiling.summary, transferRows.map((r) => ({ key: rowKey(r), reqPerSec: r.summary.reqPerSec }))));
    }
    const issueOrder = (c: TargetCheck): number => (c.target.startsWith('gate ') ? 0 : 100) + Number(/^(?:gate|goal) (\d+)/.exec(c.target)?.[1] ?? 99);
    checks.push(...issue19.map((c, i) => ({ c, i })).sort((a, b) => issueOrder(a.c) - issueOrder(b.c) || a.i - b.i).map(({ c }) => c));
    const missedGoals = issue19.filter((c) => c.status === 'missed' && c.target.startsWith('goal '));
    if (missedGoals.length > 0) {
      const goals = [...new Set(missedGoals.map((c) => /^goal \d+/.exec(c.target)![0]))].join(', ');
      notes.push(
        profiles.length > 0
          ? `${goals} missed; the hub's CPU profile under ${plan.profileLoad} load, top self time: ${profiles.map((p) => `${p.mode}: ${p.summary.byFile.slice(0, 6).map((e) => `${e.name} ${e.percent.toFixed(1)} %`).join(', ')}`).join(' | ')}.`
          : `${goals} missed; run with --profile for the hub's CPU profile.`,
      );
    }
    // Events: secure deliveries against the same deliveries unsigned (no seal selected, no receipt, no signed request) and unaudited.
    const pollMs = plan.eventPollMs;
    const multiples = (r: RowResult): string => `latency p50 ${(r.summary.p50Ms / pollMs).toFixed(2)}×, p99 ${(r.summary.p99Ms / pollMs).toFixed(2)}× poll (${pollMs} ms)`;
    const openEvents = get('E', 'unsecured');
    for (const r of rows.filter((row) => row.id === 'E' || row.id === 'Ew')) {
      const base = openEvents && r !== openEvents ? `; ${x(r.summary.reqPerSec / openEvents.summary.reqPerSec)} E unsecured events/s` : '';
      ratios.set(rowKey(r), `${multiples(r)}${base}`);
    }
    const secureEvents = get('E', 'secure');
    if (secureEvents && openEvents) {
      const rate = secureEvents.summary.reqPerSec / openEvents.summary.reqPerSec;
      checks.push({
        target: `events/s with seals and audit ≥ ${EVENT_RATIO_TARGET}× the same deliveries unsigned and unaudited (E secure vs E unsecured, subscription stream, burst of ${plan.eventBurst})`,
        measured: `${x(rate)} (${secureEvents.summary.reqPerSec.toFixed(0)} vs ${openEvents.summary.reqPerSec.toFixed(0)} events/s), CPU/event ${x(secureEvents.summary.serverCpuMsPerReq / openEvents.summary.serverCpuMsPerReq)}`,
        status: rate >= EVENT_RATIO_TARGET ? 'met' : 'missed',
        ...(rate < EVENT_RATIO_TARGET ? { gap: `needs ${x(EVENT_RATIO_TARGET / rate)} its throughput` } : {}),
      });
    }
    const auditOffEvents = get('E', 'secure-audit-off');
    if (secureEvents && auditOffEvents) {
      notes.push(`E: with the access log (secure) = ${x(secureEvents.summary.reqPerSec / auditOffEvents.summary.reqPerSec)} the events/s of the same signed, sealed deliveries without it (secure-audit-off): the rest of the gap to unsecured is policy, seals and receipts.`);
    }
    const webhookEvents = get('Ew', 'secure');
    if (webhookEvents && openEvents) {
      const rate = webhookEvents.summary.reqPerSec / openEvents.summary.reqPerSec;
      checks.push({
        target: `webhook events/s (signed, queued, sealed, audited) ≥ ${EVENT_RATIO_TARGET}× the unsigned, unaudited subscription stream (Ew secure vs E unsecured: a webhook needs a signed caller, so it has no unsecured run)`,
        measured: `${x(rate)} (${webhookEvents.summary.reqPerSec.toFixed(0)} vs ${openEvents.summary.reqPerSec.toFixed(0)} events/s)`,
        status: rate >= EVENT_RATIO_TARGET ? 'met' : 'missed',
        ...(rate < EVENT_RATIO_TARGET ? { gap: `needs ${x(EVENT_RATIO_TARGET / rate)} its throughput` } : {}),
      });
    }
    const eventLatencies = rows.filter((row) => row.id === 'E' || row.id === 'Ew').map((r) => `${rowKey(r)} p50 ${r.summary.p50Ms.toFixed(0)} ms = ${(r.summary.p50Ms / pollMs).toFixed(2)}×, p99 ${r.summary.p99Ms.toFixed(0)} ms = ${(r.summary.p99Ms / pollMs).toFixed(2)}×`);
    if (eventLatencies.length > 0) notes.push(`E/Ew latency from a change at the department to its delivery, paced changes, as a multiple of the feed's poll interval (${pollMs} ms): ${eventLatencies.join(' | ')}.`);
    // Row F: A's CPU per cross-city request against one hub holding both cities' departments, A+B's beside it.
    // The verdict compares both hubs at one offered rate (rows F= and F-1=), each far from its limit: a hub's CPU per request
    // depends on how busy it is, and A, held back by B, would otherwise be compared idle against a saturated single hub.
    const federated = get('F=', 'secure') ?? get('F', 'secure');
    const singleHub = get('F-1=', 'secure') ?? get('F-1', 'secure');
    if (federated && singleHub) {
      const a = federated.summary.serverCpuMsPerReq;
      const b = federated.summary.peerCpuMsPerReq ?? Number.NaN;
      const one = singleHub.summary.serverCpuMsPerReq;
      const target = `A's CPU per cross-city request ≤ ${FEDERATION_CPU_TARGET}× one hub holding both cities' departments (${federated.id} vs ${singleHub.id}, secure)`;
      try {
        const verdict = federationVerdict({ requesting: a, serving: b, single: one });
        ratios.set(rowKey(federated), `B ${b.toFixed(2)}, A+B ${(a + b).toFixed(2)} CPU ms/req; A ${x(verdict.ratio)}, A+B ${x(verdict.bothRatio)} F-1`);
        checks.push({
          target,
          measured: `${x(verdict.ratio)} (A ${a.toFixed(2)} vs ${one.toFixed(2)} CPU ms/req; A+B ${(a + b).toFixed(2)} = ${x(verdict.bothRatio)})`,
          status: verdict.met ? 'met' : 'missed',
          ...(verdict.met ? {} : { gap: `${(a - FEDERATION_CPU_TARGET * one).toFixed(2)} CPU ms/req over` }),
        });
      } catch (error) {
        checks.push({ target, measured: error instanceof Error ? error.message : String(error), status: 'not measured' });
      }
      notes.push(
        `F: 跨域通办, ${args.federationSize} persons per city, ${federated.poolSize} units of A's city whose sellers are persons of B's (rotated). F = hub A (taian) on core 0, asked the demo's CROSS_CITY_QUERY as real-estate-centre (the unit from A's registry, the seller's name and tax records through its connector of type hub to B); hub B (heze) on core 1 beside the departments, its CPU per A request measured over the same rounds. F-1 = one hub over departments holding both cities' seeds, the same query with person for hezePerson, on core 0. Both signed with the durable access log, record cache off; the replies compared before measuring (seals and the identity number B masks for A aside). F= and F-1= ask both at one offered rate (60 % of what F reached), and the verdict compares their CPU per request: at full load the single hub runs saturated while A waits on B, and a hub's CPU per request depends on how busy it is.`,
      );
    }
    // Sealing and receipts: the seal module and node:crypto in the secure hub's profile (request verification included, so an upper bound).
    const secureProfile = profiles.find((p) => p.mode === 'secure');
    if (secureProfile && plan.profileLoad === 'S2') {
      const crypto = shareOf(secureProfile.summary, (f) => f.includes('src/seal/') || f === 'pkg:node-jose' || f.startsWith('node:internal/crypto'));
      notes.push(`sealing + receipts in the secure hub's S2 profile (src/seal + node:crypto + node-jose, request verification included): ${crypto.toFixed(1)} % of its busy time.`);
    }
    if (auditOff && openS2) {
      const share = (auditOff.summary.serverCpuMsPerReq - openS2.summary.serverCpuMsPerReq) / auditOff.summary.serverCpuMsPerReq;
      notes.push(`signed mode without audit costs ${auditOff.summary.serverCpuMsPerReq.toFixed(2)} CPU ms/req against ${openS2.summary.serverCpuMsPerReq.toFixed(2)} open: ${(share * 100).toFixed(0)} % of its CPU is authentication, policy, masks, seals and receipts.`);
    }

    if (otherRows) notes.push('S1 runs on a hub with its record cache on (the default): one unit again and again, served from the cache. Every other hub row runs with the cache off (DATARUN_CACHE_ENABLED=false), so that every request asks the departments (see the calls per request).');
    if (poolCounts) notes.push(`S2/B2/S4 variables rotate through ${poolCounts.transfers} seeded transfers (${poolCounts.twoLevel} need a second round trip for other parties); S4 uses the ${poolCounts.fanOut} two-level ones.`);
    if (otherRows) notes.push('secure = security.mode "signed" + durable access log (fsync per group commit); secure-audit-off = the same without the log; unsecured = security.mode "open", no log. Signed requests are signed by the load generator as it sends them (real-estate-centre; S3: civil-affairs with 50 consents per request).');
    if (S3_SIZES.some(({ id }) => rows.some((r) => r.id === id)) && poolCounts) {
      notes.push(
        `S3: ${poolCounts.families} lists of 50 persons (whole households), LIVING_ALLOWANCE_QUERY over four departments; S3-10 the first 10 persons of each list, S3-100 two lists joined (one consent per person in secure mode). B2-S3: the plain Node living-allowance service (bench/baselines/living-allowance.ts) over the same departments and the 50-person lists, its replies checked equal to the open hub's before measuring.`,
      );
    }
    if (get('S3f', HUB_MODES[0]!)) notes.push(`S3f: the same lists, LIVING_ALLOWANCE_FUND_QUERY: S3 plus each person's housing provident fund account (the fifth department, an Apollo Federation 2 subgraph behind the generic GraphQL connector); no baseline.`);
    if (b3) notes.push('B3 (GraphQL Mesh) wraps only market regulation and social security (no PostgreSQL source in Mesh v1; its SOAP source cannot load the tax WSDL): it is compared with S2p, the same two upstream calls on the hub.');
    if (rows.some((r) => r.summary.eventLoopP99Ms !== undefined)) {
      notes.push('ELD p99: the server\'s event-loop delay p99 over the rounds (median of the rounds), in ms: monitorEventLoopDelay at 10 ms resolution, so an idle loop reads about 10 ms; the hub\'s from its /metrics (nodejs_eventloop_lag_p99_seconds, reset at each read), the baselines\' from a listener of their own; "–": the server does not tell (B3, E, Ew).');
    }
    if (ceiling) notes.push('C: graphql-js execute over a document parsed and validated once and kept, the hub\'s schema, B1\'s data from memory, on node:http (bench/baselines/graphql-ceiling.ts): the least a GraphQL server answering the worked example costs; "vs C" on the property-transfer rows.');
    notes.push('CPU ms/req: CPU time of the server process per successful request (robust when the bottleneck is elsewhere); srv/dept/gen CPU: % of one core used by the server (core 0) / the department sandboxes / the load generator (both core 1) during the rounds.');
    const callLines = rows
      .filter((r) => r.summary.callsPerRequest && ['S2', 'B2', 'S3', 'B2-S3', 'S3f', 'S2p', 'B3', 'S4'].includes(r.id) && (r.mode === '-' || r.mode === HUB_MODES[0]))
      .map((r) => `${r.id}: ${Object.entries(r.summary.callsPerRequest!).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
    if (callLines.length) notes.push(`upstream calls per request (HTTP departments): ${callLines.join(' | ')}`);

    if (eventExtras.size > 0) {
      const burstLines = [...eventExtras.entries()].map(([key, e]) => `${key} p50 ${e.burstLatencyMs.p50.toFixed(0)} ms, p99 ${e.burstLatencyMs.p99.toFixed(0)} ms${e.duplicates ? ` (${e.duplicates} duplicates)` : ''}`);
      const errorLines = [...eventExtras.entries()].filter(([, e]) => Object.keys(e.errors).length > 0).map(([key, e]) => `${key}${formatErrorCodes(e.errors)}`);
      if (errorLines.length > 0) notes.push(`E/Ew deliveries that carried errors (counted in "fail"): ${errorLines.join(' | ')}`);
      notes.push(
        `E/Ew: ${EVENT_WARMUP} warm-up changes, then per round ${Math.max(10, EVENT_PACED_PER_SECOND * plan.roundSec)} paced changes (${EVENT_PACED_PER_SECOND}/s: p50/p99 ms are the latency from sending the change to the market-regulation sandbox to the delivery's arrival, nothing queued) and a burst of ${plan.eventBurst} changes made while the sandbox holds its feed (503), then released: the hub reads the backlog at its next poll. ${plan.eventSubscribers} subscribers ("conn"), each delivered every event: "req/s" is deliveries per second (all subscribers) from the burst's first delivery to its last, CPU ms/req the hub's CPU per delivery. ` +
          `Changes are new enterprises (ENTERPRISE_REGISTERED); the subscribers are tax-bureau (ENTERPRISE_STARTUP); each delivery reads the enterprise from the department (cache off). secure: signed opening / registration, the department's seal selected, policy, receipt and durable access record per delivery; Ew also queues each event durably and signs it per Standard Webhooks. unsecured: open stream, no seal selected, no receipt, no access log. ` +
          `The feed is polled every ${pollMs} ms (up to 20 pages of 500 events per poll, so a burst is not bounded by the feed); a subscription stream runs one event at a time (in order), the next while the access records before it are written (one group-commit fsync for a burst), the webhook dispatcher ${plan.webhookConcurrency ?? 8} at a time over all webhooks (webhooks.concurrency), woken by each enqueue (its 250 ms poll only when idle). Latency during the burst (queued, from the feed's release): ${burstLines.join(' | ')}.`,
      );
    }
    const retried = rows.filter((r) => r.discardedRounds);
    if (retried.length > 0) notes.push(`rounds run again because processes outside the benchmark used core 0: ${retried.map((r) => `${rowKey(r)} ${r.discardedRounds}`).join(', ')}.`);
    const disturbed = rows.filter((r) => (r.summary.foreignCore0Percent ?? 0) >= DISTURBED_PERCENT);
    if (disturbed.length > 0) {
      notes.push(
        `"!" after srv CPU: even after ${MAX_DISCARDED_ROUNDS} retries, processes outside the benchmark used ≥ ${DISTURBED_PERCENT} % of core 0 in a round (${disturbed.map((r) => `${rowKey(r)} ${r.summary.foreignCore0Percent!.toFixed(0)} %`).join(', ')}): those rows are disturbed; run again on a quiet machine.`,
      );
    }
    const order = new Map<string, number>(ROW_IDS.map((id, i) => [id, i]));
    rows.sort((a, b) => (order.get(a.id) ?? 99) - (order.get(b.id) ?? 99) || a.mode.localeCompare(b.mode));
    const elapsedSec = (Date.now() - started) / 1000;
    const text = [
      '',
      `datarun bench — ${new Date(started).toISOString()} — ${args.quick ? 'quick' : 'full'} — ${persons}, seed ${args.seed} — ${plan.rounds}×${plan.roundSec} s rounds, ${plan.warmupSec} s warm-up — node ${process.version}, ${os.cpus().length} cores`,
      pinning ? `placement: server under test on core 0; ${otherRows ? '5 department sandboxes' : 'row F\'s departments'}${pg ? ` (real estate on ${pg.version})` : ' (real estate on embedded PGlite)'}${args.only.has('F') ? ', row F\'s hub B' : ''} + load generator (autocannon) + runner on core 1` : 'placement: not pinned (taskset unavailable or fewer than 2 cores)',
      '',
      formatTable(rows, ratios),
      '',
      ...notes.map((n) => `- ${n}`),
      '',
      'targets:',
      formatTargets(checks),
      ...profiles.flatMap((p) => ['', `hub (${p.mode}) under ${plan.profileLoad} load, ${formatProfile(p.summary)}`, `  (profile: ${path.relative(ROOT, p.file)})`]),
      '',
      `startup: ${Object.entries(startup).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}; whole run ${elapsedSec.toFixed(0)} s`,
    ].join('\n');
    process.stdout.write(`${text}\n`);

    const out = path.join(resultsDir, `${stamp}.json`);
    writeFileSync(
      out,
      JSON.stringify(
        {
          startedAt: new Date(started).toISOString(),
          elapsedSec,
          kind: args.quick ? 'quick' : 'full',
          machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: os.totalmem() / 2 ** 30, taskset: TASKSET_AVAILABLE },
          placement: pinning ? { serverUnderTest: 'core 0', departments: 'core 1', loadGenerator: 'core 1', runner: 'core 1' } : 'not pinned',
          realEstateEngine: pg ? pg.version : 'PGlite (embedded)',
          size: args.size,
          seed: args.seed,
          plan,
          hubModes: HUB_MODES,
          query: PROPERTY_TRANSFER_QUERY,
          startupMs: startup,
          rows,
          targets: checks,
          notes,
          profiles: profiles.map((p) => ({ mode: p.mode, file: path.relative(ROOT, p.file), ...p.summary })),
          table: text,
        },
        null,
        2,
      ),
    );
    log(`bench: results in ${path.relative(ROOT, out)}`);
  } finally {
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  await stopAll();
  process.exit(1);
});
