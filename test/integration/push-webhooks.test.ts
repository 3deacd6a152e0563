/**
 * Webhooks over real loopback sockets: signatures a receiver verifies, the allow-list and the
 * address checks (a name resolving to loopback, private or metadata addresses), no redirects, the
 * statuses mapped to ok / retry / permanent, a timeout; and the whole path (file queue,
 * dispatcher, sendWebhook) to a receiver that is down for a while and then answers 503s: every
 * event arrives, in order per subject, duplicates with the same webhook-id, across a restart.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import {
  createAllowList,
  createDispatcher,
  createWebhookConnections,
  createWebhookSigner,
  openFileStore,
  sendWebhook,
  verifyWebhook,
  webhookPublicJwk,
  type HostResolver,
  type PushEvent,
} from '../../src/push';
import { eventually, freePort } from '../support/redis';

const { privateKey } = crypto.generateKeyPairSync('ed25519');
const secret = `whsec_${crypto.randomBytes(24).toString('base64')}`;
const signer = createWebhookSigner({ privateKey, kid: 'hub-wh-1' });
const jwks = { keys: [webhookPublicJwk(privateKey, 'hub-wh-1')] };

interface Received {
  path: string;
  host: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The receiver's socket: the same one for requests carried by one connection. */
  socket: Socket;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, received: Received) => void;

const servers: http.Server[] = [];
async function receiver(handler: Handler, port = 0, host = '127.0.0.1'): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers, body: Buffer.concat(chunks).toString(), socket: req.socket };
      received.push(r);
      handler(req, res, r);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { port: (server.address() as AddressInfo).port, received };
}
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const ok: Handler = (_req, res) => res.end('ok');
const resolveTo = (address: string): HostResolver & { calls: number } => {
  const fn = Object.assign(
    async () => {
      fn.calls++;
      return [{ address, family: address.includes(':') ? (6 as const) : (4 as const) }];
    },
    { calls: 0 },
  );
  return fn;
};

describe('sendWebhook', () => {
  it('sends a body the receiver verifies with the JWKS (v1a) and with its secret (v1), to a name pinned to its checked address', async () => {
    const r = await receiver(ok);
    const allowList = createAllowList([{ url: `http://hooks.test:${r.port}/in/*`, allowPrivate: true }]);
    const resolve = resolveTo('127.0.0.1');
    const body = JSON.stringify({ event: 'ENTERPRISE_REGISTERED' });
    const result = await sendWebhook({ url: `http://hooks.test:${r.port}/in/tax`, id: 'evt-1', body }, signer.withSecret(secret), { allowList, resolve });
    expect(result).toEqual({ outcome: 'ok', status: 200 });
    expect(resolve.calls).toBe(1);
    const got = r.received[0]!;
    expect(got.host).toBe(`hooks.test:${r.port}`);
    expect(got.body).toBe(body);
    expect(verifyWebhook(got.headers, got.body, { publicJwks: jwks })).toMatchObject({ id: 'evt-1', scheme: 'v1a', kid: 'hub-wh-1' });
    expect(verifyWebhook(got.headers, got.body, { secret })).toMatchObject({ id: 'evt-1', scheme: 'v1' });
  });

  it('refuses targets off the allow-list, and names that resolve to loopback, private or metadata addresses unless the entry permits them', async () => {
    const r = await receiver(ok);
    const strict = createAllowList([`http://hooks.test:${r.port}/*`, `http://127.0.0.1:${r.port}/*`]);
    const message = (url: string) => ({ url, id: 'evt-2', body: '{}' });
    expect(await sendWebhook(message(`http://other.test:${r.port}/`), signer, { allowList: strict, resolve: resolveTo('127.0.0.1') })).toMatchObject({ outcome: 'permanent', reason: expect.stringContaining('allow-list') });
    for (const address of ['127.0.0.1', '10.0.0.7', '169.254.169.254', '::ffff:127.0.0.1']) {
      expect(await sendWebhook(message(`http://hooks.test:${r.port}/`), signer, { allowList: strict, resolve: resolveTo(address) })).toMatchObject({ outcome: 'permanent', reason: expect.stringContaining('does not permit') });
    }
    // An address literal is checked the same way.
    expect(await sendWebhook(message(`http://127.0.0.1:${r.port}/`), signer, { allowList: strict })).toMatchObject({ outcome: 'permanent', reason: expect.stringContaining('loopback') });
    expect(r.received).toHaveLength(0);
    const permissive = createAllowList([{ url: `http://hooks.test:${r.port}/*`, allowPrivate: true }]);
    expect(await sendWebhook(message(`http://hooks.test:${r.port}/`), signer, { allowList: permissive, resolve: resolveTo('127.0.0.1') })).toMatchObject({ outcome: 'ok' });
    expect(r.received).toHaveLength(1);
  });

  it('does not follow a redirect', async () => {
    const r = await receiver((req, res) => {
      if (req.url === '/hook') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.end('ok');
    });
    const allowList = createAllowList([{ url: `http://127.0.0.1:${r.port}/*`, allowPrivate: true }]);
    const result = await sendWebhook({ url: `http://127.0.0.1:${r.port}/hook`, id: 'evt-3', body: '{}' }, signer, { allowList });
    expect(result).toMatchObject({ outcome: 'permanent', status: 302, reason: expect.stringContaining('not followed') });
    expect(r.received.map((x) => x.path)).toEqual(['/hook']);
  });

  it('maps statuses: 2xx ok; 408, 429, 5xx retry with Retry-After; 410 disables; other 4xx permanent; a silent receiver times out', async () => {
    const r = await receiver((req, res) => {
      const status = Number(req.url!.slice(1));
      if (status === 0) return; // never answers
      if (status === 200) res.end(Buffer.alloc(1024 * 1024, 'x')); // a large answer, read only up to the bound
      else res.writeHead(status, status === 429 ? { 'retry-after': '7' } : {}).end();
    });
    const allowList = createAllowList([{ url: `http://127.0.0.1:${r.port}/*`, allowPrivate: true }]);
    const send = (status: number) => sendWebhook({ url: `http://127.0.0.1:${r.port}/${status}`, id: `evt-${status}`, body: '{}' }, signer, { allowList, timeoutMs: 3000, maxResponseBytes: 1024 });
    expect(await send(200)).toEqual({ outcome: 'ok', status: 200 });
    expect(await send(204)).toEqual({ outcome: 'ok', status: 204 });
    expect(await send(429)).toEqual({ outcome: 'retry', status: 429, retryAfterMs: 7000, reason: expect.any(String) });
    expect(await send(408)).toMatchObject({ outcome: 'retry', status: 408 });
    expect(await send(503)).toMatchObject({ outcome: 'retry', status: 503 });
    expect(await send(410)).toMatchObject({ outcome: 'permanent', status: 410, disable: true });
    expect(await send(400)).toMatchObject({ outcome: 'permanent', status: 400 });
    expect(await send(0)).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('failed') });
    const closedPort = await freePort();
    const down = createAllowList([{ url: `http://127.0.0.1:${closedPort}/*`, allowPrivate: true }]);
    expect(await sendWebhook({ url: `http://127.0.0.1:${closedPort}/`, id: 'e', body: '{}' }, signer, { allowList: down })).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
  });
});

describe('sendWebhook with kept connections', () => {
  it('carries several sends over one connection to the checked address; a changed answer connects to the new address; close() ends it', async () => {
    const a = await receiver(ok);
    // The same port on another loopback address: where the name resolves after it changed.
    const b = await receiver(ok, a.port, '127.0.0.2');
    const allowList = createAllowList([{ url: `http://hooks.test:${a.port}/in/*`, allowPrivate: true }]);
    let answer = '127.0.0.1';
    const resolve: HostResolver = async () => [{ address: answer, family: 4 }];
    const connections = createWebhookConnections();
    try {
      const send = (i: number) => sendWebhook({ url: `http://hooks.test:${a.port}/in/tax`, id: `evt-${i}`, body: JSON.stringify({ i }) }, signer, { allowList, resolve, connections });
      for (let i = 0; i < 5; i++) expect(await send(i)).toEqual({ outcome: 'ok', status: 200 });
      // Several at once: each on a connection of the same agent, each connection kept for the next.
      expect(await Promise.all([5, 6, 7].map(send))).toEqual([0, 1, 2].map(() => ({ outcome: 'ok', status: 200 })));
      expect(a.received).toHaveLength(8);
      // A connection is free again a moment after its response ended (undici), so consecutive sends alternate over two at most.
      const sockets = new Set(a.received.map((x) => x.socket));
      expect(new Set(a.received.slice(0, 5).map((x) => x.socket)).size).toBeLessThanOrEqual(2);
      expect(sockets.size).toBeLessThanOrEqual(5);
      expect(Math.max(...[...sockets].map((socket) => a.received.filter((x) => x.socket === socket).length))).toBeGreaterThanOrEqual(3);
      for (const got of a.received) expect(verifyWebhook(got.headers, got.body, { publicJwks: jwks })).toMatchObject({ scheme: 'v1a' });

      answer = '127.0.0.2';
      expect(await send(8)).toEqual({ outcome: 'ok', status: 200 });
      expect(await send(9)).toEqual({ outcome: 'ok', status: 200 });
      expect(a.received).toHaveLength(8);
      expect(b.received.map((x) => JSON.parse(x.body) as { i: number })).toEqual([{ i: 8 }, { i: 9 }]);
      expect(connections.size).toBe(2);

      const kept = a.received[0]!.socket;
      expect(kept.destroyed).toBe(false);
      await connections.close();
      await eventually(() => kept.destroyed && b.received.every((x) => x.socket.destroyed), 'the kept connections closed');
    } finally {
      await connections.close();
    }
  });

  it('without kept connections, each send opens its own', async () => {
    const r = await receiver(ok);
    const allowList = createAllowList([{ url: `http://127.0.0.1:${r.port}/*`, allowPrivate: true }]);
    for (let i = 0; i < 3; i++) expect(await sendWebhook({ url: `http://127.0.0.1:${r.port}/`, id: `evt-${i}`, body: '{}' }, signer, { allowList })).toMatchObject({ outcome: 'ok' });
    expect(new Set(r.received.map((x) => x.socket)).size).toBe(3);
  });
});

describe('delivery to a receiver that is down for a while', () => {
  it('delivers every event afterwards, in order per subject, none lost, duplicates with the same webhook-id, across a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-push-'));
    const file = path.join(dir, 'queue');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hook`;
    const allowList = createAllowList([{ url: `http://127.0.0.1:${port}/hook`, allowPrivate: true }]);
    const subjects = ['ENTERPRISE:A', 'ENTERPRISE:B', 'ENTERPRISE:C'];
    const events: PushEvent[] = Array.from({ length: 18 }, (_, i) => ({ id: `evt-${i}`, subject: subjects[i % 3]!, type: 'LICENCE_ISSUED', occurredAt: new Date().toISOString(), seq: i }));
    let refused = 0;
    const start = (store: ReturnType<typeof openFileStore>) => {
      const d = createDispatcher({
        store,
        concurrency: 4,
        maxAttempts: 1000,
        pollMs: 10,
        backoff: { initialMs: 10, maxMs: 100 },
        deliver: (_sub, event) => sendWebhook({ url, id: event.id, body: JSON.stringify(event) }, signer, { allowList, timeoutMs: 5000 }),
        onEvent: (e) => {
          if (e.type === 'retry' && /ECONNREFUSED/.test(e.reason)) refused++;
        },
      });
      d.start();
      return d;
    };
    let store = openFileStore({ file });
    for (const e of events.slice(0, 9)) await store.enqueue('tax', e);
    let dispatcher = start(store);
    await eventually(() => refused >= 6, 'deliveries refused while the receiver is down');
    // A restart while the receiver is still down: the queue file holds everything.
    await dispatcher.stop(1000);
    await store.close();
    store = openFileStore({ file });
    expect(await store.pending()).toBe(9);
    for (const e of events.slice(9)) await store.enqueue('tax', e);
    dispatcher = start(store);
    // The receiver comes up answering 503 to its first requests, and 503 to some after recording them.
    let answered = 0;
    const r = await receiver((_req, res) => {
      answered++;
      res.writeHead(answered <= 8 || answered % 5 === 0 ? 503 : 200).end();
    }, port);
    await eventually(async () => (await store.pending()) === 0, 'every event delivered');
    await dispatcher.stop(1000);
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });

    const ids = new Set<string>();
    const firsts = new Map<string, number[]>();
    const accepted: string[] = [];
    let i = 0;
    for (const got of r.received) {
      i++;
      const verified = verifyWebhook(got.headers, got.body, { publicJwks: jwks });
      const event = JSON.parse(got.body) as PushEvent & { seq: number };
      // Every copy of an event carries the event's id as its webhook-id.
      expect(verified.id).toBe(event.id);
      if (!(i <= 8 || i % 5 === 0)) accepted.push(event.id);
      if (ids.has(event.id)) continue;
      ids.add(event.id);
      firsts.set(event.subject, [...(firsts.get(event.subject) ?? []), event.seq]);
    }
    expect(r.received.length).toBeGreaterThan(events.length);
    expect(new Set(accepted)).toEqual(new Set(events.map((e) => e.id)));
    for (const [subject, seqs] of firsts) expect([subject, seqs]).toEqual([subject, [...seqs].sort((a, b) => a - b)]);
  });
});
