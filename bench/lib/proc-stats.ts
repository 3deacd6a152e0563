/**
 * What a process costs while it is under load, read from /proc: resident memory (VmRSS, sampled
 * every 200 ms) and CPU time (utime + stime of all its threads), so that a round reports the peak
 * RSS of the server under test and the CPU each process group used per request.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { CLOCK_TICKS } from './processes';

/** VmRSS of a process in MiB, or undefined once it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system, all threads) a process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** A running sampler of one process's RSS. */
export interface RssSampler {
  /** Stops sampling and returns the peak and mean RSS in MiB over the samples. */
  stop(): { peakMiB: number; meanMiB: number; samples: number };
}

/** Samples the RSS of `pid` every `everyMs` until stopped. */
export function sampleRss(pid: number, everyMs = 200): RssSampler {
  const samples: number[] = [];
  const take = (): void => {
    const v = rssMiB(pid);
    if (v !== undefined) samples.push(v);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      const peakMiB = samples.length ? Math.max(...samples) : 0;
      const meanMiB = samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : 0;
      return { peakMiB, meanMiB, samples: samples.length };
    },
  };
}

/**
 * CPU seconds used by a set of processes between the call and `stop()`. `pids` is asked at both
 * ends, so processes that start meanwhile (database backends) count with all their time, and
 * those that end meanwhile count with nothing (their last figures are gone with them).
 */
export function cpuMeter(pids: readonly number[] | (() => readonly number[])): { stop(): number } {
  const list = typeof pids === 'function' ? pids : () => pids;
  const before = new Map(list().map((pid) => [pid, cpuSeconds(pid)]));
  return {
    stop: () => {
      let sum = 0;
      for (const pid of new Set(list())) {
        const now = cpuSeconds(pid);
        if (now > 0) sum += Math.max(0, now - (before.get(pid) ?? 0));
      }
      return sum;
    },
  };
}

/** The pids of a process group (a PostgreSQL server forks a backend per connection, in its group). */
export function processGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * Busy CPU seconds of each core so far, by core number: user, nice, system and steal from
 * /proc/stat (interrupt time is left out: the kernel does not charge it to any process).
 */
export function coreBusySeconds(): number[] {
  const busy: number[] = [];
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const [user, nice, system, , , , , steal] = m[2]!.split(/\s+/).map(Number) as number[];
      busy[Number(m[1])] = ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (steal ?? 0)) / CLOCK_TICKS;
    }
  } catch {
    // Not Linux: no per-core figures.
  }
  return busy;
}
