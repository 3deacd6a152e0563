/**
 * The connector conformance suite: the same checks for every connector, whatever protocol its
 * department speaks. An integrator adding a connector adds one `ConformanceSubject` to
 * connectors.test.ts; nothing else.
 */
import type DataLoader from 'dataloader';
import type { Sandbox } from '../../departments/sandbox-kit';
import type { SeedData } from '../../departments/seed/model';
import { createHubContext, HubError, type Connector } from '../../src/sdk';

/** What the suite needs to know about one connector. */
export interface ConformanceSubject<L = any> {
  id: string;
  /** Starts the connector's sandbox over the seed. */
  startSandbox(data: SeedData): Promise<Sandbox>;
  /** A connector pointed at the sandbox with the given per-call timeout. */
  createConnector(sandbox: Sandbox, timeoutMs: number): Connector<L>;
  /** The connector's primary by-identifier loader. */
  primaryLoader(loaders: L): DataLoader<string, unknown>;
  /** Identifiers the department knows (at least 5). */
  knownKeys(data: SeedData): string[];
  /** A well-formed identifier the department does not know. */
  unknownKey(data: SeedData): string;
  /** The identifier a record carries, to check results are in key order. */
  keyOf(record: any): string;
}

/** The connector's timeout in the tests that are not about timeouts: generous, so a busy machine cannot turn a slow answer into a failure. */
const TIMEOUT_MS = 10_000;
/** The timeout under test, far below the injected delay, so that which of the two won is never in doubt. */
const SHORT_TIMEOUT_MS = 300;
const SLOW_MS = 30_000;

/** Defines the conformance tests of one connector. */
export function describeConnectorConformance(subject: ConformanceSubject, data: SeedData): void {
  describe(`connector "${subject.id}" conformance`, () => {
    let sandbox: Sandbox;
    let connector: Connector;
    let impatient: Connector;
    const personal = [...data.persons.flatMap((p) => [p.idNumber, p.name, p.address]), ...data.enterprises.flatMap((e) => [e.creditCode, e.name]), ...data.properties.map((p) => p.unitNumber)];

    const loaders = (of: Connector = connector) => createHubContext({ requestId: 'conformance', signal: new AbortController().signal }).loadersOf(of);

    beforeAll(async () => {
      sandbox = await subject.startSandbox(data);
      connector = subject.createConnector(sandbox, TIMEOUT_MS);
      impatient = subject.createConnector(sandbox, SHORT_TIMEOUT_MS);
      await connector.start();
      await impatient.start();
    });
    afterAll(async () => {
      await connector?.stop();
      await impatient?.stop();
      await sandbox?.close();
    });
    beforeEach(() => sandbox.control.reset());

    it('has a kebab-case id and a title', () => {
      expect(connector.id).toBe(subject.id);
      expect(connector.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(connector.title.length).toBeGreaterThan(3);
    });

    it('returns one result per key, in key order, null for an unknown key, in one upstream call', async () => {
      const known = subject.knownKeys(data).slice(0, 5);
      expect(known).toHaveLength(5);
      const keys = [known[3]!, subject.unknownKey(data), known[0]!, known[4]!, known[1]!, known[2]!];
      const results = await subject.primaryLoader(loaders()).loadMany(keys);
      expect(results).toHaveLength(keys.length);
      expect(results[1]).toBeNull();
      keys.forEach((key, i) => {
        if (i !== 1) expect(subject.keyOf(results[i])).toBe(key);
      });
      expect(sandbox.control.totalCalls()).toBe(1);
    });

    it('batches 100 keys into one upstream call', async () => {
      const keys = subject.knownKeys(data).slice(0, 100);
      const results = await subject.primaryLoader(loaders()).loadMany(keys);
      expect(results.every((r) => !(r instanceof Error))).toBe(true);
      expect(sandbox.control.totalCalls()).toBe(1);
    });

    const faults = [
      ['a timeout', { mode: 'slow', slowMs: SLOW_MS }, 'CONNECTOR_TIMEOUT'],
      ['a dropped connection', { mode: 'down' }, 'CONNECTOR_UNAVAILABLE'],
      ['an error reply', { errorRate: 1 }, 'CONNECTOR_UNAVAILABLE'],
      ['a malformed reply', { mode: 'malformed' }, 'UPSTREAM_INVALID_RESPONSE'],
    ] as const;
    for (const [label, settings, code] of faults) {
      it(`maps ${label} to ${code}, naming the connector and no personal data`, async () => {
        sandbox.control.setFaults(settings);
        const keys = subject.knownKeys(data).slice(0, 3);
        const started = performance.now();
        const results = await subject.primaryLoader(loaders(code === 'CONNECTOR_TIMEOUT' ? impatient : connector)).loadMany(keys);
        // Cut short by the timeout, never waiting for the slow reply (a bound that only catches a hang).
        expect(performance.now() - started).toBeLessThan(SLOW_MS / 2);
        for (const result of results) {
          expect(result).toBeInstanceOf(HubError);
          const error = result as HubError;
          expect(error.code).toBe(code);
          expect(error.extensions).toMatchObject({ code, connector: subject.id });
          const text = `${error.message} ${JSON.stringify(error.extensions)}`;
          expect(personal.filter((s) => text.includes(s))).toEqual([]);
        }
      });
    }

    it('reports health: ok when the department answers, not ok (without throwing) when it is down', async () => {
      const ok = await connector.health();
      expect(ok).toMatchObject({ connector: subject.id, ok: true });
      sandbox.control.setFaults({ mode: 'down' });
      const down = await connector.health();
      expect(down).toMatchObject({ connector: subject.id, ok: false });
      expect(typeof down.reason).toBe('string');
    });
  });
}
