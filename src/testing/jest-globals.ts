/**
 * The jest globals the kit calls (`describe`, `it`, `expect`, `beforeAll`, `afterAll`,
 * `beforeEach`), read from the global object when a suite is defined: jest is an optional peer
 * dependency of the package, so the kit neither imports it nor needs its types to compile.
 */
import { ConnectorDefinitionError } from '../sdk';

/** The matchers the kit uses. */
export interface KitMatchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toMatchObject(expected: Record<string, unknown>): void;
  toBeInstanceOf(expected: abstract new (...args: never[]) => unknown): void;
  toBeNull(): void;
  toHaveLength(expected: number): void;
  toMatch(expected: RegExp | string): void;
  toBeGreaterThan(expected: number): void;
  toBeLessThan(expected: number): void;
  readonly not: KitMatchers;
}

type Body = () => void | Promise<void>;

/** The jest functions the kit calls. */
export interface KitJest {
  describe(name: string, body: () => void): void;
  it(name: string, body: Body, timeoutMs?: number): void;
  expect(actual: unknown): KitMatchers;
  beforeAll(body: Body, timeoutMs?: number): void;
  afterAll(body: Body, timeoutMs?: number): void;
  beforeEach(body: Body, timeoutMs?: number): void;
}

const NAMES = ['describe', 'it', 'expect', 'beforeAll', 'afterAll', 'beforeEach'] as const;

/** The jest globals, or an error saying that the kit's suites run only under jest. */
export function jestGlobals(): KitJest {
  const scope = globalThis as unknown as Partial<Record<(typeof NAMES)[number], unknown>>;
  const missing = NAMES.filter((name) => typeof scope[name] !== 'function');
  if (missing.length > 0) {
    throw new ConnectorDefinitionError(`datarun/testing: describeConnectorConformance defines jest tests and must be called from a test file run by jest (missing globals: ${missing.join(', ')})`);
  }
  return scope as unknown as KitJest;
}
