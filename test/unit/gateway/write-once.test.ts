/**
 * readOrCreateFile: a file several instances sharing one keys directory may create at once (the
 * webhook key, the subject secrets). Another instance creating it between this one's check and
 * its write is played by the `make` callback, which runs in exactly that window.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { readOrCreateFile } from '../../../src/gateway/write-once';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'datarun-write-once-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readOrCreateFile', () => {
  it('creates a missing file (and its folder) with what make returns, readable by its owner only', () => {
    const file = path.join(dir, 'private', 'key.pem');
    expect(readOrCreateFile(file, () => 'made\n')).toBe('made\n');
    expect(readFileSync(file, 'utf8')).toBe('made\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(readdirSync(path.dirname(file))).toEqual(['key.pem']);
  });

  it('reads a file that exists, without making another', () => {
    const file = path.join(dir, 'key.pem');
    writeFileSync(file, 'theirs\n');
    const make = jest.fn(() => 'mine\n');
    expect(readOrCreateFile(file, make)).toBe('theirs\n');
    expect(make).not.toHaveBeenCalled();
  });

  it('uses the file of an instance that created it first, meanwhile, and leaves no temporary file', () => {
    const file = path.join(dir, 'key.pem');
    const got = readOrCreateFile(file, () => {
      writeFileSync(file, 'theirs\n');
      return 'mine\n';
    });
    expect(got).toBe('theirs\n');
    expect(readFileSync(file, 'utf8')).toBe('theirs\n');
    expect(readdirSync(dir)).toEqual(['key.pem']);
  });

  it('gives every instance the same contents however their creations interleave', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), (nested) => {
        const file = path.join(mkdtempSync(path.join(dir, 'run-')), 'secret');
        const results = new Map<number, string>();
        // Instance k, when nested[k], lets instance k + 1 run whole between its own check and its write.
        const instance = (k: number): void => {
          results.set(
            k,
            readOrCreateFile(file, () => {
              if (nested[k] && k + 1 < nested.length) instance(k + 1);
              return `secret-${k}\n`;
            }),
          );
        };
        // The instances not run inside another's creation run after, in turn.
        for (let k = 0; k < nested.length; k++) if (!results.has(k)) instance(k);
        expect(results.size).toBe(nested.length);
        expect(new Set(results.values())).toEqual(new Set([readFileSync(file, 'utf8')]));
        expect(readdirSync(path.dirname(file))).toEqual(['secret']);
      }),
    );
  });

  it('passes on an error other than a missing file (a folder where the file should be)', () => {
    const file = path.join(dir, 'key.pem');
    readOrCreateFile(path.join(file, 'inner'), () => 'x');
    expect(() => readOrCreateFile(file, () => 'mine')).toThrow(/EISDIR/);
  });
});
