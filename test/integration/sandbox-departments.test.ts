/**
 * Sandbox departments: they get their seal keys by themselves (at start, and from `datarun keys
 * init` in a fresh or an existing keys directory), and the hub's sandbox routes say which
 * departments are sandboxes, refusing faults for one configured as an external system.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSeed, sandboxNames, sandboxSetControl, startSandboxes, type SandboxSet } from '../../departments';
import { configuredDepartments, runKeysInit } from '../../src/cli/keys';
import { initKeys, loadKeyStore } from '../../src/seal';

describe('sandbox departments', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-sandbox-departments-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are registered with a seal key by `datarun keys init`, in a fresh keys directory and in one made before they existed', async () => {
    const fresh = path.join(dir, 'fresh');
    await runKeysInit({ dir: fresh, departments: configuredDepartments(), out: () => undefined });
    const existing = path.join(dir, 'existing');
    await initKeys(existing);
    expect((await loadKeyStore(existing)).owners().filter((o) => o.kind === 'department')).toEqual([]);
    const lines: string[] = [];
    await runKeysInit({ dir: existing, departments: configuredDepartments(), out: (l) => lines.push(l) });
    for (const keysDir of [fresh, existing]) {
      const store = await loadKeyStore(keysDir);
      for (const id of sandboxNames()) {
        expect(store.owner(id)).toMatchObject({ kind: 'department', custody: true, sandbox: true });
        expect(store.currentKeyId(id, 'seal')).toMatch(new RegExp(`^${id}\\.seal\\.`));
      }
    }
    expect(lines.filter((l) => l.startsWith('registered department '))).toHaveLength(sandboxNames().length);
    // Run again: nothing to register, nothing to create.
    const again: string[] = [];
    await runKeysInit({ dir: existing, departments: configuredDepartments(), out: (l) => again.push(l) });
    expect(again[0]).toBe('nothing to do: every key is in place');
  });
});

describe('the sandbox control routes of an embedded hub', () => {
  let set: SandboxSet;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    set = await startSandboxes(generateSeed({ seed: 1, size: 20 }), { only: ['tax'] });
    const control = sandboxSetControl(set, { external: ['market-regulation'] });
    server = http.createServer((req, res) => {
      if (!control(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await set?.close();
  });

  it('say which departments are sandboxes and which are external', async () => {
    const calls = (await (await fetch(`${base}/__sandbox/calls`)).json()) as Record<string, { sandbox: boolean; total?: number }>;
    expect(calls).toEqual({ tax: { sandbox: true, total: 0, byOperation: {} }, 'market-regulation': { sandbox: false } });
  });

  it('inject faults into a sandbox, and refuse them for an external department, naming it', async () => {
    const ok = await fetch(`${base}/__sandbox/faults/tax`, { method: 'POST', body: JSON.stringify({ mode: 'down' }) });
    expect(ok.status).toBe(200);
    expect(set.sandboxes.tax!.control.faults.mode).toBe('down');
    const refused = await fetch(`${base}/__sandbox/faults/market-regulation`, { method: 'POST', body: JSON.stringify({ mode: 'down' }) });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toBe(
      'department "market-regulation" is an external system configured in connectors.market-regulation, not a sandbox: faults are injected only into sandboxes',
    );
    const unknown = await fetch(`${base}/__sandbox/faults/weather`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
  });
});
