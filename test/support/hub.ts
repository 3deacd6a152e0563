/**
 * Test support: the four sandboxes in-process and a real hub on a loopback port, plus a GraphQL
 * client over HTTP. Only HTTP tests use this; unit tests use the schema directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { createDataRunClient, type DataRunClient } from '../../src/client';
import { CHANGE_FEED_OPERATION, generateSeed, sandboxNames, sandboxSetControl, startSandboxes, type SandboxSet } from '../../departments';
import type { SandboxName } from '../../departments';
import { connectorEnvName, createGateway, discoverConnectorModules, type DepartmentEndpoints, type Gateway, type ProofPagesSource } from '../../src/gateway';
import type { OwnerSpec } from '../../src/seal';
import { startHubServer, type HubServer } from '../../src/http';
import { explorerExamples } from '../../src/cli/examples';

/** A GraphQL reply as the hub sends it. */
export interface GraphQLReply<T = any> {
  status: number;
  headers: Headers;
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, unknown>;
}

/** A running test hub over in-process sandboxes. */
export interface TestHub {
  readonly url: string;
  /** The operator listener (`/metrics`, the detailed `/readyz`, `/__sandbox/*`), unauthenticated, on its own loopback port. */
  readonly operatorUrl: string;
  readonly sandboxes: SandboxSet;
  readonly gateway: Gateway;
  readonly server: HubServer;
  /** Where this hub's keys and (under audit/) its access log live. */
  readonly keysDir: string;
  /** An unsigned POST (answered only in the open mode; 401 in the signed mode). */
  query<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLReply<T>>;
  /** A client signing as one of the demo consumers with its generated key. */
  clientFor(consumer: string): DataRunClient;
  /** Zeroes every sandbox's counters and removes injected faults. */
  resetSandboxes(): void;
  /** Calls each sandbox received since the last reset. */
  calls(): Record<SandboxName, number>;
  close(): Promise<void>;
}

/** Starts sandboxes (seed 1, 200 persons unless told) and a hub over them on port 0. */
export async function startTestHub(
  options: {
    size?: number;
    timeoutMs?: number;
    security?: 'signed' | 'open';
    audit?: boolean;
    auditDir?: string;
    requestDeadlineMs?: number;
    policyFile?: string;
    prepareKeys?: (dir: string) => Promise<void>;
    /** OpenTelemetry tracing (docs/tracing.md): the collector's URL, and the service name and sample ratio if not the defaults. */
    tracing?: { otlpEndpoint: string; serviceName?: string; sampleRatio?: number };
    /** The hub's log (request lines, department transitions). @default silent */
    logger?: Logger;
    /** Per-consumer rate limits. @default none */
    rateLimits?: Record<string, { requestsPerSecond: number; burst: number }>;
    /** Webhook settings (docs/webhooks.md), e.g. the allow-list of targets. @default none allowed */
    webhooks?: { allow: (string | { url: string; allowPrivate?: boolean })[]; maxAttempts?: number; maxPerConsumer?: number };
    /** The clock of pushed cases (GatewayOptions.now). @default the system clock */
    now?: () => Date;
    /** Pushed cases' settings (deadlines, calendar file). @default the hub's defaults */
    cases?: { deadlines?: Record<string, unknown>; calendar?: string };
    /** The proof pages' source (`startHubServer({ proofPages })`), made from the gateway. @default none */
    proofPages?: (gateway: Gateway) => ProofPagesSource;
    /** More connectors' settings (`connectors.<id>`), e.g. a peer hub (`type: "hub"`). @default none */
    connectors?: Record<string, Record<string, unknown>>;
    /** The peer hubs whose federation roots this hub pins (`federation.peers`). @default none */
    federationPeers?: Record<string, { url: string; root: unknown }>;
    /** `federation.refetchIntervalSec`: how soon a seal under a peer's unknown key fetches its statement again. @default the hub's (30 s) */
    federationRefetchIntervalSec?: number;
  } = {},
): Promise<TestHub> {
  const data = generateSeed({ seed: 1, size: options.size ?? 200 });
  const keysDir = mkdtempSync(path.join(tmpdir(), 'datarun-keys-'));
  await options.prepareKeys?.(keysDir);
  const auditDir = options.auditDir ?? path.join(keysDir, 'audit');
  const sandboxes = await startSandboxes(data);
  const endpoints = sandboxes.endpoints as DepartmentEndpoints;
  const gateway = await createGateway(
    {
      connectorTimeoutMs: options.timeoutMs ?? 10_000,
      ...(options.requestDeadlineMs !== undefined ? { requestDeadlineMs: options.requestDeadlineMs } : {}),
      keys: { dir: keysDir },
      ...(options.policyFile ? { policy: { file: options.policyFile } } : {}),
      ...(options.tracing ? { tracing: { serviceName: 'datarun-test-hub', sampleRatio: 1, ...options.tracing } } : {}),
      ...(options.rateLimits ? { rateLimits: { consumers: options.rateLimits } } : {}),
      // The hub's other data (webhooks, cases) in the keys directory, not beside the access log: a test that remounts the log's file system read-only needs it to hold no other open file.
      webhooks: { allow: [], maxAttempts: 12, maxAgeHours: 72, timeoutMs: 10_000, concurrency: 8, maxPerConsumer: 100, takeoverSeconds: 30, dir: path.join(keysDir, 'webhooks'), ...options.webhooks },
      cases: { file: path.join(keysDir, 'cases', 'cases.jsonl'), ...options.cases },
      proofs: { dir: path.join(keysDir, 'proofs') },
      ...(options.federationPeers ? { federation: { peers: options.federationPeers, ...(options.federationRefetchIntervalSec !== undefined ? { refetchIntervalSec: options.federationRefetchIntervalSec } : {}) } } : {}),
      security: { mode: options.security ?? 'open', clockSkewSec: 60 },
      // A test that turns the access log off says so explicitly, as the signed mode requires.
      audit: { enabled: options.audit ?? true, benchmarkOnlyDisable: options.audit === false, dir: auditDir, instanceId: 'test-hub' },
    },
    { ...endpoints, ...(options.connectors as DepartmentEndpoints | undefined) },
    { sandboxes: Object.keys(endpoints), ...(options.logger ? { logger: options.logger } : {}), ...(options.now ? { now: options.now } : {}) },
  );
  const server = await startHubServer({
    gateway,
    logger: options.logger ?? pino({ level: 'silent' }),
    port: 0,
    operator: { port: 0 },
    shutdownGraceMs: 1000,
    explorerExamples: explorerExamples(data),
    extraRoutes: sandboxSetControl(sandboxes),
    ...(options.proofPages ? { proofPages: options.proofPages(gateway) } : {}),
  });
  const clients = new Map<string, DataRunClient>();
  const url = server.url;
  return {
    url,
    operatorUrl: server.operatorUrl!,
    sandboxes,
    gateway,
    server,
    keysDir,
    async query(query, variables, headers) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as Omit<GraphQLReply, 'status' | 'headers'>;
      return { status: res.status, headers: res.headers, ...body };
    },
    clientFor(consumer) {
      let client = clients.get(consumer);
      if (!client) {
        client = createDataRunClient({ hubUrl: url, consumerId: consumer, keyFile: gateway.keyStore.privateKeyPath(consumer), audience: gateway.keyStore.hubId });
        clients.set(consumer, client);
      }
      return client;
    },
    resetSandboxes() {
      for (const s of Object.values(sandboxes.sandboxes)) s.control.reset();
    },
    calls() {
      // The hub's change-feed polls are not calls a request made.
      return Object.fromEntries(Object.entries(sandboxes.sandboxes).map(([id, s]) => [id, s.control.totalCalls() - (s.control.calls.get(CHANGE_FEED_OPERATION) ?? 0)])) as Record<SandboxName, number>;
    },
    async close() {
      await server.close();
      await gateway.stop();
      await sandboxes.close();
      rmSync(keysDir, { recursive: true, force: true });
    },
  };
}

/** The sandbox departments as trust-list parties (seal keys held by the hub), for a keys directory made by a test before a hub runs on it. */
export function sandboxDepartments(ids: readonly string[] = sandboxNames()): OwnerSpec[] {
  const titles = new Map(discoverConnectorModules().map((f) => [f.module.id, f.module.title]));
  return ids.map((id) => ({ id, kind: 'department', name: titles.get(id) ?? id, custody: true, sandbox: true }));
}

/** Connector settings as the environment of a hub process gives them (`DATARUN_CONNECTORS__<ID>__<KEY>`). */
export function connectorEnv(endpoints: DepartmentEndpoints): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [id, settings] of Object.entries(endpoints)) for (const [key, value] of Object.entries(settings)) env[connectorEnvName(id, key)] = String(value);
  return env;
}
