/**
 * The per-file deadline (test/support/watchdog-environment.js), run for real: Jest started on
 * three fixture files with the project's own unit settings and a deadline of a few seconds. A
 * file whose test spins forever (its event loop stopped) and one whose test awaits forever (its
 * loop turning, its test deadline longer than the file's) are each named, with what they were
 * running and in which state, and failed; Jest ends; a file that ends in time is left alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HANG_DEADLINE_MS } from '../support/deadline';

const root = path.resolve(__dirname, '../..');
const unit = (require('../../jest.config.js') as { projects: Array<Record<string, unknown>> }).projects.find((p) => p.displayName === 'unit')!;
/** The unit project's settings on the fixtures, with a deadline of a few seconds in place of jest.config.js's. */
const configFor = (deadlineMs: number) => ({ ...unit, rootDir: root, displayName: 'watchdog', roots: ['<rootDir>/test/fixtures/watchdog'], testMatch: ['**/*.hang.ts'], testEnvironmentOptions: { fileDeadlineMs: deadlineMs } });

/**
 * Jest on the fixtures in two workers. Its cache is new each time: with the timings of an earlier
 * run it would run these few short files in its own process, and the watchdog would kill Jest itself.
 */
function runJest(deadlineMs: number): Promise<{ code: number | null; output: string }> {
  const cache = mkdtempSync(path.join(tmpdir(), 'datarun-watchdog-jest-'));
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'node_modules/jest/bin/jest.js'), '--config', JSON.stringify(configFor(deadlineMs)), '--maxWorkers=2', '--ci', '--cacheDirectory', cache], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    // Without a watchdog the stuck files never end: Jest is stopped, and the assertions below fail.
    const stop = setTimeout(() => child.kill('SIGKILL'), HANG_DEADLINE_MS / 2);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(stop);
      resolve({ code, output });
    });
  }).finally(() => rmSync(cache, { recursive: true, force: true }));
}

describe('the deadline per test file', () => {
  it('names and fails a stuck file (stopped loop or endless wait), and leaves a file that ends in time alone', async () => {
    const { code, output } = await runJest(10_000);
    expect(code).toBe(1);

    expect(output).toContain('[watchdog] test/fixtures/watchdog/blocked.hang.ts has run for');
    expect(output).toContain('[watchdog] Running: a suite spins forever');
    expect(output).toMatch(/\[watchdog\] its event loop has not turned for \d+ s \(a synchronous loop, or garbage collection near the heap limit/);
    expect(output).toMatch(/FAIL (watchdog )?test\/fixtures\/watchdog\/blocked\.hang\.ts/);

    expect(output).toContain('[watchdog] test/fixtures/watchdog/waiting.hang.ts has run for');
    expect(output).toContain('[watchdog] Running: waits for a reply that never comes');
    expect(output).toContain('its event loop still turns');
    expect(output).toMatch(/FAIL (watchdog )?test\/fixtures\/watchdog\/waiting\.hang\.ts/);

    expect(output).toMatch(/PASS (watchdog )?test\/fixtures\/watchdog\/passes\.hang\.ts/);
    expect(output).not.toContain('[watchdog] test/fixtures/watchdog/passes.hang.ts');
    expect(output).toMatch(/Test Suites: 2 failed, 1 passed, 3 total/);
  });
});
