/** Runs the load worker (autocannon in its own process) for one warm-up or one measured round. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadJob, LoadResult } from '../load-worker';
import { spawnManaged } from './processes';

export type { LoadJob, LoadResult } from '../load-worker';

const WORKER = path.join(__dirname, '..', 'load-worker.js');
let jobs = 0;

/** Runs one load job in a child process pinned to `cpus`; `tmpDir` holds the job file. */
export async function runLoad(job: LoadJob, options: { cpus: string | undefined; tmpDir: string }): Promise<LoadResult> {
  const file = path.join(options.tmpDir, `load-job-${process.pid}-${++jobs}.json`);
  writeFileSync(file, JSON.stringify(job));
  const worker = spawnManaged({ name: 'load generator', command: process.execPath, args: [WORKER, file], ...(options.cpus ? { cpus: options.cpus } : {}) });
  let stdout = '';
  worker.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const code = await worker.exited;
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`the load generator failed (exit ${String(code)}):\n${worker.output().slice(-2000)}`);
  return JSON.parse(line) as LoadResult;
}
