import net from 'node:net';
import type { GraphQLResolveInfo } from 'graphql';
import { Client } from 'pg';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData, SeedProperty } from '../../departments/seed/model';
import { SQL_OPERATION, startRealEstateSandbox, type RealEstateSandbox } from '../../departments/real-estate';
import {
  DEFAULT_REAL_ESTATE_OPTIONS,
  REAL_ESTATE_PRIMARY_LOADER,
  createRealEstateConnector,
  type RealEstateConnectorOptions,
  type RealEstateLoaders,
} from '../../connectors/real-estate';
import { HubError, citizenIdCheckChar, createHubContext, type Connector, type HubContext } from '../../src/sdk';
import { startPostgresServer } from '../support/postgres';

const data: SeedData = generateSeed({ seed: 1, size: 200 });

/** One way to run the department's database: the sandbox in front of it, and how to stop both. */
type Target = { sandbox: RealEstateSandbox; stop(): Promise<void> };

const TARGETS: [string, () => Promise<Target>][] = [
  [
    'the embedded engine (PGlite)',
    async () => {
      const sandbox = await startRealEstateSandbox({ data });
      return { sandbox, stop: () => sandbox.close() };
    },
  ],
  [
    'a real PostgreSQL server',
    async () => {
      const server = await startPostgresServer();
      try {
        const sandbox = await startRealEstateSandbox({ data, databaseUrl: server.url, proxy: true });
        return {
          sandbox,
          stop: async () => {
            await sandbox.close();
            await server.stop();
          },
        };
      } catch (error) {
        await server.stop();
        throw error;
      }
    },
  ],
];

/** A valid citizen identity number that no department knows. */
function unknownIdNumber(n: number): string {
  const first17 = `11010119800101${String(900 + n).padStart(3, '0')}`;
  return first17 + citizenIdCheckChar(first17);
}

/** A well-formed unit number that the registry does not hold. */
const UNKNOWN_UNIT = '370102001001GB00000F00000000';

/** Every identifier and name of the seed: none may appear in an error message. */
const PERSONAL_DATA = [
  ...data.persons.flatMap((p) => [p.idNumber, p.name]),
  ...data.enterprises.flatMap((e) => [e.creditCode, e.name]),
  ...data.properties.flatMap((p) => [p.unitNumber, p.certificateNumber, p.address]),
];

/** Asserts that a promise rejects with a hub error of this code and exactly this message, free of personal data. */
async function expectHubError(promise: Promise<unknown>, code: string, message: string): Promise<void> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  expect((error as HubError).code).toBe(code);
  expect((error as HubError).message).toBe(message);
  const text = JSON.stringify({ message: (error as HubError).message, extensions: (error as HubError).extensions });
  expect(PERSONAL_DATA.filter((s) => text.includes(s))).toEqual([]);
}

/** The seed's properties owned by one party, in the connector's order (unit number). */
function ownedBy(ownerId: string): SeedProperty[] {
  return data.properties.filter((p) => p.owners.some((o) => o.ownerId === ownerId)).sort((a, b) => (a.unitNumber < b.unitNumber ? -1 : 1));
}

/** Sends raw bytes over TCP, in pieces, and collects the reply until `until` says it is complete. */
async function rawExchange(port: number, host: string, pieces: Buffer[], until: (reply: Buffer) => boolean): Promise<Buffer> {
  const socket = net.connect({ port, host });
  socket.setNoDelay(true);
  let reply = Buffer.alloc(0);
  const done = new Promise<Buffer>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      if (until(reply)) resolve(reply);
    });
    socket.once('close', () => resolve(reply));
    socket.once('error', reject);
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (const piece of pieces) {
    socket.write(piece);
    await new Promise((r) => setTimeout(r, 2));
  }
  const result = await done;
  socket.destroy();
  return result;
}

function startupMessage(): Buffer {
  const params = Buffer.from('user\0postgres\0database\0postgres\0\0', 'utf8');
  const message = Buffer.alloc(8 + params.length);
  message.writeInt32BE(message.length, 0);
  message.writeInt32BE(196608, 4);
  params.copy(message, 8);
  return message;
}

function queryMessage(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const message = Buffer.alloc(5 + text.length);
  message[0] = 0x51;
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}

/** Count of ReadyForQuery messages in a backend byte stream. */
function readyCount(reply: Buffer): number {
  let n = 0;
  for (let i = 0; i + 5 <= reply.length; ) {
    if (reply[i] === 0x5a) n++;
    i += 1 + reply.readInt32BE(i + 1);
  }
  return n;
}

describe('the real-estate connector options', () => {
  it('refuses options that cannot work, naming the option', () => {
    const create = (o: Partial<RealEstateConnectorOptions>) => () => createRealEstateConnector({ url: 'postgres://reader@127.0.0.1:5432/exchange', ...o });
    expect(create({ url: 'http://127.0.0.1/' })).toThrow('real-estate connector: option "url" must be a postgres:// or postgresql:// connection string');
    expect(create({ timeoutMs: 0 })).toThrow('real-estate connector: option "timeoutMs" must be a positive integer (milliseconds), but got: 0');
    expect(create({ poolSize: 0 })).toThrow('real-estate connector: option "poolSize" must be an integer from 1 to 100, but got: 0');
    expect(create({ schema: 'x; drop table y' })).toThrow('real-estate connector: option "schema" must be a lower-case SQL identifier, but got: "x; drop table y"');
    expect(DEFAULT_REAL_ESTATE_OPTIONS).toEqual({ timeoutMs: 2000, poolSize: 10, schema: 'real_estate', applicationName: 'datarun-real-estate' });
  });

  it('does not echo a password in a bad URL', () => {
    expect(() => createRealEstateConnector({ url: 'mysql://reader:s3cret@host/db' })).toThrow(/^(?!.*s3cret)/);
  });
});

describe.each(TARGETS)('the real-estate department on %s', (_name, start) => {
  let target: Target | undefined;
  let sandbox: RealEstateSandbox;
  let connector: Connector<RealEstateLoaders>;
  let callsAfterStart = -1;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    target = await start();
    sandbox = target.sandbox;
    callsAfterStart = sandbox.control.totalCalls();
    connector = createRealEstateConnector({ url: sandbox.url, timeoutMs: 1500 });
  });

  afterAll(async () => {
    await connector?.stop();
    await target?.stop();
  });

  beforeEach(() => sandbox.control.reset());

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function newContext(): HubContext {
    return createHubContext({ requestId: 'test', signal: new AbortController().signal });
  }

  function loaders(c: Connector<RealEstateLoaders> = connector): RealEstateLoaders {
    return newContext().loadersOf(c);
  }

  /** A connector made for one test, stopped after it. */
  function extraConnector(options: Partial<RealEstateConnectorOptions> = {}): Connector<RealEstateLoaders> {
    const c = createRealEstateConnector({ url: sandbox.url, ...options });
    cleanups.push(() => c.stop());
    return c;
  }

  /** Calls one of the connector's resolvers as graphql-js would. */
  function resolve(typeName: string, field: string, parent: unknown, ctx: HubContext): unknown {
    const byType = connector.resolvers as unknown as Record<string, Record<string, unknown>>;
    const resolver = byType[typeName]?.[field] as ((...a: unknown[]) => unknown) | undefined;
    if (typeof resolver !== 'function') throw new Error(`no resolver ${typeName}.${field}`);
    return resolver(parent, {}, ctx, {} as GraphQLResolveInfo);
  }

  it('does not count its own loading as calls', () => {
    expect(callsAfterStart).toBe(0);
  });

  it('loads a batch of many units with exactly one SQL statement, in key order, unknown units as null', async () => {
    const units = data.properties.slice(0, 40).map((p) => p.unitNumber);
    const keys = [...units.slice(0, 20), UNKNOWN_UNIT, ...units.slice(20)];
    const records = await loaders()[REAL_ESTATE_PRIMARY_LOADER].loadMany(keys);
    expect(records).toHaveLength(keys.length);
    expect(records[20]).toBeNull();
    expect(records.filter((r) => r !== null)).toEqual(data.properties.slice(0, 40));
    expect(sandbox.control.calls).toEqual(new Map([[SQL_OPERATION, 1]]));
  });

  it('gives each property back exactly as the seed recorded it: shares, mortgages, seizures, transfers', async () => {
    const pick = (test: (p: SeedProperty) => boolean): SeedProperty => {
      const found = data.properties.find(test);
      if (!found) throw new Error('the seed lacks a property of that kind');
      return found;
    };
    const chosen = [
      pick((p) => p.owners.some((o) => o.ownership === 'SHARED')),
      pick((p) => p.owners.some((o) => o.ownership === 'JOINT')),
      pick((p) => p.owners[0]!.kind === 'ENTERPRISE'),
      pick((p) => p.mortgages.length > 0),
      pick((p) => p.seizures.length > 0),
      pick((p) => p.transfers.length > 0),
      pick((p) => !Number.isInteger(p.area)),
    ];
    const records = await loaders().propertyByUnit.loadMany(chosen.map((p) => p.unitNumber));
    expect(records).toEqual(chosen);
    expect(sandbox.control.totalCalls()).toBe(1);
  });

  it('answers identifiers that are not unit numbers with null, without asking the database', async () => {
    await expect(loaders().propertyByUnit.loadMany(['not-a-unit', "' OR 1=1 --"])).resolves.toEqual([null, null]);
    expect(sandbox.control.totalCalls()).toBe(0);
  });

  it('loads the properties of many persons and enterprises with one statement, and primes propertyByUnit', async () => {
    const personOwners = [...new Set(data.properties.flatMap((p) => p.owners.filter((o) => o.kind === 'PERSON').map((o) => o.ownerId)))].slice(0, 30);
    const enterpriseOwners = [...new Set(data.properties.flatMap((p) => p.owners.filter((o) => o.kind === 'ENTERPRISE').map((o) => o.ownerId)))].slice(0, 5);
    const nobody = unknownIdNumber(1);
    const keys = [...personOwners, nobody, ...enterpriseOwners, 'bad id'];
    const l = loaders();
    const lists = await l.propertiesByOwner.loadMany(keys);
    expect(lists).toEqual(keys.map((k) => ownedBy(k)));
    expect(enterpriseOwners.length).toBeGreaterThan(0);
    expect(sandbox.control.totalCalls()).toBe(1);

    const units = ownedBy(personOwners[0]!).map((p) => p.unitNumber);
    await expect(l.propertyByUnit.loadMany(units)).resolves.toEqual(ownedBy(personOwners[0]!));
    expect(sandbox.control.totalCalls()).toBe(1);
  });

  it('resolves Person.properties, then every Property field, from one statement', async () => {
    const joint = data.properties.find((p) => p.owners.length === 2 && p.transfers.length > 0) ?? data.properties.find((p) => p.owners.length === 2)!;
    const holder = joint.owners[1]!;
    const ctx = newContext();
    const refs = (await resolve('Person', 'properties', { idNumber: holder.ownerId }, ctx)) as { unitNumber: string }[];
    expect(refs).toEqual(ownedBy(holder.ownerId).map((p) => ({ unitNumber: p.unitNumber })));
    const ref = { unitNumber: joint.unitNumber };
    expect(await resolve('Property', 'certificateNumber', ref, ctx)).toBe(joint.certificateNumber);
    expect(await resolve('Property', 'address', ref, ctx)).toBe(joint.address);
    expect(await resolve('Property', 'area', ref, ctx)).toBe(joint.area);
    expect(await resolve('Property', 'usage', ref, ctx)).toBe(joint.usage);
    expect(await resolve('Property', 'registeredAt', ref, ctx)).toBe(joint.registeredAt);
    expect(await resolve('Property', 'mortgages', ref, ctx)).toEqual(joint.mortgages);
    expect(await resolve('Property', 'seizures', ref, ctx)).toEqual(joint.seizures);
    const owners = (await resolve('Property', 'owners', ref, ctx)) as unknown[];
    const shown = owners.map((o) => ({ owner: resolve('Ownership', 'owner', o, ctx), kind: resolve('Ownership', 'kind', o, ctx), share: (o as { share: number }).share }));
    expect(shown).toEqual(joint.owners.map((o) => ({ owner: { idNumber: o.ownerId }, kind: o.ownership, share: o.share })));
    const transfers = (await resolve('Property', 'transfers', ref, ctx)) as unknown[];
    expect(transfers.map((t) => ({ from: resolve('Transfer', 'from', t, ctx), to: resolve('Transfer', 'to', t, ctx) }))).toEqual(
      joint.transfers.map((t) => ({ from: t.fromKind === 'PERSON' ? { idNumber: t.fromId } : { creditCode: t.fromId }, to: { idNumber: t.toId } })),
    );
    expect(sandbox.control.totalCalls()).toBe(1);

    const enterprise = data.properties.find((p) => p.owners[0]!.kind === 'ENTERPRISE')!.owners[0]!.ownerId;
    expect(await resolve('Enterprise', 'properties', { creditCode: enterprise }, ctx)).toEqual(ownedBy(enterprise).map((p) => ({ unitNumber: p.unitNumber })));
    expect(await resolve('Property', 'address', { unitNumber: UNKNOWN_UNIT }, ctx)).toBeNull();
    expect(await resolve('Property', 'owners', { unitNumber: UNKNOWN_UNIT }, ctx)).toBeNull();
    expect(await resolve('Person', 'properties', { idNumber: unknownIdNumber(2) }, ctx)).toEqual([]);
  });

  it('serves many requests at once through a pool of several connections, each answer right', async () => {
    const groups = Array.from({ length: 12 }, (_, i) => data.properties.slice(i * 5, i * 5 + 5));
    const results = await Promise.all(groups.map((group) => loaders().propertyByUnit.loadMany(group.map((p) => p.unitNumber))));
    expect(results).toEqual(groups);
    expect(sandbox.control.totalCalls()).toBe(groups.length);
  });

  it('counts one call per statement, reading messages split across TCP chunks', async () => {
    const { hostname, port } = new URL(sandbox.url);
    const bytes = Buffer.concat([startupMessage(), queryMessage('SELECT 1'), queryMessage('SELECT 2')]);
    const pieces = [...bytes].map((b) => Buffer.from([b]));
    const reply = await rawExchange(Number(port), hostname, pieces, (r) => readyCount(r) === 3);
    expect(readyCount(reply)).toBe(3);
    expect(sandbox.control.calls).toEqual(new Map([[SQL_OPERATION, 2]]));
  });

  it('counts statements a client pipelines behind its start-up message, before the server has authenticated it', async () => {
    const { hostname, port } = new URL(sandbox.url);
    const bytes = Buffer.concat([startupMessage(), queryMessage('SELECT 1'), queryMessage('SELECT 2')]);
    const reply = await rawExchange(Number(port), hostname, [bytes], (r) => readyCount(r) === 3);
    expect(readyCount(reply)).toBe(3);
    expect(sandbox.control.calls).toEqual(new Map([[SQL_OPERATION, 2]]));
  });

  it('answers a bad statement with a clear SQL error, and keeps serving', async () => {
    const client = new Client({ connectionString: sandbox.url });
    await client.connect();
    try {
      await expect(client.query('SELECT * FROM real_estate.no_such_table')).rejects.toMatchObject({ code: '42P01', message: 'relation "real_estate.no_such_table" does not exist' });
      await expect(client.query('SELECT count(*)::int AS n FROM real_estate.property')).resolves.toMatchObject({ rows: [{ n: data.properties.length }] });
    } finally {
      await client.end();
    }
  });

  it('drops a client that does not speak the PostgreSQL protocol, and keeps serving', async () => {
    const { hostname, port } = new URL(sandbox.url);
    const reply = await rawExchange(Number(port), hostname, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], () => false);
    expect(reply.includes(Buffer.from('HTTP'))).toBe(false);
    await expect(loaders().propertyByUnit.load(data.properties[0]!.unitNumber)).resolves.toEqual(data.properties[0]);
  });

  it('maps a database that drops connections (down) to CONNECTOR_UNAVAILABLE', async () => {
    sandbox.control.setFaults({ mode: 'down' });
    await expectHubError(
      loaders().propertyByUnit.load(data.properties[0]!.unitNumber),
      'CONNECTOR_UNAVAILABLE',
      'Department system "real-estate" is unavailable: connection closed by the database.',
    );
    sandbox.control.reset();
    await expect(loaders().propertyByUnit.load(data.properties[0]!.unitNumber)).resolves.toEqual(data.properties[0]);
  });

  it('maps SQL errors (error rate 1) to CONNECTOR_UNAVAILABLE, failing every key of the batch', async () => {
    sandbox.control.setFaults({ errorRate: 1 });
    const l = loaders();
    const both = [l.propertiesByOwner.load(data.properties[0]!.owners[0]!.ownerId), l.propertiesByOwner.load(data.properties[1]!.owners[0]!.ownerId)];
    for (const one of both) {
      await expectHubError(one, 'CONNECTOR_UNAVAILABLE', 'Department system "real-estate" is unavailable: the database refused the statement (SQLSTATE 57P03).');
    }
    expect(sandbox.control.totalCalls()).toBe(1);
  });

  it('maps corrupted rows (malformed) to UPSTREAM_INVALID_RESPONSE', async () => {
    sandbox.control.setFaults({ mode: 'malformed' });
    await expectHubError(
      loaders().propertyByUnit.load(data.properties[0]!.unitNumber),
      'UPSTREAM_INVALID_RESPONSE',
      'Department system "real-estate" sent an invalid reply: a property record is not valid JSON.',
    );
    const health = await connector.health();
    expect(health).toMatchObject({ ok: false, reason: 'Department system "real-estate" sent an invalid reply: the health statement returned something else than 1.' });
  });

  it('maps a slow database to CONNECTOR_TIMEOUT, and the timed-out connection does not block the pool', async () => {
    // The deadline is generous so that the second statement, on a fresh connection of a busy machine,
    // meets it; the slow statement would take far longer.
    const c = extraConnector({ timeoutMs: 3000, poolSize: 1 });
    sandbox.control.setFaults({ mode: 'slow', slowMs: 120_000 });
    const started = performance.now();
    await expectHubError(loaders(c).propertyByUnit.load(data.properties[0]!.unitNumber), 'CONNECTOR_TIMEOUT', 'Department system "real-estate" did not answer within 3000 ms.');
    // Cut short, never waiting for the slow statement (a bound that only catches a hang).
    expect(performance.now() - started).toBeLessThan(60_000);
    sandbox.control.setFaults({ mode: 'none' });
    await expect(loaders(c).propertyByUnit.load(data.properties[1]!.unitNumber)).resolves.toEqual(data.properties[1]);
  });

  it('gives up a statement whose request is aborted, as CONNECTOR_UNAVAILABLE, without waiting for it', async () => {
    sandbox.control.setFaults({ mode: 'slow', slowMs: 10_000 });
    const request = new AbortController();
    const l = createHubContext({ requestId: 'test', signal: request.signal }).loadersOf(connector);
    const pending = l.propertyByUnit.load(data.properties[0]!.unitNumber);
    setTimeout(() => request.abort(), 50);
    const started = performance.now();
    await expectHubError(pending, 'CONNECTOR_UNAVAILABLE', 'Department system "real-estate" is unavailable: call aborted.');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('adds the configured latency to every statement', async () => {
    sandbox.control.setFaults({ latencyMs: 150 });
    const started = performance.now();
    await loaders().propertyByUnit.load(data.properties[2]!.unitNumber);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('reports health ok, and not ok with a reason once the database is gone', async () => {
    await expect(connector.health()).resolves.toMatchObject({ connector: 'real-estate', ok: true });
    const gone = extraConnector({ url: await closedPortUrl() });
    const health = await gone.health();
    expect(health).toMatchObject({ connector: 'real-estate', ok: false, reason: 'Department system "real-estate" is unavailable: connection refused.' });
  });

  // Last of the block: it closes the sandbox.
  it('reports not ok once the sandbox is closed', async () => {
    await expect(connector.health()).resolves.toMatchObject({ ok: true });
    const closing = target!;
    target = undefined;
    await closing.stop();
    const health = await connector.health();
    expect(health).toMatchObject({ connector: 'real-estate', ok: false, reason: 'Department system "real-estate" is unavailable: connection refused.' });
  });
});

/** A postgres:// URL on a loopback port where nothing listens. */
async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

describe('the real-estate sandbox on a PostgreSQL server without its proxy', () => {
  it('loads into the given database and hands out that URL itself, the sandbox closed', async () => {
    const server = await startPostgresServer();
    try {
      const sandbox = await startRealEstateSandbox({ data, databaseUrl: server.url });
      expect(sandbox.url).toBe(server.url);
      await sandbox.close();
      const connector = createRealEstateConnector({ url: sandbox.url });
      try {
        const records = await createHubContext({ requestId: 'test', signal: new AbortController().signal }).loadersOf(connector).propertyByUnit.loadMany(data.properties.slice(0, 3).map((p) => p.unitNumber));
        expect(records).toEqual(data.properties.slice(0, 3));
      } finally {
        await connector.stop();
      }
    } finally {
      await server.stop();
    }
  });
});
