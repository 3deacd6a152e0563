import { spawnSync } from 'node:child_process';
import { applyHeapGrowth } from '../../src/cli/heap';

describe('the serving process\'s heap growth (memory.heapGrowthPercent)', () => {
  const target = (execArgv: string[] = []) => {
    const flags: string[] = [];
    return { flags, target: { execArgv, setFlags: (f: string) => flags.push(f) } };
  };

  it('sets V8\'s growth factor to the configured per cent', () => {
    const t = target();
    expect(applyHeapGrowth(50, t.target)).toEqual({ heapGrowthPercent: 50, source: 'config' });
    expect(t.flags).toEqual(['--heap-growing-percent=50']);
  });

  it('leaves V8\'s own heuristics at 0', () => {
    const t = target();
    expect(applyHeapGrowth(0, t.target)).toEqual({ heapGrowthPercent: 'v8-default', source: 'config' });
    expect(t.flags).toEqual([]);
  });

  it('keeps a growth given to node itself, in either spelling and form, and says so', () => {
    for (const [argv, value] of [
      [['--heap-growing-percent=30'], '30'],
      [['--inspect', '--heap_growing_percent=20'], '20'],
      [['--heap-growing-percent', '70'], '70'],
    ] as const) {
      const t = target([...argv]);
      expect(applyHeapGrowth(50, t.target)).toEqual({ heapGrowthPercent: value, source: 'node-flag' });
      expect(t.flags).toEqual([]);
    }
  });

  it('refuses a value that is not a non-negative integer, naming the setting', () => {
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => applyHeapGrowth(bad, target().target)).toThrow(/memory\.heapGrowthPercent/);
  });

  it('names a flag this Node\'s V8 knows (a misspelt one is reported, and would change nothing)', () => {
    const outputOf = (flag: string): string => {
      const run = spawnSync(process.execPath, ['-e', `require('node:v8').setFlagsFromString(${JSON.stringify(flag)})`], { encoding: 'utf8', timeout: 60_000 });
      expect(run.status).toBe(0);
      return run.stdout + run.stderr;
    };
    const t = target();
    applyHeapGrowth(50, t.target);
    expect(outputOf(t.flags[0]!)).toBe('');
    expect(outputOf('--heap-growing-percnt=50')).toMatch(/unrecognized flag/);
  });
});
