/**
 * The connector conformance suite: the same checks for every connector, whatever protocol its
 * department speaks. A subject says how to start the connector's upstream (a scripted or
 * recorded HTTP upstream, a TCP fault proxy, or a test's own adapter) and how to build the
 * connector against it; the kit drives the upstream's faults and counters and knows no protocol.
 */
import { CONNECTOR_ID_PATTERN, ConnectorDefinitionError, HubError, createHubContext, type Connector, type ConnectorModule } from '../sdk';
import { jestGlobals } from './jest-globals';
import { connectorModuleProblems } from './module-checks';
import { DEFAULT_SLOW_MS, type ConformanceUpstream, type FaultMode, type UpstreamFault } from './upstream';

/** A value, or a function giving it when the tests run. */
export type Resolvable<T> = T | (() => T);

/** The part of a DataLoader the kit uses. */
export interface PrimaryLoader {
  loadMany(keys: ArrayLike<string>): Promise<ArrayLike<unknown>>;
}

/** What the kit needs to know about one connector. */
export interface ConformanceSubject<L = any, U extends ConformanceUpstream = ConformanceUpstream> {
  /** The connector's id. */
  readonly id: string;
  /** The connector module, when the connector is one: adds the module checks, and builds the connector from `settings`. */
  readonly module?: ConnectorModule;
  /** Starts the upstream the connector talks to (once, before the tests); closed after them. */
  upstream(): Promise<U>;
  /** With a module: its settings (as the configuration gives them) pointing at the upstream, with this per-call timeout. */
  settings?(upstream: U, timeoutMs: number): Record<string, unknown>;
  /** Without a module: a connector pointed at the upstream with this per-call timeout. */
  createConnector?(upstream: U, timeoutMs: number): Connector<L>;
  /** The connector's primary by-identifier loader. */
  primaryLoader(loaders: L): PrimaryLoader;
  /** Identifiers the upstream knows (at least 5). */
  readonly knownKeys: Resolvable<readonly string[]>;
  /** A well-formed identifier the upstream does not know. */
  readonly unknownKey: Resolvable<string>;
  /** 100 distinct identifiers for the batching check (known or not). @default the first 100 known keys */
  readonly batchKeys?: Resolvable<readonly string[]>;
  /** The identifier a record carries, to check results are in key order. */
  keyOf(record: any): string;
  /** Personal data that must never appear in an error (the keys are always checked). */
  readonly personalData?: Resolvable<readonly string[]>;
  /** Timeouts of the suite, for unusual upstreams. */
  readonly timing?: ConformanceTiming;
}

/** The suite's timeouts (milliseconds). */
export interface ConformanceTiming {
  /** The connector's timeout in the checks not about timeouts: generous, so a busy machine cannot fail them. @default 10000 */
  readonly timeoutMs?: number;
  /** The timeout under test, far below the injected delay. @default 300 */
  readonly shortTimeoutMs?: number;
  /** The delay of the `slow` fault. @default 30000 */
  readonly slowMs?: number;
  /** Jest's deadline of each test and hook: it catches a hang, it measures nothing. @default 120000 */
  readonly hangMs?: number;
}

/** The faults every connector is checked against, and the code each must become. */
const FAULT_CHECKS: readonly { label: string; mode: FaultMode; code: string; optional?: boolean }[] = [
  { label: 'a timeout', mode: 'slow', code: 'CONNECTOR_TIMEOUT' },
  { label: 'a dropped connection', mode: 'down', code: 'CONNECTOR_UNAVAILABLE' },
  { label: 'an error reply', mode: 'error', code: 'CONNECTOR_UNAVAILABLE' },
  { label: 'a malformed reply', mode: 'malformed', code: 'UPSTREAM_INVALID_RESPONSE' },
  { label: 'a connection reset in the middle of a reply (when its upstream can inject one)', mode: 'reset', code: 'CONNECTOR_UNAVAILABLE', optional: true },
];
const DEFAULT_FAULTS: readonly FaultMode[] = ['none', 'down', 'slow', 'error', 'malformed'];

const resolve = <T>(value: Resolvable<T>): T => (typeof value === 'function' ? (value as () => T)() : value);

function checkSubject(subject: ConformanceSubject): void {
  const where = `describeConnectorConformance(${JSON.stringify(subject?.id)})`;
  if (!subject || typeof subject !== 'object') throw new ConnectorDefinitionError('describeConnectorConformance: the subject must be an object');
  if (typeof subject.id !== 'string' || subject.id === '') throw new ConnectorDefinitionError('describeConnectorConformance: the subject needs the connector id');
  if (typeof subject.upstream !== 'function') throw new ConnectorDefinitionError(`${where}: upstream() must start the connector's upstream`);
  if (typeof subject.primaryLoader !== 'function' || typeof subject.keyOf !== 'function') throw new ConnectorDefinitionError(`${where}: primaryLoader and keyOf must be functions`);
  if (subject.module) {
    if (typeof subject.settings !== 'function' && typeof subject.createConnector !== 'function') throw new ConnectorDefinitionError(`${where}: with a module, settings(upstream, timeoutMs) gives its settings`);
  } else if (typeof subject.createConnector !== 'function') {
    throw new ConnectorDefinitionError(`${where}: give the connector module (module + settings) or createConnector(upstream, timeoutMs)`);
  }
}

/** Defines the conformance tests of one connector (call it at the top level of a jest test file). */
export function describeConnectorConformance<L, U extends ConformanceUpstream>(subject: ConformanceSubject<L, U>): void {
  checkSubject(subject as ConformanceSubject);
  const { describe, it, expect, beforeAll, afterAll, beforeEach } = jestGlobals();
  const timing = subject.timing ?? {};
  const TIMEOUT_MS = timing.timeoutMs ?? 10_000;
  const SHORT_TIMEOUT_MS = timing.shortTimeoutMs ?? 300;
  const SLOW_MS = timing.slowMs ?? DEFAULT_SLOW_MS;
  const HANG_MS = timing.hangMs ?? 120_000;

  // As the hub does: the module's SDL first (a module may derive it and build the connector on it), then the connector.
  const build = async (upstream: U, timeoutMs: number): Promise<Connector<L>> => {
    if (subject.createConnector) return subject.createConnector(upstream, timeoutMs);
    const module = subject.module!;
    const settings = module.settings.parse(subject.settings!(upstream, timeoutMs));
    await module.typeDefs(settings);
    return module.create(settings, { defaultTimeoutMs: timeoutMs }) as Connector<L>;
  };

  describe(`connector "${subject.id}" conformance`, () => {
    let upstream: U | undefined;
    let connector: Connector<L>;
    let impatient: Connector<L>;
    const started: Connector<L>[] = [];
    const loaders = (of: Connector<L> = connector) => createHubContext({ requestId: 'conformance', signal: new AbortController().signal }).loadersOf(of);
    const known = (): readonly string[] => {
      const keys = resolve(subject.knownKeys);
      if (!Array.isArray(keys) || keys.length < 5 || !keys.every((k) => typeof k === 'string')) throw new ConnectorDefinitionError(`subject "${subject.id}": knownKeys must hold at least 5 identifiers`);
      return keys;
    };
    const personal = (): string[] => [...known(), resolve(subject.unknownKey), ...(resolve(subject.personalData ?? []) ?? [])].filter((s) => typeof s === 'string' && s.length >= 2);

    beforeAll(async () => {
      upstream = await subject.upstream();
      connector = await build(upstream, TIMEOUT_MS);
      await connector.start();
      started.push(connector);
      impatient = await build(upstream, SHORT_TIMEOUT_MS);
      await impatient.start();
      started.push(impatient);
    }, HANG_MS);
    afterAll(async () => {
      for (const c of started) await c.stop();
      await upstream?.close();
    }, HANG_MS);
    beforeEach(async () => {
      await upstream?.reset();
    }, HANG_MS);

    it('has a kebab-case id and a title', () => {
      expect(connector.id).toBe(subject.id);
      expect(connector.id).toMatch(CONNECTOR_ID_PATTERN);
      expect(connector.title.trim().length).toBeGreaterThan(3);
    });

    it('returns one result per key, in key order, null for an unknown key, in one upstream call', async () => {
      const five = known().slice(0, 5);
      const keys = [five[3]!, resolve(subject.unknownKey), five[0]!, five[4]!, five[1]!, five[2]!];
      const results = Array.from(await subject.primaryLoader(loaders()).loadMany(keys));
      expect(results).toHaveLength(keys.length);
      for (const result of results) expect(result).not.toBeInstanceOf(Error);
      expect(results[1]).toBeNull();
      expect(results.map((r, i) => (i === 1 ? null : subject.keyOf(r)))).toEqual(keys.map((k, i) => (i === 1 ? null : k)));
      expect(await upstream!.calls()).toBe(1);
    }, HANG_MS);

    it('batches 100 keys into one upstream call', async () => {
      const keys = [...new Set(resolve(subject.batchKeys ?? (() => known().slice(0, 100))))];
      if (keys.length < 100) throw new ConnectorDefinitionError(`subject "${subject.id}": the batching check needs 100 distinct keys, but batchKeys (or knownKeys) holds ${keys.length}`);
      const results = Array.from(await subject.primaryLoader(loaders()).loadMany(keys.slice(0, 100)));
      expect(results.filter((r) => r instanceof Error)).toEqual([]);
      expect(await upstream!.calls()).toBe(1);
    }, HANG_MS);

    for (const check of FAULT_CHECKS) {
      it(`maps ${check.label} to ${check.code}, naming the connector and no personal data`, async () => {
        const supported = upstream!.faults ?? DEFAULT_FAULTS;
        if (!supported.includes(check.mode)) {
          if (check.optional) return;
          throw new ConnectorDefinitionError(`subject "${subject.id}": its upstream cannot inject the fault "${check.mode}" (it can: ${supported.join(', ')}); the check needs it`);
        }
        const fault: UpstreamFault = check.mode === 'slow' ? { mode: 'slow', delayMs: SLOW_MS } : { mode: check.mode };
        await upstream!.setFault(fault);
        const keys = known().slice(0, 3);
        const startedAt = performance.now();
        const results = Array.from(await subject.primaryLoader(loaders(check.code === 'CONNECTOR_TIMEOUT' ? impatient : connector)).loadMany(keys));
        // Cut short by the timeout, never waiting for the slow reply (a bound that only catches a hang).
        if (check.mode === 'slow') expect(performance.now() - startedAt).toBeLessThan(SLOW_MS / 2);
        const secrets = personal();
        for (const result of results) {
          expect(result).toBeInstanceOf(HubError);
          const error = result as HubError;
          expect({ code: error.code, extensions: error.extensions }).toMatchObject({ code: check.code, extensions: { code: check.code, connector: subject.id } });
          const text = `${error.message} ${JSON.stringify(error.extensions)}`;
          expect(secrets.filter((s) => text.includes(s))).toEqual([]);
        }
      }, HANG_MS);
    }

    it('reports health: ok when the department answers, not ok (without throwing) when it is down', async () => {
      const ok = await connector.health();
      expect(ok).toMatchObject({ connector: subject.id, ok: true });
      await upstream!.setFault({ mode: 'down' });
      const down = await connector.health();
      expect(down).toMatchObject({ connector: subject.id, ok: false });
      expect(typeof down.reason).toBe('string');
    }, HANG_MS);

    if (subject.module) {
      it('is a well-formed connector module: strict settings, SDL that parses, every field classified, every sealed type with a seal field', async () => {
        const module = subject.module!;
        const problems = await connectorModuleProblems(module, subject.settings ? subject.settings(upstream!, TIMEOUT_MS) : {}, connector as Connector);
        expect(problems).toEqual([]);
        expect(module.id).toBe(subject.id);
      }, HANG_MS);
    }
  });
}
