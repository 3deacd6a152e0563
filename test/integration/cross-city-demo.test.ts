/**
 * `datarun demo cross-city`, the README's worked scenario of 跨域通办, run as the command runs it:
 * two hubs in this process (Heze's and Tai'an's, each over its own city's sandbox seed), Tai'an
 * putting Heze's graph behind its own, a property transfer at Tai'an whose seller is registered in
 * Heze; every step checked by the command itself (a step that does not hold throws), and the
 * story it prints. Then its options: kept keys reused, hubs left running until told.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runDemo } from '../../src/cli/demo';
import { prepareDemoKeys } from '../../src/cli/demo-kit';
import { HANG_DEADLINE_MS } from '../support/deadline';

describe('datarun demo cross-city', () => {
  it('tells the story: the unit from Tai\'an, the seller from Heze under Heze\'s seal, both records linked', async () => {
    const lines: string[] = [];
    await expect(runDemo({ scenario: 'cross-city', size: 60 }, (line) => lines.push(line))).resolves.toBe(0);
    const text = lines.join('\n');
    for (const step of ['1. 菏泽枢纽 Heze\'s hub "heze"', '2. 菏泽运维交付图谱快照', '3. 泰安枢纽 Tai\'an\'s hub "taian"', '4. 不动产登记中心 real-estate-centre asks Tai\'an\'s hub', '5. 卖方纳税情况来自菏泽税务', '6. 泰安的访问记录', '7. 菏泽的访问记录']) {
      expect(text).toContain(step);
    }
    // The unit is Tai'an's, its owner registered in Heze.
    expect(text).toMatch(/the unit, from Tai'an's registry: 3709\d{8}GB\d{5}F\d{8}, 山东省泰安市/);
    expect(text).toMatch(/sole owner 3717\d{13}[\dX] \(户籍菏泽 registered in Heze\)/);
    // The seller's tax records through Heze's hub, sealed there and verified against Heze's keys only.
    const sealLine = lines.find((l) => l.includes('sealed by Heze\'s'))!;
    expect(sealLine).toMatch(/sealed by Heze's [a-z-]+ \(key [^)]+\), seal verified against Heze's JWKS http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json, and not against Tai'an's/);
    expect(text).toMatch(/the seller \S+ \(3717\d\d\*+\d{3}[\dX], masked by Heze for Tai'an\)/);
    // Both records, one federation request id; Heze's names Tai'an, the centre and Tai'an's request.
    const taian = /6\. .* request (\S+), federation request id (taian:\S+)/.exec(text);
    expect(taian).not.toBeNull();
    const heze = /7\. .*: taian-hub on behalf of real-estate-centre @ taian \(its request (\S+)\).*federation request id (\S+)/.exec(text);
    expect(heze).not.toBeNull();
    expect(heze![1]).toBe(taian![1]);
    expect(heze![2]).toBe(taian![2]);
    // Heze's record names the department whose seal the tax records carry.
    const issuer = /sealed by Heze's ([a-z-]+)/.exec(sealLine)![1]!;
    expect(lines.find((l) => l.startsWith('7. '))).toMatch(new RegExp(`departments ([a-z-]+, )*${issuer}, federation`));
    expect(lines.find((l) => l.startsWith('6. '))).toMatch(/departments .*heze/);
    expect(lines[lines.length - 1]).toBe('every step held.');
  }, HANG_DEADLINE_MS * 2);

  it('keeps its keys under --keys and reuses them, and leaves both hubs up until told to stop', async () => {
    const keys = mkdtempSync(path.join(tmpdir(), 'datarun-cross-city-keys-'));
    try {
      let urls: string[] = [];
      const lines: string[] = [];
      const keepRunning = async (): Promise<void> => {
        const line = lines.find((l) => l.startsWith('both hubs keep running'))!;
        urls = [...line.matchAll(/(http:\/\/127\.0\.0\.1:\d+)\/graphql/g)].map((m) => m[1]!);
        // Both hubs answer while the demo waits.
        for (const url of urls) expect((await fetch(`${url}/.well-known/jwks.json`)).status).toBe(200);
      };
      await expect(runDemo({ scenario: 'cross-city', size: 30, keysDir: keys, keepRunning }, (line) => lines.push(line))).resolves.toBe(0);
      expect(urls).toHaveLength(2);
      // Stopped on return: nothing listens any more.
      for (const url of urls) await expect(fetch(`${url}/.well-known/jwks.json`)).rejects.toThrow();
      expect(existsSync(path.join(keys, 'heze', 'trust.json'))).toBe(true);
      expect(existsSync(path.join(keys, 'taian', 'trust.json'))).toBe(true);
      // A second run on the same keys holds too, its logs continued: its own records in the story.
      const again: string[] = [];
      await expect(runDemo({ scenario: 'cross-city', size: 30, keysDir: keys }, (line) => again.push(line))).resolves.toBe(0);
      const seq = (text: string[], step: string): number => Number(/access record #(\d+):/.exec(text.find((l) => l.startsWith(step))!)![1]);
      expect(seq(again, '6. ')).toBeGreaterThan(seq(lines, '6. '));
      expect(seq(again, '7. ')).toBeGreaterThan(seq(lines, '7. '));
    } finally {
      rmSync(keys, { recursive: true, force: true });
    }
  }, HANG_DEADLINE_MS * 2);

  it('refuses a keys directory of another hub, and its options on the other scenario, starting nothing', async () => {
    const keys = mkdtempSync(path.join(tmpdir(), 'datarun-cross-city-keys-'));
    try {
      await prepareDemoKeys(path.join(keys, 'heze'), 'jinan');
      await expect(runDemo({ scenario: 'cross-city', size: 30, keysDir: keys }, () => undefined)).rejects.toThrow(`${path.join(keys, 'heze')} holds the keys of hub "jinan", not of hub "heze"`);
    } finally {
      rmSync(keys, { recursive: true, force: true });
    }
    await expect(runDemo({ scenario: 'enterprise-startup', keysDir: '/tmp/x' }, () => undefined)).rejects.toThrow('--keys and --keep-running are options of the cross-city scenario, not of enterprise-startup');
  });
});
