/**
 * The bench's CPU profile summary (bench/lib/profile.ts): self time by file and function, and the
 * window that leaves the process's start-up out of a summary "under load".
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { monotonicUs, summarizeProfile, type CpuProfile } from '../../../bench/lib/profile';

/** A profile of three frames: start-up in the module loader, then the request path, then idle. */
function profile(samples: { node: number; deltaUs: number }[], startTime?: number): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: 'Module._load', url: 'node:internal/modules/cjs/loader', lineNumber: 1002 } },
      { id: 3, callFrame: { functionName: 'execute', url: 'file:///srv/app/node_modules/graphql/execution/execute.js', lineNumber: 283 } },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    ],
    ...(startTime !== undefined ? { startTime } : {}),
    samples: samples.map((s) => s.node),
    timeDeltas: samples.map((s) => s.deltaUs),
  };
}

// Start-up: 3 samples of the loader (ms 0–3); load: 4 of graphql and 2 idle (ms 3–9).
const SAMPLES = [
  ...Array.from({ length: 3 }, () => ({ node: 2, deltaUs: 1000 })),
  ...Array.from({ length: 4 }, () => ({ node: 3, deltaUs: 1000 })),
  ...Array.from({ length: 2 }, () => ({ node: 4, deltaUs: 1000 })),
];
const START = 5_000_000;

describe('summarizeProfile', () => {
  it('counts every sample without a window', () => {
    const s = summarizeProfile(profile(SAMPLES, START));
    expect(s.totalMs).toBe(9);
    expect(s.fileShares).toEqual({ 'node:internal/modules/cjs/loader': (100 * 3) / 7, 'pkg:graphql': (100 * 4) / 7 });
    expect(s.idlePercent).toBeCloseTo((100 * 2) / 9);
  });

  it('counts only the samples of its window: the start-up is left out', () => {
    const s = summarizeProfile(profile(SAMPLES, START), 15, { fromUs: START + 3500, toUs: START + 100_000 });
    expect(s.totalMs).toBe(6);
    expect(s.fileShares).toEqual({ 'pkg:graphql': 100 });
    expect(s.byFunction.map((e) => e.name)).toEqual(['execute pkg:graphql:284']);
  });

  it('summarizes a profile without a start time whole, whatever the window', () => {
    expect(summarizeProfile(profile(SAMPLES), 15, { fromUs: START + 3500 }).totalMs).toBe(9);
  });

  it('splits a profile at any instant with nothing lost or counted twice', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ node: fc.constantFrom(2, 3, 4), deltaUs: fc.integer({ min: 1, max: 5000 }) }), { maxLength: 50 }), fc.integer({ min: 0, max: 300_000 }), (samples, cutUs) => {
        const p = profile(samples, START);
        const whole = summarizeProfile(p).totalMs;
        const before = summarizeProfile(p, 15, { toUs: START + cutUs }).totalMs;
        const after = summarizeProfile(p, 15, { fromUs: START + cutUs + 1 }).totalMs;
        expect(before + after).toBeCloseTo(whole, 9);
      }),
    );
  });

  it('reads the window on the clock node --cpu-prof stamps its profile with', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'datarun-profile-'));
    try {
      const printed = execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '-e', 'process.stdout.write(String(process.hrtime.bigint() / 1000n))'], { encoding: 'utf8' });
      const written = JSON.parse(readFileSync(path.join(dir, readdirSync(dir)[0]!), 'utf8')) as { startTime: number; endTime: number };
      const inChild = Number(printed);
      expect(inChild).toBeGreaterThanOrEqual(written.startTime);
      expect(inChild).toBeLessThanOrEqual(written.endTime);
      expect(monotonicUs()).toBeGreaterThan(written.endTime);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
