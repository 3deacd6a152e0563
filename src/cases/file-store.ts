/**
 * Cases in a local file, for the embedded mode (one hub process): JSON Lines, append-only, one
 * line per case version (the whole case after the step), each line written and fsync'd before
 * the step is acknowledged. Opening replays the file: versions must follow each other (1 when
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
  /** Runs `step` after every step before it: checks against memory, the line appended and synced, then memory updated. */
  function serial<T>(step: () => Promise<T>): Promise<T> {
    const run = queue.then(() => {
      if (closed) throw unavailable(file, 'is closed');
      if (failed) throw failed;
      return step();
    });
    queue = run.catch(() => undefined);
    return run;
  }
  async function append(c: Case): Promise<void> {
    try {
      await handle.write(`${JSON.stringify(c)}\n`);
      await handle.datasync();
    } catch (error) {
      failed = unavailable(file, 'could not be written: reopen it', error);
      throw failed;
    }
  }

  return {
    get: (caseId) => memory.get(caseId),
    list: (department, openOnly) => memory.list(department, openOnly),
    create: (c) =>
      serial(async () => {
        const existing = await memory.get(c.caseId);
        if (existing) return { created: false, case: existing };
        await append({ ...c, version: 1 });
        return memory.create(c);
      }),
    replace: (next) =>
      serial(async () => {
        const current = await memory.get(next.caseId);
        if (!current || current.version !== next.version - 1) return false;
        await append(next);
        return memory.replace(next);
      }),
    close: () =>
      serial(async () => {
        closed = true;
        await handle.close();
      }),
  };
}
