import path from 'node:path';
import type { GraphQLEnumType, GraphQLSchema } from 'graphql';
import { createPolicyEngine, createPolicyResolvers, DEMO_POLICY, readPolicyFile, type PolicyEngine } from '../policy';
import {
  DEFAULT_HUB_ID,
  createConsentVerifier,
  createSignatureMemo,
  createConsoleLoginVerifier,
  createKeyStore,
  createReceiptSigner,
  createRequestVerifier,
  readRequestToken,
  type Jwks,
  type KeyStore,
  type ReceiptSigner,
  type ReplayGuard,
  type RequestVerifier,
} from '../seal';
import {
  cacheVersionOf,
  createLoaderCaches,
  createSharedState,
  startInvalidationPoller,
  type InvalidationEvent,
  type InvalidationPoller,
  type LoaderCaches,
  type LoaderCachesObserver,
  type RateLimiter,
  type RedisConnectionEvent,
  type SharedState,
  type SharedStateHealth,
  type SharedStateMode,
} from '../state';
import { HubError, HubErrorCode, type Connector, type ConnectorCache, type ConnectorModule, type ConnectorEnvironment, type EventTypeSpec } from '../sdk';
import { createPeerTrust } from './federation/peer-trust';
import { hubStatementOf } from './federation/statement';
import type { PeerTrust } from './peer-keys';
import { ConfigError, sharedIndexProblem, signedWithoutAuditProblem, type HubConfig } from './config';
import { modulesOfConfig } from './connector-modules';
import { parseConnectorSettings } from './connector-settings';
import {
  createChainProver,
  createChainReader,
  createRedisAuditSink,
  newestHeadsInStore,
  openSharedAccessIndex,
  startAuditArchiver,
  type SharedAccessIndex,
  type SharedIndexEvent,
  type AuditArchiver,
  type AuditArchiverEvent,
  type AuditLog,
  type AuditLogEvent,
  type SignedTreeHead,
  type ChainProver,
} from '../audit';
import {
  auditSigner,
  auditSubjectSecret,
  createAuditResolvers,
  hubConfidentialPurposes,
  sealSubjectSecret,
  openHubAuditLog,
  openReopeningAuditLog,
  withSharedIndex,
  type HubAuditOptions,
  type ReopeningAuditLogEvent,
} from './audit';
import { exportForConsole, type ConsoleExport, type ConsoleExportFilter } from './console-export';
import { createConsoleSessions, type ConsoleSessions } from './console-sessions';
import { createHubMetrics, type HubLogger, type HubMetrics } from './metrics';
import { createPipeline, type HubReply, type HubRequest, type Pipeline, type PipelineLogger, type StandingOperation } from './pipeline';
import { acceptedEvents, createEventResolvers, declaredEventTypes, eventKeyOf, eventTypeProblems } from './events';
import { createSubscriptions, type OpenedSubscription } from './subscriptions';
import { createWebhookResolvers, startWebhooks, type Webhooks } from './webhooks';
import { createLocalEventStream, createSharedEventStream, type EventStream } from './event-stream';
import { startTracing } from './tracing';
import { createRefusalAggregator, type RefusalAggregator } from './refusals';
import type { RequestContext } from './request-context';
import { buildHubSchema, EVENTS_SDL_FILE, loadSharedTypeDefs, PROOFS_SDL_FILE } from './schema';
import { createProofResolvers, declaredProofKinds, offeredProofBundles, proofBundlesSdl, proofKindProblems, startProofs, type HubProofs } from './proofs';
import { subjectRecordingSchema } from './subjects';
import { assertSealsCovered, createSealResolvers, createSealService, type SealService } from './seals';
import { createCaseResolvers, createHubCases, defaultCasesFile, type HubCases } from './cases';

/** The settings of each connector the hub runs, by connector id (`connectors.<id>.*`, or a sandbox's). */
export type DepartmentEndpoints = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** The connectors of a hub, made from their modules and settings, with the SDL each adds to the graph. */
export interface ComposedConnectors {
  readonly connectors: readonly Connector[];
  readonly modules: readonly ConnectorModule[];
  readonly typeDefs: readonly string[];
}

/**
 * Makes the connectors named in `endpoints` from their modules: each one's settings validated by
 * its module's schema (an error names `connectors.<id>.<key>`), the hub's default timeout for a
 * connector that sets none (`environment` is what every connector is made with), and each module's SDL. An id without a module is an error naming it.
 */
export async function composeConnectors(modules: readonly ConnectorModule[], endpoints: DepartmentEndpoints, environment: ConnectorEnvironment): Promise<ComposedConnectors> {
  const byId = new Map(modules.map((m) => [m.id, m]));
  const problems: string[] = [];
  const chosen: { module: ConnectorModule; settings: unknown }[] = [];
  for (const id of Object.keys(endpoints).sort()) {
    const module = byId.get(id);
    if (!module) {
      problems.push(`connectors.${id}: there is no connector "${id}" (connectors: ${[...byId.keys()].join(', ')})`);
      continue;
    }
    const { enabled, ...own } = endpoints[id]!;
    if (enabled === false) continue;
    const parsed = parseConnectorSettings(module, own);
    if ('problems' in parsed) problems.push(...parsed.problems);
    else chosen.push({ module, settings: parsed.settings });
  }
  if (problems.length > 0) throw new ConfigError(`Invalid connector settings:\n  - ${problems.join('\n  - ')}`);
  // The SDL first: a module may derive it (the generic GraphQL connector reads the remote schema) and build the connector on it.
  const typeDefs = await Promise.all(chosen.map(({ module, settings }) => module.typeDefs(settings as never)));
  const connectors = chosen.map(({ module, settings }) => {
    const connector = module.create(settings as never, environment);
    if (connector.id !== module.id) throw new ConfigError(`connector module "${module.id}" made a connector with id "${connector.id}"`);
    return connector;
  });
  return { connectors, modules: chosen.map((c) => c.module), typeDefs };
}

/**
 * Every connector the hub runs seals with its department's key, so each must be a department of
 * the trust list whose current seal key the hub holds: sandbox departments are registered (and
 * given a key) on the spot; a real one that is missing is a start-up error naming it, never a
 * failed seal on the first request.
 */
function assertSealKeys(keyStore: KeyStore, modules: readonly ConnectorModule[]): void {
  const problems: string[] = [];
  for (const module of modules) {
    if (module.sealsNothing) continue;
    const owner = keyStore.owner(module.id);
    if (!owner) problems.push(`department "${module.id}" is not in the trust list ${keyStore.dir}/trust.json: run \`datarun keys init\` to register it and create its seal key`);
    else if (owner.kind !== 'department') problems.push(`"${module.id}" is a ${owner.kind} in the trust list, not a department: its connector cannot seal`);
    else if (!owner.custody) problems.push(`department "${module.id}" keeps its seal key itself (custody: false): the hub seals with the department's key, so it must hold it`);
    else if (!keyStore.currentKeyId(module.id, 'seal')) problems.push(`department "${module.id}" has no usable seal key in ${keyStore.dir}: run \`datarun keys init\` or \`datarun keys rotate ${module.id}\``);
  }
  if (problems.length > 0) throw new ConfigError(`Seal keys:\n  - ${problems.join('\n  - ')}`);
}

/** The state instances share, as the HTTP layer sees it. */
export interface GatewayState {
  /** `memory` (one instance) or how Redis is reached. */
  readonly mode: SharedStateMode;
  /** Where, without credentials, for the startup message. */
  readonly description: string;
  health(): SharedStateHealth;
}

/** The gateway: connectors started, one executable schema over them, and the trust and policy machinery. */
export interface Gateway {
  readonly schema: GraphQLSchema;
  readonly connectors: readonly Connector[];
  /** `signed`: authentication, policy, seals and receipts; `open`: the unauthenticated sandbox mode. */
  readonly security: 'signed' | 'open';
  readonly keyStore: KeyStore;
  readonly seals: SealService;
  readonly policy: PolicyEngine;
  readonly verifier: RequestVerifier;
  readonly receipts: ReceiptSigner;
  /** The durable access log; undefined only when audit is switched off (benchmarks). */
  readonly audit: AuditLog | undefined;
  /** The shared state's mode and health. */
  readonly state: GatewayState;
  /** Per-consumer rate limits (consumers without a configured limit always pass). */
  readonly rateLimiter: RateLimiter;
  /** The record cache below the loaders; undefined when caching is off. */
  readonly recordCache: LoaderCaches | undefined;
  /** A connector's record cache for one request (what `createHubContext` takes as `cacheOf`). */
  cacheOf(connectorId: string, signal: AbortSignal): ConnectorCache | undefined;
  /** Runs one request through the pipeline (authenticate … receipt); every adapter calls it. */
  execute(request: HubRequest): Promise<HubReply>;
  /** Admits a subscription (authenticate … consent, and the opening's record); see `Pipeline.open`. */
  open(request: HubRequest): ReturnType<Pipeline['open']>;
  /** One delivery of an admitted subscription on an event (policy again … receipt); see `Pipeline.deliver`. */
  deliver(standing: StandingOperation, root: unknown, signal?: AbortSignal): Promise<HubReply>;
  /** Subscription streams open on this instance now. */
  readonly openSubscriptions: number;
  /** Registered webhooks (their dead letters for operators); undefined when no connector reports events. */
  readonly webhooks: Webhooks | undefined;
  /** The hub's published keys: the key store's, and the webhook signing key (Ed25519) when webhooks run. */
  publicJwks(): { keys: readonly unknown[] };
  /** The hub's JWKS statement (`publicJwks()` signed by its federation root key, docs/federation.md), re-signed when the keys change; undefined when the keys directory has no root key. */
  federationStatement(): string | undefined;
  /** Opens a subscription to department events (src/gateway/subscriptions.ts): a refusal, or a stream of deliveries. */
  subscribe(request: HubRequest): Promise<OpenedSubscription>;
  /** The events the change feeds report, as every instance hears them (live: from the moment a listener attaches). */
  readonly events: EventStream;
  /** The event types of the graph (the modules' declarations), sorted; empty when none declares any. */
  readonly eventTypes: readonly string[];
  /** The pipeline's caches, for metrics and tests. */
  readonly pipeline: Pick<Pipeline, 'caches'>;
  /** The newest signed tree head of every instance's access log (this one's, and in a shared store the others'), for /.well-known/audit-head. */
  auditHeads(): Promise<SignedTreeHead[]>;
  /** The auditor console's sessions: opened by exchanging a sign-in token signed with a registered key. */
  readonly consoleSessions: ConsoleSessions;
  /** A signed export of the access log (the console's; the caller has authorised it through `execute`). Throws AUDIT_UNAVAILABLE without a log. */
  exportAccessLog(filter: ConsoleExportFilter, format: 'jsonl' | 'csv'): Promise<ConsoleExport>;
  /** OpenTelemetry tracing (docs/tracing.md): where spans go, and a flush; undefined when off (no endpoint). */
  readonly tracing: { readonly endpoint: string; flush(): Promise<void> } | undefined;
  /** The gateway's Prometheus metrics (its own registry) and operations log (docs/operations.md). */
  readonly metrics: HubMetrics;
  /**
   * Whether a request to an operator route (metrics, readiness detail, sandbox control) reaching
   * the public listener is an administrator's: its `Authorization: DatarunRequest` token verified
   * over the exact body (signature, key, time window, body hash, one-time id) by a consumer with
   * the `admin` role. `missing`: no token; `invalid`: it does not verify; `refused`: not an admin.
   */
  operatorAccess(authorization: string | undefined, body: Uint8Array): Promise<'admin' | 'missing' | 'invalid' | 'refused'>;
  /** Pushed cases (docs/cases.md): `cases.open(event, departments)` when an event is delivered to departments. */
  readonly cases: HubCases;
  /** Proofs 无证明 (docs/proofs.md), when a connector declares a proof kind: the status lists for `GET /status/<list>`, kept proofs for `/p/<reference>`. */
  readonly proofs: HubProofs | undefined;
  stop(): Promise<void>;
}

/** How long the start waits for the first read of the departments' change feeds (which sets their cursors). */
const FIRST_POLL_WAIT_MS = 3000;

/** What the gateway needs from the configuration; `cache` absent means no record cache (tests that count department calls). */
export type GatewayConfig = Pick<HubConfig, 'connectorTimeoutMs'> &
  Partial<Pick<HubConfig, 'security' | 'policy' | 'redis' | 'rateLimits' | 'trustedProxies' | 'requestDeadlineMs' | 'connectorDirs' | 'tracing' | 'subscriptions' | 'webhooks'>> & {
    /** Proofs' status lists and files; the defaults when absent. */
    proofs?: Partial<HubConfig['proofs']>;
    /** Pushed cases' deadlines, calendar and file; the defaults when absent. */
    cases?: Partial<HubConfig['cases']>;
    /** Trust between hubs: the peer hubs whose roots this hub pins (`federation.peers`). @default none */
    federation?: Partial<HubConfig['federation']>;
    keys: { dir: string };
    audit: Pick<HubConfig['audit'], 'enabled' | 'dir' | 'instanceId'> & Partial<HubConfig['audit']>;
    cache?: Partial<HubConfig['cache']> & Pick<HubConfig['cache'], 'enabled'>;
  };

/** Something the gateway's shared state reports for the hub's log (never personal data, keys or passwords). */
export type GatewayEvent =
  | RedisConnectionEvent
  | InvalidationEvent
  | AuditArchiverEvent
  | ReopeningAuditLogEvent
  | SharedIndexEvent
  | { type: 'event-refused'; feed: string; problem: string }
  | { type: 'event-stream-failed'; reason: string }
  | { type: 'webhook'; detail: string; reason?: string };

/** Options of `createGateway`. */
export interface GatewayOptions {
  /** Overrides the shared state's replay guard (tests). */
  replayGuard?: ReplayGuard;
  onAuditEvent?: (event: AuditLogEvent) => void;
  onEvent?: (event: GatewayEvent) => void;
  /** How long start-up waits for Redis before serving anyway (refusing signed requests until it answers). @default 5000 */
  redisStartTimeoutMs?: number;
  /**
   * Where the request pipeline reports refusals operators must see and unexpected errors, and,
   * when it has `info`, one line per request and the departments' failing and recovered
   * transitions (never personal data). @default silent
   */
  logger?: PipelineLogger & Partial<Pick<HubLogger, 'info'>>;
  /** Node's process metrics in the gateway's registry. @default true */
  processMetrics?: boolean;
  /** The connector modules to choose from. @default those found in the project's connectors/ and config.connectorDirs */
  modules?: readonly ConnectorModule[];
  /** Connectors served by in-process sandboxes: their departments are registered in the trust list, with a seal key, when missing. */
  sandboxes?: readonly string[];
  /** The clock of pushed cases (openings, claims, reports, overdue listings). @default () => new Date() */
  now?: () => Date;
}

/**
 * Builds the gateway: keys (missing ones generated), connectors, the shared state (in memory, or
 * Redis when configured), the schema with the seal and catalogue resolvers, the policy engine over
 * it (which refuses an unclassified field), the access log, then starts the connectors and the
 * shared-state tasks (invalidation, archiving); stops what was started if one fails.
 */
export async function createGateway(config: GatewayConfig, endpoints: DepartmentEndpoints, options: GatewayOptions = {}): Promise<Gateway> {
  const withoutAudit = signedWithoutAuditProblem(config.security?.mode ?? 'signed', config.audit);
  if (withoutAudit) throw new ConfigError(withoutAudit);
  const withoutIndex = sharedIndexProblem(config);
  if (withoutIndex) throw new ConfigError(withoutIndex);
  const modules = options.modules ?? modulesOfConfig({ ...(config.connectorDirs ? { connectorDirs: config.connectorDirs } : {}), connectors: endpoints });
  // The keys are loaded after the connectors are made; a peer hub connector asks for the hub's id only when it calls.
  let hubIdOf: (() => string) | undefined;
  const federationTrust = createPeerTrust({
    peers: (config.federation?.peers ?? {}) as Readonly<Record<string, PeerTrust>>,
    keysDir: config.keys.dir,
    ...(config.federation?.refetchIntervalSec !== undefined ? { refetchIntervalSec: config.federation.refetchIntervalSec } : {}),
  });
  let composed: ComposedConnectors;
  try {
    composed = await composeConnectors(modules, endpoints, {
      defaultTimeoutMs: config.connectorTimeoutMs,
      hubId: () => hubIdOf?.() ?? DEFAULT_HUB_ID,
      ...(federationTrust.trust ? { federation: federationTrust.trust } : {}),
    });
  } catch (error) {
    await federationTrust.close();
    throw error;
  }
  const { connectors } = composed;
  // The event types of the graph: the union of the modules' declarations (unique across the hub).
  const eventTypes = declaredEventTypes(composed.modules);
  const eventSpecsOf = (department: string): ReadonlyMap<string, EventTypeSpec> => new Map([...eventTypes].filter(([, spec]) => spec.department === department));
  const withEvents = eventTypes.size > 0;
  // The proof kinds of the graph: the union of the modules' declarations, each established by its connector.
  const proofKinds = declaredProofKinds(composed.modules, connectors);
  // And the hub's bundles of them (ENTERPRISE_GOOD_STANDING), when every part is declared.
  const proofBundles = offeredProofBundles(proofKinds);
  const withProofs = proofKinds.size > 0;
  const sandboxIds = new Set(options.sandboxes ?? []);
  const keyStore = await createKeyStore(config.keys.dir, {
    departments: composed.modules.filter((m) => sandboxIds.has(m.id)).map((m) => ({ id: m.id, kind: 'department' as const, name: m.title, custody: true, sandbox: true })),
  });
  assertSealKeys(keyStore, composed.modules);
  hubIdOf = () => keyStore.hubId;
  const emit = options.onEvent ?? (() => undefined);
  const rateLimits = config.rateLimits;
  const state: SharedState = createSharedState({
    ...(config.redis ? { redis: config.redis } : {}),
    ...(config.cache ? { cache: { maxEntries: config.cache.maxEntries, maxBytes: config.cache.maxBytes, localTtlMs: config.cache.localTtlMs } } : {}),
    rateLimits: (consumer) => rateLimits?.consumers[consumer] ?? rateLimits?.default,
    onEvent: emit,
  });
  // Events reach every instance's subscribers: through Redis with several instances, in process otherwise.
  const eventStream: EventStream = state.streams
    ? createSharedEventStream({ streams: state.streams, onError: (error) => emit({ type: 'event-stream-failed', reason: (error as { code?: string })?.code ?? (error as Error)?.name ?? 'error' }) })
    : createLocalEventStream();
  let typeDefs: string[];
  let schema: GraphQLSchema;
  let policy: PolicyEngine | undefined;
  let verifier: RequestVerifier;
  let receipts: ReceiptSigner;
  let seals: SealService;
  let recordCache: LoaderCaches | undefined;
  let version: string;
  let audit: AuditLog | undefined;
  let archiver: AuditArchiver | undefined;
  let sharedIndex: SharedAccessIndex | undefined;
  const pollers: InvalidationPoller[] = [];
  // With several instances, each one's newest head is in the shared store.
  const otherHeads = async (): Promise<SignedTreeHead[]> => (state.streams ? newestHeadsInStore(state.streams).catch(() => []) : []);
  let prover: ChainProver | undefined;
  // Pushed cases: their clock, and the service (opened below, once the state is made; read by the resolvers per request).
  const now = options.now ?? (() => new Date());
  let cases: HubCases | undefined;
  const ttlSeconds: Record<string, number> = { ...Object.fromEntries(composed.modules.map((m) => [m.id, m.cacheTtlSeconds ?? 60])), ...config.cache?.ttlSeconds };
  try {
    // Without a connector that reports events, the graph has no EventType values, hence no events and no Subscription.
    typeDefs = [...loadSharedTypeDefs(undefined, [...(withEvents ? [] : [EVENTS_SDL_FILE]), ...(withProofs ? [] : [PROOFS_SDL_FILE])]), ...composed.typeDefs, ...proofBundlesSdl(proofBundles)];
    version = cacheVersionOf(typeDefs);
    recordCache = config.cache?.enabled
      ? createLoaderCaches({
          cache: state.records,
          version,
          ttlSeconds,
          // The metrics exist only once the gateway is composed: the cache reports to them through this.
          observer: {
            lookups: (connector, hits, misses) => loaderObserver?.lookups(connector, hits, misses),
            call: (connector, signal, keys, fetchMissing) => (loaderObserver ? loaderObserver.call(connector, signal, keys, fetchMissing) : fetchMissing(keys)),
          },
          ...(config.cache.maxRecordBytes ? { maxRecordBytes: config.cache.maxRecordBytes } : {}),
        })
      : undefined;
    // One instance keeps its seals in the seal service's own memory; several share them through Redis.
    seals = createSealService(keyStore, {
      subjectSecret: sealSubjectSecret(config.keys.dir, process.env.DATARUN_SEAL_SUBJECT_SECRET),
      ...(recordCache && state.mode !== 'memory' ? { shared: { cache: state.records, version, ttlSeconds: config.cache?.sealTtlSeconds ?? 3600 } } : {}),
    });
    // Every entity a reply carries is recorded where it is resolved (and a linked person withheld without consent).
    schema = subjectRecordingSchema(
      buildHubSchema(connectors, typeDefs, [
        createSealResolvers(connectors, seals),
        createPolicyResolvers(() => policy!, { consumerOf: (ctx) => (ctx as RequestContext).caller?.consumer ?? '' }),
        createAuditResolvers(() => audit, { otherHeads: () => otherHeads(), prover: () => prover, isConsumer: (id) => keyStore.owner(id)?.kind === 'consumer' }),
        ...(withEvents ? [createEventResolvers(), createWebhookResolvers(() => webhooks)] : []),
        createCaseResolvers(() => cases!, now, () => audit?.health().writable ?? true, (id) => keyStore.owner(id)?.kind === 'consumer'),
        ...(withProofs ? [createProofResolvers(() => proofs)] : []),
      ]),
    );
    const eventEnum = schema.getType('EventType');
    const problems = eventTypeProblems(eventEnum && 'getValues' in eventEnum ? (eventEnum as GraphQLEnumType).getValues().map((v) => v.name) : [], eventTypes);
    if (problems.length > 0) throw new ConfigError(`The event types of the graph and of the connector modules differ:\n  - ${problems.join('\n  - ')}`);
    const proofEnum = schema.getType('ProofKind');
    const proofProblems = proofKindProblems(proofEnum && 'getValues' in proofEnum ? (proofEnum as GraphQLEnumType).getValues().map((v) => v.name).filter((v) => !proofBundles.has(v)) : [], proofKinds);
    if (proofProblems.length > 0) throw new ConfigError(`The proof kinds of the graph and of the connector modules differ:\n  - ${proofProblems.join('\n  - ')}`);
    assertSealsCovered(schema, connectors);
    policy = createPolicyEngine({
      schema,
      policy: config.policy?.file ? readPolicyFile(config.policy.file) : DEMO_POLICY,
      // Consent tokens come again with every request of the checks relying on them: their signatures are remembered (bounded).
      verifyConsent: createConsentVerifier({ keyStore, signatures: createSignatureMemo() }),
      rememberConsent: (issuerAndJti, expiresAtMs) => state.replayGuard.checkAndRemember(`consent\u0000${issuerAndJti}`, expiresAtMs),
    });
    assertConsumersRegistered(policy, keyStore);
    verifier = createRequestVerifier({
      keyStore,
      replayGuard: options.replayGuard ?? state.replayGuard,
      ...(config.security ? { clockSkewSec: config.security.clockSkewSec } : {}),
    });
    receipts = createReceiptSigner({ keyStore });
    cases = await createHubCases({
      ...(config.cases?.deadlines ? { deadlines: config.cases.deadlines } : {}),
      ...(config.cases?.calendar ? { calendarFile: config.cases.calendar } : {}),
      store: state.mode === 'memory' ? { file: config.cases?.file ?? defaultCasesFile(config.audit.dir) } : { documents: state.documents('cases') },
      now,
      onProvisionalYear: (year) =>
        options.logger?.warn({ year }, `the working-day calendar has no data for ${year}: deadlines reaching it count weekends only and are provisional; add the year (docs/cases.md)`),
    });
  } catch (error) {
    // A bad policy file or schema must not leave a Redis connection holding the process open.
    await cases?.close();
    await state.close();
    throw error;
  }
  const started: Connector[] = [];
  // The metrics are made with the pipeline; the log opened before them reports its fdatasyncs through this.
  let onDatasync: ((seconds: number) => void) | undefined;
  let loaderObserver: LoaderCachesObserver | undefined;
  let webhooks: Webhooks | undefined;
  let proofs: HubProofs | undefined;
  // The pollers' events wait for the webhooks' queue (started after the pipeline): none is published before it could be queued.
  let webhooksStarted!: () => void;
  const webhooksReady = new Promise<void>((resolve) => (webhooksStarted = resolve));
  try {
    if (state.mode !== 'memory') await state.waitUntilReady(options.redisStartTimeoutMs ?? 5000);
    if (config.audit.enabled) {
      const hubAudit: HubAuditOptions = {
        dir: config.audit.dir,
        instanceId: config.audit.instanceId,
        keyStore,
        policy,
        confidentialPurposes: policyConfidentialPurposes(policy),
        subjectKeySecret: auditSubjectSecret(config.keys.dir, process.env.DATARUN_AUDIT_SUBJECT_SECRET),
        keysDir: config.keys.dir,
        ...(config.audit.checkpointEveryRecords ? { checkpointEveryRecords: config.audit.checkpointEveryRecords } : {}),
        ...(config.audit.checkpointEveryMs ? { checkpointEveryMs: config.audit.checkpointEveryMs } : {}),
        ...(config.audit.retentionDays ? { retentionDays: config.audit.retentionDays } : {}),
        ...(options.onAuditEvent ? { onEvent: options.onAuditEvent } : {}),
        ...(config.audit.fsync === false ? { fsync: false } : {}),
        onDatasync: (seconds) => onDatasync?.(seconds),
      };
      const streams = state.streams;
      if (streams) {
        // Several instances: each appends its own chain to its Redis stream; one of them archives all chains into audit.dir.
        const instanceId = config.audit.instanceId;
        const redisAudit = config.redis?.audit;
        // Every instance writes its records' index rows to the shared index in PostgreSQL and answers the queries over all instances from it.
        const chains = createChainReader({ streams, archiveRoot: config.audit.dir });
        // Proofs about another instance's log, checked against the head that instance signed.
        prover = createChainProver({ reader: chains, heads: otherHeads });
        const index = await openSharedAccessIndex({
          url: config.audit.index!.url!,
          reader: chains,
          subjectKeySecret: hubAudit.subjectKeySecret,
          confidentialPurposes: hubConfidentialPurposes(policy, hubAudit.confidentialPurposes),
          instanceId,
          ...(config.audit.retentionDays ? { retentionDays: config.audit.retentionDays } : {}),
          onEvent: emit,
        });
        sharedIndex = index;
        const log = await openReopeningAuditLog({
          instanceId,
          open: () =>
            openHubAuditLog({
              ...hubAudit,
              // A shared store that lost this instance's stream starts a new chain whose first head records the break.
              onChainBreak: 'record',
              breakReason: 'the shared store no longer held this instance\'s chain',
              onDurable: (records) => index.recordsDurable(records),
              sink: createRedisAuditSink({
                streams,
                instanceId,
                leaseOf: (name, ttlMs) => state.lease(name, ttlMs),
                archiveDir: config.audit.dir,
                ...(redisAudit?.waitReplicas !== undefined ? { waitReplicas: redisAudit.waitReplicas } : {}),
                ...(redisAudit?.waitTimeoutMs !== undefined ? { waitTimeoutMs: redisAudit.waitTimeoutMs } : {}),
                ...(options.onAuditEvent ? { onEvent: options.onAuditEvent } : {}),
              }),
            }),
          onEvent: emit,
        });
        audit = withSharedIndex(log, index);
        sharedIndex = undefined;
        if (redisAudit?.archive !== false) {
          archiver = startAuditArchiver({
            streams,
            dir: config.audit.dir,
            consumer: instanceId,
            lease: state.lease('audit-archiver'),
            sign: auditSigner(keyStore),
            ...(config.audit.retentionDays ? { retentionDays: config.audit.retentionDays } : {}),
            onEvent: emit,
          });
        }
      } else {
        audit = await openHubAuditLog(hubAudit);
      }
    }
    // Proofs keep what they issued, and their status lists, in the shared store or beside the access log.
    if (withProofs) {
      proofs = startProofs({
        kinds: proofKinds,
        bundles: proofBundles,
        settings: {
          ...(config.proofs?.baseUrl ? { baseUrl: config.proofs.baseUrl } : {}),
          statusListSize: config.proofs?.statusListSize ?? 131_072,
          statusTtlSeconds: config.proofs?.statusTtlSeconds ?? 300,
          dir: config.proofs?.dir ?? path.join(path.dirname(config.audit.dir), 'proofs'),
        },
        state,
        keyStore,
        // The policy's registry says what a purpose is: "无证明: a proof document …" → 无证明（PROOF_ISSUANCE）.
        purposeName: (code) => {
          const description = policy?.purpose(code)?.description;
          const name = description?.split(/[:：]/)[0]?.trim();
          return name && name !== description && /[\u3400-\u9fff]/u.test(name) ? `${name}（${code}）` : undefined;
        },
        now,
      });
    }
    for (const c of connectors) {
      await c.start();
      started.push(c);
    }
    // A feed is polled when the cache holds its department's records (to evict what changed) or its module declares events (to push them).
    for (const connector of connectors) {
      const feed = connector.changeFeed;
      const cached = recordCache !== undefined && (ttlSeconds[connector.id] ?? 0) > 0;
      const declared = eventSpecsOf(connector.id);
      if (!feed || (!cached && declared.size === 0)) continue;
      const cache = recordCache;
      pollers.push(
        startInvalidationPoller({
          feed: {
            name: connector.id,
            startCursor: feed.startCursor,
            async read(cursor, signal) {
              const page = await feed.read(cursor, signal);
              return {
                changed: cached ? page.changed.map((c) => ({ connector: connector.id, loader: c.loader, key: c.key })) : [],
                events: page.events ?? [],
                nextCursor: page.nextCursor,
                hasMore: page.hasMore,
              };
            },
          },
          lease: state.lease(`feed:${connector.id}`, 2000),
          cursor: state.value(`feed:${connector.id}:cursor:${version}`),
          evict: (refs) => (cache ? cache.evict(refs) : Promise.resolve()),
          // Into the webhooks' durable queue first, then to the live streams; the cursor moves only after both.
          publish: async (events) => {
            const accepted = acceptedEvents(connector.id, declared, events, (problem) => emit({ type: 'event-refused', feed: connector.id, problem }));
            await webhooksReady;
            await webhooks?.enqueue(accepted);
            // A proof whose fact the event changes is revoked before the cursor moves (a crash re-reads the page and revokes again).
            await proofs?.revokeFor(connector.id, accepted, AbortSignal.timeout(60_000));
            await eventStream.publish(accepted);
          },
          ...(config.cache?.invalidationPollMs ? { intervalMs: config.cache.invalidationPollMs } : {}),
          onEvent: emit,
        }),
      );
    }
  } catch (error) {
    await Promise.allSettled(pollers.map((p) => p.stop()));
    await eventStream.close();
    await archiver?.stop();
    await Promise.allSettled(started.map((c) => c.stop()));
    await federationTrust.close();
    await audit?.close();
    await sharedIndex?.close();
    await cases.close();
    await proofs?.close();
    await state.close();
    throw error;
  }
  const security = config.security?.mode ?? 'signed';
  const log = audit;
  const hubCases = cases;
  const refusals: RefusalAggregator | undefined = log
    ? createRefusalAggregator({
        append: (record) => log.append(record),
        onError: (error) => options.logger?.error({ err: { name: (error as Error)?.name, code: (error as { code?: string }).code } }, 'aggregate access record of refused requests could not be written'),
      })
    : undefined;
  const consoleSessions = createConsoleSessions({
    keyStore,
    verifier: createConsoleLoginVerifier({ keyStore, replayGuard: options.replayGuard ?? state.replayGuard, ...(config.security ? { clockSkewSec: config.security.clockSkewSec } : {}) }),
  });
  // Nothing is loaded without an endpoint: the pipeline then runs its stages unwrapped.
  const tracing = startTracing(config.tracing);
  const metrics = createHubMetrics({
    isConsumer: (id) => keyStore.owner(id)?.kind === 'consumer',
    isPurpose: (code) => policy.purpose(code) !== undefined,
    lastSignedHeadMs: () => {
      const head = log?.treeHead();
      return head ? Date.parse(head.head.time) : undefined;
    },
    redisUp: () => (state.mode === 'memory' ? undefined : state.health().ok),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.processMetrics === false ? { processMetrics: false } : {}),
  });
  onDatasync = (seconds) => metrics.auditDatasync(seconds);
  loaderObserver = metrics.loaderObserver;
  const pipeline = createPipeline({
    ...(tracing ? { tracing } : {}),
    observer: metrics.observer,
    sessions: consoleSessions,
    schema,
    security,
    verifier,
    rateLimiter: state.rateLimiter,
    policy,
    receipts,
    audit,
    refusals,
    // Every department call of every connector passes the metrics, cached or not.
    cacheOf: (connectorId, signal) => metrics.connectorCache(connectorId, signal, recordCache?.forConnector(connectorId, signal)),
    ...(config.requestDeadlineMs !== undefined ? { deadlineMs: config.requestDeadlineMs } : {}),
    ...(config.trustedProxies ? { trustedProxies: config.trustedProxies } : {}),
    logger: options.logger ?? { warn: () => undefined, error: () => undefined },
  });
  const subscriptions = createSubscriptions({
    schema,
    open: (request) => pipeline.open(request),
    deliver: (standing, root, signal) => pipeline.deliver(standing, root, signal),
    stage: (standing, root, signal) => pipeline.stage(standing, root, signal),
    events: eventStream,
    maxLifetimeMs: (config.subscriptions?.maxLifetimeSeconds ?? 3600) * 1000,
    maxPending: config.subscriptions?.maxPending ?? 1000,
    maxStreams: config.subscriptions?.maxStreams ?? 1000,
    maxStreamsPerConsumer: config.subscriptions?.maxStreamsPerConsumer ?? 100,
  });
  // Webhooks deliver events through the same pipeline, to targets on the operator's allow-list.
  if (withEvents) {
    try {
      webhooks = await startWebhooks({
        settings: { allow: [], maxAttempts: 12, maxAgeHours: 72, timeoutMs: 10_000, concurrency: 8, maxPerConsumer: 100, takeoverSeconds: 30, ...config.webhooks },
        schema,
        state,
        dataDir: config.webhooks?.dir ?? path.join(path.dirname(config.audit.dir), 'webhooks'),
        keysDir: config.keys.dir,
        hubId: keyStore.hubId,
        instanceId: config.audit.instanceId,
        admitFor: (caller, request) => pipeline.admitFor(caller, request),
        deliver: (standing, root, signal, effects) => pipeline.deliver(standing, root, signal, effects),
        openCases: async (event, department) => (await cases!.open({ id: eventKeyOf(event), type: event.type, subject: event.subject, occurredAt: event.occurredAt }, [department])).changes,
        // Retries, dead events, disabled endpoints and errors: a delivery that went through is no operator's news (a warning line per delivery was about 4 % of the hub's CPU in bench row Ew).
        onEvent: (event) => {
          if (event.type !== 'delivered') emit({ type: 'webhook', detail: event.type, ...('reason' in event ? { reason: String(event.reason) } : {}) });
        },
      });
    } finally {
      webhooksStarted();
    }
  } else webhooksStarted();
  // The feeds' cursors are set before the hub serves: an event after start is never skipped (a department that is down does not hold the start for long).
  await Promise.race([Promise.all(pollers.map((p) => p.started)), new Promise((resolve) => setTimeout(resolve, FIRST_POLL_WAIT_MS).unref())]);
  if (security === 'signed') {
    // Tokens carry whole seconds: a token issued in the second the replay guard's memory began
    // cannot be told from one issued just before it, and is refused (REPLAY_STATE_RESET). The hub
    // is not offered until that second is over, so a fresh token is never refused for it.
    const since = await (options.replayGuard ?? state.replayGuard).knownSince?.().catch(() => undefined);
    const wait = since === undefined ? 0 : Math.ceil(since / 1000) * 1000 - Date.now();
    if (wait > 0 && wait <= 1000) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const publicJwks = (): { keys: readonly unknown[] } => (webhooks ? { keys: [...keyStore.publicJwks().keys, webhooks.publicJwk] } : keyStore.publicJwks());
  // The JWKS statement peers verify against the root they pinned: one per JWKS content, re-signed on demand.
  const federationStatement = hubStatementOf(keyStore, publicJwks);
  return {
    schema,
    connectors,
    security,
    keyStore,
    seals,
    policy,
    verifier,
    receipts,
    audit,
    state: { mode: state.mode, description: state.description, health: () => state.health() },
    rateLimiter: state.rateLimiter,
    recordCache,
    cacheOf: (connectorId, signal) => recordCache?.forConnector(connectorId, signal),
    execute: (request) => pipeline.execute(request),
    open: (request) => pipeline.open(request),
    deliver: (standing, root, signal) => pipeline.deliver(standing, root, signal),
    events: eventStream,
    subscribe: (request) => subscriptions.subscribe(request),
    get openSubscriptions() {
      return subscriptions.open;
    },
    webhooks,
    publicJwks,
    federationStatement,
    eventTypes: [...eventTypes.keys()].sort(),
    pipeline: { caches: pipeline.caches },
    tracing: tracing ? { endpoint: tracing.endpoint, flush: () => tracing.flush() } : undefined,
    consoleSessions,
    metrics,
    cases: hubCases,
    proofs,
    async operatorAccess(authorization, body) {
      const token = readRequestToken(authorization);
      if (token === undefined) return 'missing';
      try {
        const verified = await verifier.verify(token, body);
        return verified.roles.includes('admin') ? 'admin' : 'refused';
      } catch {
        return 'invalid';
      }
    },
    async auditHeads() {
      const own = audit?.treeHead() ?? null;
      const others = (await otherHeads()).filter((h) => h.head.instance !== own?.head.instance);
      return [...(own ? [own] : []), ...others].sort((a, b) => (a.head.instance < b.head.instance ? -1 : 1));
    },
    async exportAccessLog(filter, format) {
      if (!audit) throw new HubError(HubErrorCode.AUDIT_UNAVAILABLE, 'The access log is not enabled on this hub.');
      return exportForConsole({ dir: config.audit.dir, keyStore, subjectKeySecret: auditSubjectSecret(config.keys.dir, process.env.DATARUN_AUDIT_SUBJECT_SECRET), filter, format });
    },
    async stop() {
      // The aggregates of the last seconds go to the log before it closes.
      subscriptions.close();
      await webhooks?.stop();
      await refusals?.close();
      await Promise.allSettled(pollers.map((p) => p.stop()));
      await eventStream.close();
      await archiver?.stop();
      await Promise.allSettled(connectors.map((c) => c.stop()));
      await federationTrust.close();
      await audit?.close();
      await hubCases.close();
      await proofs?.close();
      await state.close();
      // The spans of the last requests go to the collector before the exporter stops.
      await tracing?.shutdown();
    },
  };
}


function policyConfidentialPurposes(policy: PolicyEngine): string[] {
  return policy.purposes().filter((p) => p.confidential).map((p) => p.code);
}

/**
 * The consumer registry is the trust list (keys, roles) and the policy (grants): a consumer of
 * the policy without a registered key could never call, and roles that disagree would let the
 * two layers decide differently. Either fails the start, naming the consumer.
 */
function assertConsumersRegistered(policy: PolicyEngine, keyStore: KeyStore): void {
  const problems: string[] = [];
  for (const id of policy.consumers()) {
    const party = keyStore.owner(id);
    if (!party || party.kind !== 'consumer') {
      problems.push(`consumer "${id}" of the sharing policy is not a consumer of the trust list (${keyStore.dir}/trust.json)`);
      continue;
    }
    const inPolicy = [...policy.rolesOf(id)].sort().join(',');
    const inTrust = [...(party.roles ?? [])].sort().join(',');
    if (inPolicy !== inTrust) problems.push(`consumer "${id}" has roles [${inPolicy}] in the sharing policy but [${inTrust}] in the trust list`);
  }
  if (problems.length > 0) throw new ConfigError(`Consumers registry mismatch:\n  - ${problems.join('\n  - ')}`);
}
