/**
 * The conformance kit's own parts (src/testing): a recording made through the recorded upstream
 * and replayed by it, each time under the whole conformance suite; the TCP fault proxy's faults
 * and counters on a raw TCP echo-style service; the scripted upstream's routes; and the module
 * checks, which must name what is wrong.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  UpstreamInvalidResponseError,
  citizenIdProblem,
  createBatchLoader,
  createHttpUpstream,
  defineConnector,
  defineConnectorModule,
  z,
  type PersonRef,
  type Resolvers,
} from '../../src/sdk';
import {
  connectorModuleProblems,
  describeConnectorConformance,
  readHttpRecording,
  sdlProblems,
  startRecordedHttpUpstream,
  startScriptedHttpUpstream,
  startTcpFaultProxy,
  syntheticCitizenIds,
  type RecordedHttpUpstream,
  type ScriptedHttpUpstream,
} from '../../src/testing';

interface Account {
  idNumber: string;
  balance: number;
}

const SDL = `
extend type Person {
  pensionAccount: PensionAccount @share(class: CONDITIONAL, purposes: ["LIVING_ALLOWANCE"], department: "pension", updateCycle: DAILY)
}
type PensionAccount {
  balance: Float! @share(class: CONDITIONAL, purposes: ["LIVING_ALLOWANCE"], department: "pension", updateCycle: DAILY)
  seal: Seal @share(class: UNCONDITIONAL, department: "seal", updateCycle: REAL_TIME)
}
`;

/** A small connector module over an HTTP service, written as an integrator would. */
const pensionModule = defineConnectorModule({
  id: 'pension',
  title: 'Pension fund 养老金',
  settings: z.strictObject({ baseUrl: z.string(), timeoutMs: z.coerce.number().int().positive().optional() }),
  typeDefs: () => SDL,
  create(settings, environment) {
    const upstream = createHttpUpstream({ connector: 'pension', baseUrl: settings.baseUrl, timeoutMs: settings.timeoutMs ?? environment.defaultTimeoutMs });
    return defineConnector({
      id: 'pension',
      title: 'Pension fund 养老金',
      createLoaders: (scope) => ({
        accountById: createBatchLoader<string, Account>(async (keys) => {
          const ids = keys.filter((k) => citizenIdProblem(k) === undefined);
          const { data } = await upstream.json<{ items?: Account[] }>({ method: 'POST', path: '/accounts', body: JSON.stringify({ ids }), signal: scope.signal });
          if (!Array.isArray(data?.items)) throw new UpstreamInvalidResponseError('pension', 'items is not a list');
          return new Map(data.items.map((a) => [a.idNumber, a]));
        }),
      }),
      resolvers: (loadersOf) => ({ Person: { pensionAccount: (p: PersonRef, _a: unknown, ctx: never) => loadersOf(ctx).accountById.load(p.idNumber) } }) as Resolvers,
      seals: { PensionAccount: { recordType: 'PensionAccount', load: async (a: Account) => a, id: (a: Account) => a.idNumber, fields: (a: Account) => ({ balance: a.balance }) } },
      probe: async () => {
        await upstream.request({ path: '/health' });
      },
      stop: () => upstream.close(),
    });
  },
});

const known = syntheticCitizenIds(100, 3);
const unknown = syntheticCitizenIds(1, 4)[0]!;
const accounts = new Map(known.map((idNumber, i) => [idNumber, { idNumber, balance: i * 10 }]));
const service = () =>
  startScriptedHttpUpstream({
    routes: {
      'POST /accounts': (request) => ({ json: { items: request.json<{ ids: string[] }>().ids.flatMap((id) => accounts.get(id) ?? []) } }),
      'GET /health': () => ({ status: 204 }),
    },
  });

const dir = mkdtempSync(path.join(os.tmpdir(), 'datarun-kit-'));
const recording = path.join(dir, 'pension.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pensionSubject = {
  id: 'pension',
  module: pensionModule,
  settings: (upstream: { url: string }, timeoutMs: number) => ({ baseUrl: `${upstream.url}/`, timeoutMs }),
  primaryLoader: (loaders: { accountById: { loadMany(keys: ArrayLike<string>): Promise<ArrayLike<unknown>> } }) => loaders.accountById,
  knownKeys: known,
  unknownKey: unknown,
  keyOf: (record: Account) => record.idNumber,
};

// 1. The suite through a recording proxy in front of the "real" service (here a scripted one)...
let real: ScriptedHttpUpstream | undefined;
describeConnectorConformance<any, RecordedHttpUpstream>({
  ...pensionSubject,
  upstream: async () => {
    real = await service();
    const recorder = await startRecordedHttpUpstream({ file: recording, recordFrom: real.url });
    const close = recorder.close.bind(recorder);
    return Object.assign(recorder, { close: async () => (await close(), await real?.close()) });
  },
});
// 2. ...then the same suite on the replay of what was recorded, with no service behind it.
describeConnectorConformance<any, RecordedHttpUpstream>({ ...pensionSubject, upstream: () => startRecordedHttpUpstream({ file: recording }) });

describe('the recorded HTTP upstream', () => {
  it('recorded what the service answered, without request headers, and replays it; an unknown request is 501 and listed', async () => {
    const file = readHttpRecording(recording);
    expect(file.exchanges.length).toBeGreaterThanOrEqual(3);
    expect(file.exchanges.some((e) => e.request.path === '/accounts' && e.response.status === 200)).toBe(true);
    expect(JSON.stringify(file)).not.toMatch(/x-api-key|authorization|user-agent/i);
    const replay = await startRecordedHttpUpstream({ file: recording });
    try {
      const health = await fetch(`${replay.url}/health`);
      expect(health.status).toBe(204);
      const other = await fetch(`${replay.url}/nowhere`, { method: 'POST', body: '{}' });
      expect(other.status).toBe(501);
      expect(replay.unmatched).toEqual([{ method: 'POST', path: '/nowhere', body: '{}' }]);
      expect(replay.calls()).toBe(2);
    } finally {
      await replay.close();
    }
    // Replaying never rewrites the recording.
    expect(readFileSync(recording, 'utf8')).toBe(`${JSON.stringify(file, null, 2)}\n`);
  });

  it('refuses a file that is not a recording, naming it', async () => {
    await expect(startRecordedHttpUpstream({ file: path.join(dir, 'missing.json') })).rejects.toThrow(/cannot read the recording .*missing\.json/);
    await expect(startRecordedHttpUpstream({ file: recording, recordFrom: 'ftp://x' })).rejects.toThrow(/recordFrom must be an absolute http\(s\) URL/);
  });
});

describe('the scripted HTTP upstream', () => {
  it('answers its routes (prefix routes included), 404 otherwise, and counts per route', async () => {
    const upstream = await startScriptedHttpUpstream({ routes: { 'GET /a': () => ({ json: 1 }), 'GET /files/*': (r) => ({ body: r.path }) } });
    try {
      expect(await (await fetch(`${upstream.url}/a`)).json()).toBe(1);
      expect(await (await fetch(`${upstream.url}/files/x/y`)).text()).toBe('/files/x/y');
      expect((await fetch(`${upstream.url}/b`)).status).toBe(404);
      expect(upstream.calls()).toBe(3);
      expect(upstream.calls('GET /a')).toBe(1);
      upstream.setFault({ mode: 'error' });
      expect((await fetch(`${upstream.url}/a`)).status).toBe(503);
      upstream.reset();
      expect(upstream.calls()).toBe(0);
    } finally {
      await upstream.close();
    }
  });

  it('refuses a route or a fault it cannot use, naming it', async () => {
    await expect(startScriptedHttpUpstream({ routes: { '/a': () => ({}) } })).rejects.toThrow(/a route is "METHOD \/path".*"\/a"/);
    const upstream = await startScriptedHttpUpstream();
    try {
      expect(() => upstream.setFault({ mode: 'flaky' as never })).toThrow(/fault mode must be one of .*"flaky"/);
      expect(() => upstream.setFault({ mode: 'slow', delayMs: -1 })).toThrow(/delayMs must be a non-negative number/);
    } finally {
      await upstream.close();
    }
  });
});

describe('the TCP fault proxy', () => {
  let target: net.Server;
  let port: number;
  beforeAll(async () => {
    // A line service: answers "ok:<line>" to every line.
    target = net.createServer((socket) => socket.on('data', (chunk) => socket.write(`ok:${chunk.toString()}`)));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    port = (target.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => target.close(() => resolve())));

  /**
   * One exchange on a new connection: what came back, and how the connection ended. With
   * `quietMs`, it stops listening after that long ('timeout'): only for the slow fault, whose
   * delay (30 s) is far beyond it, so a busy machine cannot change the outcome.
   */
  const exchange = (proxyPort: number, line: string, quietMs?: number) =>
    new Promise<{ data: string; ended: 'end' | 'error' | 'timeout' }>((resolve) => {
      const socket = net.connect(proxyPort, '127.0.0.1');
      let data = '';
      const timer = quietMs === undefined ? undefined : setTimeout(() => (socket.destroy(), resolve({ data, ended: 'timeout' })), quietMs);
      socket.on('connect', () => socket.write(line));
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
        if (data === `ok:${line}`) (clearTimeout(timer), socket.end(), resolve({ data, ended: 'end' }));
      });
      socket.on('error', () => (clearTimeout(timer), resolve({ data, ended: 'error' })));
      socket.on('end', () => (clearTimeout(timer), resolve({ data, ended: 'end' })));
    });

  it('passes bytes through, counts connections and bytes, and injects down, malformed, reset and slow', async () => {
    const proxy = await startTcpFaultProxy({ target: `127.0.0.1:${port}` });
    try {
      expect(await exchange(proxy.port, 'hello')).toEqual({ data: 'ok:hello', ended: 'end' });
      expect(proxy.connections()).toBe(1);
      expect(proxy.bytes()).toEqual({ fromClients: 5, fromTarget: 8 });

      proxy.setFault({ mode: 'down' });
      expect((await exchange(proxy.port, 'x')).ended).toBe('error');

      proxy.setFault({ mode: 'malformed', bytes: 'garbage' });
      expect(await exchange(proxy.port, 'x')).toEqual({ data: 'garbage', ended: 'end' });

      proxy.setFault({ mode: 'reset' });
      const cut = await exchange(proxy.port, 'abcdefgh');
      expect(cut.ended).toBe('error');
      expect(cut.data.length).toBeLessThan('ok:abcdefgh'.length);

      proxy.setFault({ mode: 'slow', delayMs: 30_000 });
      expect(await exchange(proxy.port, 'x', 500)).toEqual({ data: '', ended: 'timeout' });

      proxy.reset();
      expect(proxy.connections()).toBe(0);
      expect(await exchange(proxy.port, 'again')).toEqual({ data: 'ok:again', ended: 'end' });
      expect(proxy.rewriteUrl('postgres://u:p@db.example:5432/x')).toBe(`postgres://u:p@127.0.0.1:${proxy.port}/x`);
      expect(() => proxy.setFault({ mode: 'error' })).toThrow(/cannot inject the fault "error"/);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a target that is not host:port', async () => {
    await expect(startTcpFaultProxy({ target: 'localhost' })).rejects.toThrow(/target must be "host:port"/);
    await expect(startTcpFaultProxy({ target: { host: 'h', port: 70_000 } })).rejects.toThrow(/port from 1 to 65535/);
  });
});

describe('the module checks', () => {
  const good = { baseUrl: 'http://127.0.0.1:1' };

  it('find nothing wrong with a good module', async () => {
    expect(await connectorModuleProblems(pensionModule, good, pensionModule.create(pensionModule.settings.parse(good), { defaultTimeoutMs: 100 }))).toEqual([]);
  });

  it('name a settings schema that accepts unknown keys, and settings that do not pass it', async () => {
    const loose = { ...pensionModule, settings: z.object({ baseUrl: z.string() }) };
    expect(await connectorModuleProblems(loose, good)).toEqual([expect.stringMatching(/settings must refuse unknown keys \(use z\.strictObject\)/)]);
    expect(await connectorModuleProblems(pensionModule, { baseUrl: 1 })).toEqual([expect.stringMatching(/do not pass the module's settings schema \(baseUrl: /)]);
  });

  it('name invalid SDL, unclassified fields, unbounded lists and sealed types without a seal field', () => {
    expect(sdlProblems('x', 'type {', [])).toEqual([expect.stringMatching(/^connector "x": typeDefs is not valid GraphQL: Syntax Error/)]);
    const sdl = `
      extend type Person { shoeSize: Int, visits: [Visit!]! @share(class: UNCONDITIONAL, department: "x", updateCycle: DAILY) }
      type Visit { at: String @share(class: UNCONDITIONAL, department: "x", updateCycle: DAILY) }
    `;
    expect(sdlProblems('x', sdl, ['Visit', 'Person'])).toEqual([
      'connector "x": Person.shoeSize has no @share directive (every field the graph shows is classified: UNCONDITIONAL, CONDITIONAL or NOT_SHARED)',
      "connector \"x\": Person.visits is a list without @listSize(max: …) (the hub's cost limits need a bound for every list)",
      'connector "x": Visit is sealed (connector.seals) but its SDL adds no "seal: Seal" field to Visit',
      'connector "x": Person is sealed (connector.seals) but its SDL adds no "seal: Seal" field to Person',
    ]);
  });
});
