/** Defaults of CLI options from the environment (`datarun query`'s DATARUN_SANDBOX_SEED and DATARUN_SANDBOX_SIZE). */
import { fromEnv } from '../../src/cli/env-default';
import { exitCodeOfError } from '../../src/cli/exit';

const NAME = 'DATARUN_TEST_ENV_DEFAULT';
const positive = (raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error('size must be an integer from 1');
  return n;
};

afterEach(() => {
  delete process.env[NAME];
});

describe('fromEnv', () => {
  it('gives the fallback when the variable is unset or empty, and the parsed value otherwise, read when asked', () => {
    const read = fromEnv(NAME, positive, 200);
    expect(read()).toBe(200);
    process.env[NAME] = '';
    expect(read()).toBe(200);
    process.env[NAME] = '50';
    expect(read()).toBe(50);
  });

  it('refuses a bad value as a usage error (exit 2) that names the variable, the problem and the value', () => {
    process.env[NAME] = 'abc';
    const read = fromEnv(NAME, positive, 200);
    expect(read).toThrow(`${NAME}: size must be an integer from 1, but got: "abc"`);
    try {
      read();
    } catch (error) {
      expect(exitCodeOfError(error)).toBe(2);
    }
    expect.assertions(2);
  });
});
