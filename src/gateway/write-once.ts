/**
 * Files several hub instances sharing one keys directory may create at the same moment (the
 * webhook key, the subject secrets): written whole under a name of their own, then linked into
 * place, so that one instance's file wins and every other instance reads it complete, never a
 * half-written one and never an error because another got there first.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The contents of `file`; when there is none yet, `make`'s, written (mode 0600, its folder 0700)
 * unless another process created the file meanwhile, whose contents are then returned instead.
 */
export function readOrCreateFile(file: string, make: () => string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const contents = make();
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, contents, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, file);
    return contents;
  } catch (error) {
    // Another instance linked its file first: theirs, complete since it was linked whole.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8');
    throw error;
  } finally {
    unlinkSync(temp);
  }
}
