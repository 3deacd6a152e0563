/** `datarun sandbox <name>` as its own process offers the sandbox's change routes too. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { generateSeed } from '../../departments/seed/generate';
import { createRealEstateConnector } from '../../connectors/real-estate';

const root = path.resolve(__dirname, '../..');
/** The seed `datarun sandbox` generates with `--size 50` (seed 1). */
const data = generateSeed({ seed: 1, size: 50 });

async function startSandboxProcess(name: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-r', path.join(root, 'test/fixtures/audit/register-ts.js'), path.join(root, 'src/cli/main.ts'), 'sandbox', name, '--port', '0', '--size', '50'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sandbox ${name} did not start: ${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /sandbox \S+ listening at (\S+) \(seed 1, 50 persons/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sandbox ${name} exited with ${code}: ${out}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('datarun sandbox <name> change routes', () => {
  it('market regulation and tax answer them on their HTTP address', async () => {
    for (const [name, route, body] of [
      ['market-regulation', 'penalties', { creditCode: data.enterprises[0]!.creditCode, reason: 'r', amount: 10 }],
      ['tax', 'arrears', { taxpayerId: data.taxpayers.find((t) => t.arrears.every((a) => a.taxType !== 'DEED'))!.taxpayerId, taxType: 'DEED', amount: 10 }],
    ] as const) {
      const { child, url } = await startSandboxProcess(name);
      try {
        const res = await fetch(new URL(`/__sandbox/${route}`, url), { method: 'POST', body: JSON.stringify(body) });
        expect(res.status).toBe(201);
        const bad = await fetch(new URL(`/__sandbox/${route}`, url), { method: 'POST', body: '{}' });
        expect(bad.status).toBe(400);
      } finally {
        await stop(child);
      }
    }
  });

  it('real estate answers them over HTTP at the database address, and the change is in the feed', async () => {
    const { child, url } = await startSandboxProcess('real-estate');
    const connector = createRealEstateConnector({ url, timeoutMs: 5000 });
    try {
      const feed = connector.changeFeed!;
      const cursor = (await feed.read(feed.startCursor, new AbortController().signal)).nextCursor;
      const { hostname, port } = new URL(url);
      const res = await fetch(`http://${hostname}:${port}/__sandbox/seizures`, {
        method: 'POST',
        body: JSON.stringify({ unitNumber: data.properties[0]!.unitNumber, court: '法院', caseNumber: '(2026)鲁01执1号', endDate: '2030-01-01' }),
      });
      expect(res.status).toBe(201);
      const page = await feed.read(cursor, new AbortController().signal);
      expect(page.events?.map((e) => [e.type, e.subject.id])).toEqual([['SEIZURE_REGISTERED', data.properties[0]!.unitNumber]]);
    } finally {
      await connector.stop();
      await stop(child);
    }
  });
});
