/**
 * Reading the files of a keys directory: a private key file (a JWK, mode 0600), the one place that
 * checks its mode and parses it, and a file that may not exist yet (the trust list, the federation
 * root's public file), for the key store and the federation root alike.
 */
import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { KeyFileInsecureError, TrustListInvalidError } from './errors';

/** The private key in the JWK file at `path`; refused when others may read the file, or when it holds no key. */
export async function readPrivateKeyFile(path: string): Promise<KeyObject> {
  if (process.platform !== 'win32') {
    const { mode } = await stat(path);
    if ((mode & 0o077) !== 0) throw new KeyFileInsecureError(`${path} is readable by others (mode ${(mode & 0o777).toString(8)}): it must be 0600`);
  }
  try {
    return createPrivateKey({ key: JSON.parse(await readFile(path, 'utf8')) as JsonWebKey, format: 'jwk' });
  } catch (error) {
    throw new TrustListInvalidError(`cannot read the private key file ${path}`, { cause: error });
  }
}

/** The text of the file at `path`, or undefined when there is none; any other failure to read it is named. */
export async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TrustListInvalidError(`cannot read ${path}`, { cause: error });
  }
}
