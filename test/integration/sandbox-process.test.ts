/** `datarun sandbox <name>` runs each department system as its own process, with faults from its flags. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';

const root = path.resolve(__dirname, '../..');

async function startSandboxProcess(name: string, flags: string[] = []): Promise<{ child: ChildProcess; url: string; line: string }> {
  const child = spawn(process.execPath, ['-r', path.join(root, 'test/fixtures/audit/register-ts.js'), path.join(root, 'src/cli/main.ts'), 'sandbox', name, '--port', '0', '--size', '50', ...flags], {
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
        resolve({ child, url: m[1]!, line: out.split('\n')[0]! });
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

describe('datarun sandbox <name>', () => {
  it('serves social security, tax and market regulation over HTTP, and stops on SIGTERM', async () => {
    for (const [name, probe] of [
      ['social-security', '/api/v1/health'],
      ['tax', '?wsdl'],
      ['market-regulation', '/v1/health'],
    ] as const) {
      const { child, url } = await startSandboxProcess(name);
      try {
        const res = await fetch(probe.startsWith('?') ? `${url}${probe}` : new URL(probe, url), { headers: { 'x-api-key': 'sandbox-social-security-key' } });
        expect(res.status).toBe(200);
        const calls = (await (await fetch(new URL('/__sandbox/calls', url))).json()) as { total: number };
        expect(typeof calls.total).toBe('number');
      } finally {
        await stop(child);
      }
      expect(child.exitCode).toBe(0);
    }
  });

  it('serves real estate over the PostgreSQL wire protocol', async () => {
    const { child, url } = await startSandboxProcess('real-estate');
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM real_estate.property');
      expect(Number(rows[0]!.n)).toBeGreaterThan(0);
    } finally {
      await client.end();
      await stop(child);
    }
  });

  it('injects the fault given on the command line', async () => {
    const { child, url } = await startSandboxProcess('market-regulation', ['--fault', 'down']);
    try {
      await expect(fetch(new URL('/v1/health', url))).rejects.toThrow();
      // The control route still answers, and switches the fault off.
      const res = await fetch(new URL('/__sandbox/faults', url), { method: 'POST', body: '{"mode":"none"}' });
      expect(res.status).toBe(200);
      expect((await fetch(new URL('/v1/health', url))).status).toBe(200);
    } finally {
      await stop(child);
    }
  });

  it('refuses an unknown sandbox or a bad flag with a message', async () => {
    await expect(startSandboxProcess('weather')).rejects.toThrow(/unknown sandbox "weather": expected one of housing-fund, market-regulation, real-estate, social-security, tax/);
    await expect(startSandboxProcess('tax', ['--error-rate', '2'])).rejects.toThrow(/must be a number from 0 to 1/);
  });
});
