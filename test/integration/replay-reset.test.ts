/**
 * A request token cannot be replayed after the replay guard lost what it remembered: a
 * single-instance hub restarted (its guard in memory), or the shared Redis flushed under signed
 * load. Tokens issued before the loss are refused (401 REPLAY_STATE_RESET, or REPLAYED) for as
 * long as they could live; tokens signed afterwards are served.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSeed, startSandboxes, type SandboxSet } from '../../departments';
import { auditSubjectSecret } from '../../src/gateway/audit';
import { createKeyStore, createRequestSigner, loadKeyStore, type PrivateJwk } from '../../src/seal';
import { eventually, startHubInProcess, startHubProcess, startRedisServer, type InProcessHub, type RedisServer } from '../support/redis';
import { freshDatabase, startPostgresServer, type PostgresServer } from '../support/postgres';
import { WITH_DEPARTMENTS } from '../support/keys';

const STARTUP = { purpose: 'ENTERPRISE_STARTUP', caseNumber: 'QY-2026-000042', operator: '登记-赵磊' };
const ENTERPRISE_QUERY = 'query($c: ID!) { enterprise(creditCode: $c) { creditCode name } }';
const data = generateSeed({ seed: 1, size: 200 });

interface Sent {
  body: string;
  authorization: string;
  signedAt: number;
  status: number;
}

async function post(url: string, body: string, authorization: string): Promise<{ status: number; errors?: { message: string; extensions: Record<string, unknown> }[] }> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body });
  const json = (await res.json()) as { errors?: { message: string; extensions: Record<string, unknown> }[] };
  return { status: res.status, ...(json.errors ? { errors: json.errors } : {}) };
}

/** Waits until the wall clock is in a later second than `ms` (tokens carry whole seconds). */
async function nextSecondAfter(ms: number): Promise<void> {
  while (Math.floor(Date.now() / 1000) <= Math.floor(ms / 1000)) await new Promise((r) => setTimeout(r, 20));
}

describe('replay protection after the replay state was lost', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-replay-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a restarted single-instance hub refuses a token issued before its start, and serves fresh ones', async () => {
    const keysDir = path.join(dir, 'single', 'keys');
    const auditDir = path.join(dir, 'single', 'audit');
    const env = { DATARUN_REDIS_URL: '', DATARUN_REDIS_SENTINELS: '', DATARUN_REDIS_CLUSTER: '' };
    let hub = await startHubProcess({ instanceId: 'single', keysDir, auditDir, env });
    const keyStore = await loadKeyStore(keysDir);
    const signer = createRequestSigner({ consumerId: 'tax-bureau', privateJwk: JSON.parse(readFileSync(keyStore.privateKeyPath('tax-bureau')!, 'utf8')) as PrivateJwk });
    const body = JSON.stringify({ query: ENTERPRISE_QUERY, variables: { c: '91370000MA3C5EXAMPLE' } });
    const saved = signer.authorization(body, STARTUP);
    expect((await post(hub.url, body, saved)).status).toBe(200);
    expect((await post(hub.url, body, saved)).errors?.[0]?.extensions).toMatchObject({ reason: 'REPLAYED' });
    await hub.stop();

    hub = await startHubProcess({ instanceId: 'single', keysDir, auditDir, env });
    try {
      const replayed = await post(hub.url, body, saved);
      expect(replayed.status).toBe(401);
      expect(replayed.errors?.[0]).toEqual({
        message: "request token was issued before the hub's replay protection was reset, so it cannot be checked for reuse: sign a fresh request",
        extensions: { code: 'UNAUTHENTICATED', reason: 'REPLAY_STATE_RESET' },
      });
      expect((await post(hub.url, body, signer.authorization(body, STARTUP))).status).toBe(200);
    } finally {
      await hub.stop();
    }
  }, 180_000);

  describe('on a shared Redis', () => {
    let redis: RedisServer;
    let sandboxes: SandboxSet;
    let pg: PostgresServer;
    let hub: InProcessHub;

    beforeAll(async () => {
      [redis, sandboxes, pg] = await Promise.all([startRedisServer(), startSandboxes(data), startPostgresServer()]);
      // Several instances on Redis answer the auditor from the shared index in PostgreSQL.
      hub = await startHubInProcess(sandboxes, redis.url, { audit: { index: { url: await freshDatabase(pg) } } });
    });
    afterAll(async () => {
      await hub?.close();
      await Promise.allSettled([sandboxes?.close(), redis?.stop(), pg?.stop()]);
    });

    it('after FLUSHALL under signed load accepts no token issued before the flush, and serves fresh ones', async () => {
      const keyStore = await createKeyStore(path.join(hub.dir, 'keys'), WITH_DEPARTMENTS);
      auditSubjectSecret(path.join(hub.dir, 'keys'));
      const signer = createRequestSigner({ consumerId: 'tax-bureau', privateJwk: JSON.parse(readFileSync(keyStore.privateKeyPath('tax-bureau')!, 'utf8')) as PrivateJwk });
      const creditCode = data.enterprises[0]!.creditCode;
      const sent: Sent[] = [];
      let stop = false;
      const worker = async (n: number) => {
        for (let i = 0; !stop; i++) {
          const body = JSON.stringify({ query: ENTERPRISE_QUERY, variables: { c: creditCode }, extensions: { n, i } });
          const signedAt = Date.now();
          const authorization = signer.authorization(body, STARTUP);
          const { status } = await post(hub.url, body, authorization);
          sent.push({ body, authorization, signedAt, status });
        }
      };
      const load = Promise.all(Array.from({ length: 4 }, (_, n) => worker(n)));
      await eventually(() => sent.filter((s) => s.status === 200).length >= 20, 'signed requests to be served');
      const flushedAt = Date.now();
      execFileSync('redis-cli', ['-p', String(redis.port), 'flushall'], { stdio: 'pipe' });
      const countAtFlush = sent.length;
      await eventually(() => sent.length >= countAtFlush + 40, 'more signed load after the flush');
      stop = true;
      await load;

      // Every token issued before the flush, replayed now: none is served.
      const before = sent.filter((s) => s.signedAt < flushedAt);
      expect(before.filter((s) => s.status === 200).length).toBeGreaterThanOrEqual(20);
      const replays = await Promise.all(before.map((s) => post(hub.url, s.body, s.authorization)));
      const served = replays.filter((r) => r.status === 200);
      expect(served).toEqual([]);
      const reasons = new Set(replays.map((r) => r.errors?.[0]?.extensions?.reason));
      expect([...reasons].every((r) => r === 'REPLAY_STATE_RESET' || r === 'REPLAYED')).toBe(true);
      expect(reasons.has('REPLAY_STATE_RESET')).toBe(true);

      // A fresh token (signed in a later second than any loss was noticed) is served once the access log continues.
      await nextSecondAfter(Date.now());
      await eventually(async () => {
        const body = JSON.stringify({ query: ENTERPRISE_QUERY, variables: { c: creditCode } });
        return (await post(hub.url, body, signer.authorization(body, STARTUP))).status === 200;
      }, 'a fresh signed request to be served after the flush');
    }, 180_000);
  });
});
