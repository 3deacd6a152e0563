/**
 * Cases in a local file, for the embedded mode (one hub process): JSON Lines, append-only, one
 * line per case version (the whole case after the step), each line written and fsync'd before
 * the step is acknowledged (the lines written while one is being synced share the next datasync).
 * Opening replays the file: versions must follow each other (1 when
 * opened, one more per step), or the file is refused (CASES_STORE_CORRUPT naming the line); a
 * last line without its newline is a write the process did not finish (nothing acknowledged it)
 * and is cut off. After a failed write the store refuses everything (CASES_STORE_UNAVAILABLE)
 * until reopened, so a half-written line is never followed by another.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createMemoryDocuments } from '../state';
import type { Case } from './case';
import { CasesError, CasesErrorCode } from './errors';
import { createDocumentCaseStore, parseCase, serializeCase, type CaseStore } from './store';

function unavailable(file: string, what: string, cause?: unknown): CasesError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new CasesError(CasesErrorCode.CASES_STORE_UNAVAILABLE, `The case file ${file} ${what}${code ? ` (${code})` : ''}.`, {}, cause);
}

function corrupt(file: string, line: number, problem: string): CasesError {
  return new CasesError(CasesErrorCode.CASES_STORE_CORRUPT, `The case file ${file} is damaged at line ${line}: ${problem}.`);
}

/** Opens (creating it if absent) the case file `file`, replaying what it holds. */
export async function openFileCaseStore(file: string): Promise<CaseStore> {
  let text = '';
  let created = false;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw unavailable(file, 'cannot be read', error);
    created = true;
  }
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'a', 0o600);
    if (created) {
      const dir = await fs.open(path.dirname(file), 'r');
      await dir.sync().finally(() => dir.close());
    }
  } catch (error) {
    throw unavailable(file, 'cannot be opened for appending', error);
  }

  const documents = createMemoryDocuments('cases');
  const memory = createDocumentCaseStore(documents);
  try {
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      // A line the process was writing when it stopped: never acknowledged.
      await handle.truncate(Buffer.byteLength(text.slice(0, end)));
      await handle.sync();
      text = text.slice(0, end);
    }
    const lines = text.split('\n').slice(0, -1);
    for (let i = 0; i < lines.length; i++) {
      let value: Case;
      try {
        value = JSON.parse(lines[i]!) as Case;
      } catch {
        throw corrupt(file, i + 1, 'not JSON');
      }
      const version = (value as { version?: unknown })?.version;
      if (typeof value !== 'object' || value === null || typeof value.caseId !== 'string' || typeof version !== 'number') throw corrupt(file, i + 1, 'not a case');
      try {
        parseCase(value.caseId, { version, value: serializeCase(value) });
      } catch {
        throw corrupt(file, i + 1, 'not a case');
      }
      const ok = version === 1 ? (await memory.create(value)).created : await memory.replace(value);
      if (!ok) throw corrupt(file, i + 1, `version ${version} of case ${value.caseId} does not follow the one before it`);
    }
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }

  let queue: Promise<unknown> = Promise.resolve();
  let failed: CasesError | undefined;
  let closed = false;
  /** Runs `step` after every step before it: it checks against memory and the lines not yet durable, and writes its line (synced and applied by its group). */
  function serial<T>(step: () => Promise<T>): Promise<T> {
    const run = queue.then(() => {
      if (closed) throw unavailable(file, 'is closed');
      if (failed) throw failed;
      return step();
    });
    queue = run.catch(() => undefined);
    return run;
  }
  // Group commit: a step checks and writes its line in turn (serial), but does not hold the next
  // step while its line is synced; the lines written meanwhile share one datasync, after which
  // they are applied to memory in order and their steps answer. What `get` and `list` read is
  // durable; a step checks against the lines written and not yet durable (`staged`) too. One
  // datasync per case opened made every webhook delivery of a burst wait in line behind it.
  interface Entry {
    readonly c: Case;
    apply(): Promise<unknown>;
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  const staged = new Map<string, { c: Case; durable: Promise<unknown> }>();
  let group: Entry[] | undefined;
  let lastSync: Promise<void> = Promise.resolve();

  /** Writes `c`'s line (inside a step); the promise answers `apply()`'s result once the line is durable and applied. */
  async function write<T>(c: Case, apply: () => Promise<T>): Promise<{ durable: Promise<T> }> {
    try {
      await handle.write(`${JSON.stringify(c)}\n`);
    } catch (error) {
      failed = unavailable(file, 'could not be written: reopen it', error);
      throw failed;
    }
    const entries = (group ??= startGroup());
    const durable = new Promise<T>((resolve, reject) => entries.push({ c, apply, resolve: resolve as (value: unknown) => void, reject }));
    durable.catch(() => undefined);
    staged.set(c.caseId, { c, durable });
    return { durable };
  }

  function startGroup(): Entry[] {
    const entries: Entry[] = [];
    const previous = lastSync;
    lastSync = (async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await previous;
      // The lines written until now are in this group; later ones start the next.
      if (group === entries) group = undefined;
      try {
        if (failed) throw failed;
        await handle.datasync();
      } catch (error) {
        failed ??= unavailable(file, 'could not be written: reopen it', error);
        for (const e of entries) e.reject(failed);
        return;
      }
      for (const e of entries) {
        try {
          e.resolve(await e.apply());
        } catch (error) {
          e.reject(error);
        }
        if (staged.get(e.c.caseId)?.c === e.c) staged.delete(e.c.caseId);
      }
    })();
    return entries;
  }

  return {
    get: (caseId) => memory.get(caseId),
    list: (department, openOnly) => memory.list(department, openOnly),
    async create(c) {
      const step = await serial(async (): Promise<{ durable: Promise<{ created: boolean; case: Case }> }> => {
        const pending = staged.get(c.caseId);
        if (pending) return { durable: pending.durable.then(() => ({ created: false, case: pending.c })) };
        const existing = await memory.get(c.caseId);
        if (existing) return { durable: Promise.resolve({ created: false, case: existing }) };
        return write({ ...c, version: 1 }, () => memory.create(c));
      });
      return step.durable;
    },
    async replace(next) {
      const step = await serial(async (): Promise<{ durable: Promise<boolean> }> => {
        const pending = staged.get(next.caseId);
        const current = pending?.c ?? (await memory.get(next.caseId));
        // Not at the version read: answered once the newer one is durable, so that reading again finds it.
        if (!current || current.version !== next.version - 1) return { durable: pending ? pending.durable.then(() => false) : Promise.resolve(false) };
        return write(next, () => memory.replace(next));
      });
      return step.durable;
    },
    close: () =>
      serial(async () => {
        closed = true;
        await lastSync;
        await handle.close();
      }),
  };
}
