/**
 * Kept webhook connections: one agent per (origin, checked address), a changed resolution gets a
 * fresh agent pinned to the new address (and a forbidden one none at all), bounded by count and
 * idle time, closed at shutdown. No server: a send goes to a closed loopback port.
 */
import fc from 'fast-check';
import crypto from 'node:crypto';
import net from 'node:net';
import type { Dispatcher } from 'undici';
import { createAllowList, createWebhookConnections, createWebhookSigner, PushInputError, sendWebhook, type HostResolver, type ResolvedAddress, type WebhookConnections } from '../../../src/push';

const { privateKey } = crypto.generateKeyPairSync('ed25519');
const signer = createWebhookSigner({ privateKey, kid: 'hub-wh-1' });
const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });

/** A port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The connections, with every `dispatcherFor` call recorded. */
function spied(connections: WebhookConnections): WebhookConnections & { calls: { origin: string; address: string; agent: Dispatcher }[] } {
  const calls: { origin: string; address: string; agent: Dispatcher }[] = [];
  return {
    calls,
    dispatcherFor(origin, pinned, timeoutMs) {
      const agent = connections.dispatcherFor(origin, pinned, timeoutMs);
      calls.push({ origin, address: pinned.address, agent });
      return agent;
    },
    get size() {
      return connections.size;
    },
    close: () => connections.close(),
  };
}

const opened: WebhookConnections[] = [];
const open = (options?: Parameters<typeof createWebhookConnections>[0]): WebhookConnections => {
  const c = createWebhookConnections(options);
  opened.push(c);
  return c;
};
afterEach(async () => {
  jest.useRealTimers();
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

describe('createWebhookConnections', () => {
  it('keeps one agent per origin and checked address', () => {
    const c = open();
    const a = c.dispatcherFor('http://hooks.test:8080', v4('127.0.0.1'), 1000);
    expect(c.dispatcherFor('http://hooks.test:8080', v4('127.0.0.1'), 1000)).toBe(a);
    expect(c.dispatcherFor('http://hooks.test:8080', v4('127.0.0.2'), 1000)).not.toBe(a);
    expect(c.dispatcherFor('http://other.test:8080', v4('127.0.0.1'), 1000)).not.toBe(a);
    expect(c.dispatcherFor('https://hooks.test:8080', v4('127.0.0.1'), 1000)).not.toBe(a);
    expect(c.size).toBe(4);
  });

  it('never hands one agent to two (origin, address) pairs, and keeps at most maxAgents (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })), { maxLength: 40 }), (maxAgents, uses) => {
        const c = createWebhookConnections({ maxAgents });
        try {
          const owner = new Map<Dispatcher, string>();
          for (const [o, a] of uses) {
            const key = `${o}/${a}`;
            const agent = c.dispatcherFor(`http://h${o}.test`, v4(`127.0.0.${a + 1}`), 1000);
            expect(owner.get(agent) ?? key).toBe(key);
            owner.set(agent, key);
            expect((agent as unknown as { destroyed: boolean; closed: boolean }).closed).toBe(false);
            expect(c.size).toBeLessThanOrEqual(maxAgents);
          }
        } finally {
          void c.close();
        }
      }),
    );
  });

  it('closes the least recently used agent beyond maxAgents', () => {
    const c = open({ maxAgents: 2 });
    const a = c.dispatcherFor('http://a.test', v4('127.0.0.1'), 1000);
    const b = c.dispatcherFor('http://b.test', v4('127.0.0.1'), 1000);
    expect(c.dispatcherFor('http://a.test', v4('127.0.0.1'), 1000)).toBe(a); // a used last: b is the oldest
    c.dispatcherFor('http://c.test', v4('127.0.0.1'), 1000);
    expect(c.size).toBe(2);
    expect((b as unknown as { closed: boolean }).closed).toBe(true);
    expect((a as unknown as { closed: boolean }).closed).toBe(false);
    expect(c.dispatcherFor('http://b.test', v4('127.0.0.1'), 1000)).not.toBe(b);
  });

  it('closes an agent unused for idleMs', () => {
    jest.useFakeTimers();
    const c = open({ idleMs: 10_000 });
    const a = c.dispatcherFor('http://a.test', v4('127.0.0.1'), 1000);
    jest.advanceTimersByTime(6000);
    const b = c.dispatcherFor('http://b.test', v4('127.0.0.1'), 1000);
    jest.advanceTimersByTime(6000);
    expect(c.size).toBe(1);
    expect((a as unknown as { closed: boolean }).closed).toBe(true);
    expect(c.dispatcherFor('http://b.test', v4('127.0.0.1'), 1000)).toBe(b);
    jest.advanceTimersByTime(21_000);
    expect(c.size).toBe(0);
  });

  it('closes everything at close() and refuses afterwards', async () => {
    const c = open();
    const a = c.dispatcherFor('http://a.test', v4('127.0.0.1'), 1000);
    await c.close();
    await c.close();
    expect(c.size).toBe(0);
    expect((a as unknown as { destroyed: boolean }).destroyed).toBe(true);
    expect(() => c.dispatcherFor('http://a.test', v4('127.0.0.1'), 1000)).toThrow(PushInputError);
  });

  it('refuses bad options, naming them', () => {
    expect(() => createWebhookConnections({ maxAgents: 0 })).toThrow(/maxAgents/);
    expect(() => createWebhookConnections({ idleMs: Number.NaN })).toThrow(/idleMs/);
    expect(() => createWebhookConnections({ keepAliveMs: 1.5 })).toThrow(/keepAliveMs/);
  });
});

describe('sendWebhook with kept connections', () => {
  it('takes the agent of the address just resolved and checked: a changed answer gets a fresh agent, a forbidden one none', async () => {
    const port = await closedPort();
    const c = spied(open());
    const allowList = createAllowList([{ url: `http://hooks.test:${port}/*`, allowPrivate: true }]);
    const strict = createAllowList([`http://hooks.test:${port}/*`]);
    let answer = '127.0.0.1';
    const resolve: HostResolver = async () => [v4(answer)];
    const send = (list = allowList) => sendWebhook({ url: `http://hooks.test:${port}/in`, id: 'evt-1', body: '{}' }, signer, { allowList: list, resolve, connections: c, timeoutMs: 5000 });

    // Nothing listens: each send reaches the pinned address and is refused there (retry).
    expect(await send()).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
    expect(await send()).toMatchObject({ outcome: 'retry' });
    expect(c.calls.map((x) => x.address)).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(c.calls[1]!.agent).toBe(c.calls[0]!.agent);

    answer = '127.0.0.2';
    expect(await send()).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
    expect(c.calls[2]).toMatchObject({ origin: `http://hooks.test:${port}`, address: '127.0.0.2' });
    expect(c.calls[2]!.agent).not.toBe(c.calls[0]!.agent);
    expect(c.size).toBe(2);

    // The name now resolves somewhere the entry does not permit: refused before any agent is taken, kept ones or not.
    answer = '10.0.0.7';
    expect(await send(strict)).toMatchObject({ outcome: 'permanent', reason: expect.stringContaining('does not permit') });
    answer = '127.0.0.1'; // an agent for it is kept, but this entry does not permit loopback
    expect(await send(strict)).toMatchObject({ outcome: 'permanent', reason: expect.stringContaining('loopback') });
    expect(c.calls).toHaveLength(3);
    expect(c.size).toBe(2);
  });

  it('without connections, opens and closes an agent per send (as before)', async () => {
    const port = await closedPort();
    const allowList = createAllowList([{ url: `http://127.0.0.1:${port}/*`, allowPrivate: true }]);
    expect(await sendWebhook({ url: `http://127.0.0.1:${port}/in`, id: 'evt-1', body: '{}' }, signer, { allowList })).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
  });
});
