/** Defaults of CLI options read from the environment. */
import { CliUsageError } from './exit';

/**
 * An option's default from the environment, read with the option's own parser when the command
 * runs: a bad value is a usage error (exit 2) naming its variable, and a command that does not
 * read it is not stopped by it.
 */
export function fromEnv<T>(name: string, parse: (raw: string) => T, fallback: T): () => T {
  return () => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return fallback;
    try {
      return parse(raw);
    } catch (error) {
      throw new CliUsageError(`${name}: ${(error as Error).message}, but got: ${JSON.stringify(raw)}`);
    }
  };
}
