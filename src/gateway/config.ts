import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseCidr } from './source-address';
import { CasesConfigError, parseCaseDeadlines } from '../cases';
import { CONNECTOR_ID_PATTERN, HubError } from '../sdk';
import { DEFAULT_CASE_DEADLINES } from './cases';
import { connectorEnvironment, connectorSettingsProblems, isSettingsError, legacyConnectorEnvironment } from './connector-settings';
import { DECIMAL_EXPECTED, readDecimal, readSwitch, SWITCH_EXPECTED } from './env-values';
import { federationPeersSchema } from './peer-keys';

/** Where the access log lives by default: `.data/audit` in the project (git-ignored). */
export const DEFAULT_AUDIT_DIR = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../.data/audit' : '../../.data/audit');
/** This instance's default name: the host name (several instances on one host need their own). */
export const DEFAULT_INSTANCE_ID = (hostname().replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 64) || 'hub');

/** The project's own keys/ folder (also from dist/): public trust material committed, private keys generated. */
export const DEFAULT_KEYS_DIR = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../keys' : '../../keys');

/** Where the operator listener is by default: loopback, the port after the hub's default. */
export const DEFAULT_OPERATOR = Object.freeze({ host: '127.0.0.1', port: 4001 });
/** `memory.heapGrowthPercent` by default: the heap may reach twice the data alive after a full collection (bench/README.md, goal 7). */
export const DEFAULT_HEAP_GROWTH_PERCENT = 100;

const timeoutMs = z.number().int().min(50).max(60_000);
const connectorId = z.string().regex(CONNECTOR_ID_PATTERN, 'expected a kebab-case connector id');

/**
 * `connectors.<id>`: the settings of one connector, checked against that connector module's own
 * schema once the modules are known (`enabled: false` leaves a discovered connector out; `type:
 * "graphql"` puts a GraphQL department behind the generic connector without a folder).
 */
const connectorsSchema = z.record(connectorId, z.record(z.string(), z.unknown()));

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port');
const rateLimit = z.strictObject({
  /** Requests per second, on average. */
  requestsPerSecond: z.number().positive().max(1_000_000),
  /** Requests that may arrive at once after a quiet period. */
  burst: z.number().int().min(1).max(1_000_000),
});

const redisSchema = z
  .strictObject({
    /** A standalone server: `redis://[:password@]host:port[/db]` or `rediss://…`. */
    url: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'expected a redis:// or rediss:// URL').optional(),
    /** Sentinels (`host:port`) watching the master named `name`. */
    sentinels: z.array(hostPort).min(1).optional(),
    /** The Sentinel master group name. */
    name: z.string().min(1).optional(),
    /** Seed nodes of a Redis Cluster (`host:port`). */
    cluster: z.array(hostPort).min(1).optional(),
    /** Password of a Sentinel-managed master or of the cluster nodes (a URL carries its own). */
    password: z.string().min(1).optional(),
    /** Prefix of every key and channel. */
    keyPrefix: z.string().regex(/^[A-Za-z0-9:._-]{0,64}$/, 'expected up to 64 letters, digits, ":", ".", "_" or "-"').default('datarun:'),
    /** How long one command may take before it fails (requests fail fast instead of hanging). */
    commandTimeoutMs: z.number().int().min(10).max(60_000).default(500),
    /** How long connecting may take. */
    connectTimeoutMs: z.number().int().min(10).max(60_000).default(2000),
    audit: z
      .strictObject({
        /** Replicas that must acknowledge each audit batch (WAIT) before the reply leaves. */
        waitReplicas: z.number().int().min(0).max(16).default(0),
        /** How long to wait for them. */
        waitTimeoutMs: z.number().int().min(1).max(60_000).default(1000),
        /** Take part in electing the one instance that archives the audit streams into audit.dir. */
        archive: z.boolean().default(true),
      })
      .prefault({}),
  })
  .superRefine((redis, ctx) => {
    const given = (['url', 'sentinels', 'cluster'] as const).filter((k) => redis[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `expected exactly one of url, sentinels or cluster${given.length > 1 ? `, but got: ${given.join(', ')}` : ''}` });
    if (redis.sentinels && !redis.name) ctx.addIssue({ code: 'custom', path: ['name'], message: 'expected the master group name when sentinels are given' });
  });

const configSchema = z.strictObject({
  http: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(4000),
      /** Largest request body accepted, in bytes. */
      bodyLimitBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
      /** How long shutdown waits for requests in flight. */
      shutdownGraceMs: z.number().int().min(0).max(120_000).default(10_000),
      /**
       * The operator listener (`/metrics`, the detailed `/readyz`, the sandbox control routes),
       * unauthenticated: keep it on loopback or a management network. `false`: none (an
       * administrator's signed request still reaches those routes on the main listener). Port 0: any free port.
       */
      operator: z
        .union([
          z.literal(false),
          z.strictObject({
            host: z.string().min(1).default(DEFAULT_OPERATOR.host),
            port: z.number().int().min(0).max(65_535).default(DEFAULT_OPERATOR.port),
          }),
        ])
        .default({ ...DEFAULT_OPERATOR }),
    })
    .prefault({}),
  /** Default per-call timeout of every connector that sets none. */
  connectorTimeoutMs: timeoutMs.default(2000),
  /** One deadline per request, shared by all its department calls: a request through two levels of slow departments still ends by then. */
  requestDeadlineMs: z.number().int().min(100).max(600_000).default(10_000),
  connectors: connectorsSchema.default({}),
  /** More directories of connector folders, searched after the project's own `connectors/` (DATARUN_CONNECTOR_DIRS, comma-separated). */
  connectorDirs: z.array(z.string().min(1)).max(64).default([]),
  sandbox: z
    .strictObject({
      /** Start the sandbox department systems in-process for every connector without a URL. */
      enabled: z.boolean().default(true),
      seed: z.number().int().default(1),
      size: z.number().int().min(10).max(2_000_000).default(200),
      /** One city's persons only (DATARUN_SANDBOX_CITY; the cities of departments/seed `SEED_CITIES`): the two hubs of 跨域通办 each over its own city. @default persons of all Shandong */
      city: z.enum(['taian', 'heze']).optional(),
    })
    .prefault({}),
  keys: z
    .strictObject({
      /** Where the JWK sets live; missing keys are generated at start-up (private ones mode 0600, never committed). */
      dir: z.string().min(1).default(DEFAULT_KEYS_DIR),
    })
    .prefault({}),
  security: z
    .strictObject({
      /**
       * `signed`: every request carries a JWS of a registered consumer, is checked against the
       * sharing policy, and gets seals and a receipt. `open`: no authentication and no policy,
       * for the sandbox demo and benchmarks only (loopback hosts only).
       */
      mode: z.enum(['signed', 'open']).default('signed'),
      /** Leeway for consumers' clocks, in seconds. */
      clockSkewSec: z.number().int().min(0).max(300).default(60),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Record every request in the durable, hash-chained access log before its reply leaves (no audit, no data). Off only for benchmarks. */
      enabled: z.boolean().default(true),
      /** Directory of the log's segment files. */
      dir: z.string().min(1).default(DEFAULT_AUDIT_DIR),
      /** This hub instance's name in every record. */
      instanceId: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'expected 1 to 64 letters, digits, ".", "_", ":" or "-"').default(DEFAULT_INSTANCE_ID),
      /** Sign a tree head after this many records. */
      checkpointEveryRecords: z.number().int().min(1).max(1_000_000).default(1000),
      /** Sign a tree head this often, in milliseconds, while records arrive: at most every second (the unsigned window). */
      checkpointEveryMs: z.number().int().min(100).max(1000).default(1000),
      /** Whole segments older than this many days are removed; at least 180 (six months). */
      retentionDays: z.number().int().min(180).max(36_500).default(180),
      /** fdatasync every batch before replies leave. Off only to measure what durability costs: replies may then outlive their records. */
      fsync: z.boolean().default(true),
      /**
       * Lets a signed hub start with `enabled: false`, for the benchmark's audit-off baseline only:
       * without it the signed mode refuses to start without its access log.
       */
      benchmarkOnlyDisable: z.boolean().default(false),
      /**
       * The shared auditor index of several instances (Redis state): a PostgreSQL database that
       * every instance writes its records' index rows to and answers `accessLog` and
       * `dataAccesses` from. One instance (no Redis) keeps its index in memory and needs none.
       */
      index: z
        .strictObject({
          /** `postgres://user:password@host:5432/database` (DATARUN_AUDIT_INDEX_URL). */
          url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'expected a postgres:// URL').optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * Proxies (CIDRs or single addresses, IPv4 and IPv6) whose `X-Forwarded-For` is believed: the
   * client's address is the first untrusted hop from the right. Empty: the direct peer is the client.
   */
  trustedProxies: z.array(z.string().refine((s) => parseCidr(s) !== undefined, 'expected a CIDR such as 10.0.0.0/8 or fd00::/8, or an IP address')).max(1000).default([]),
  policy: z
    .strictObject({
      /** The sharing policy file (purposes, consumers, grants); the embedded demo policy when unset. */
      file: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Shared state of several instances; absent: one instance on the in-memory defaults. */
  redis: redisSchema.optional(),
  cache: z
    .strictObject({
      /** Cache department records below the loaders (policy is checked above them). */
      enabled: z.boolean().default(true),
      /** Time to live per connector id, in seconds (0: that connector is not cached); each connector module sets its default. */
      ttlSeconds: z.record(connectorId, z.number().int().min(0).max(86_400)).default({}),
      /** Records larger than this (serialized) are served but not cached. */
      maxRecordBytes: z.number().int().min(256).max(16 * 1024 * 1024).default(256 * 1024),
      /** Entries of the in-process cache (the whole cache on one instance; the tier in front of Redis on several). */
      maxEntries: z.number().int().min(1).max(10_000_000).default(50_000),
      /** Bytes of the in-process cache. */
      maxBytes: z.number().int().min(1024).max(16 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
      /** With Redis: longest life of a record in the in-process tier (its staleness bound if an invalidation message is lost). */
      localTtlMs: z.number().int().min(0).max(60_000).default(1000),
      /** How long a seal stays cached with its record's content, in seconds. */
      sealTtlSeconds: z.number().int().min(0).max(30 * 86_400).default(3600),
      /** How often the departments' change feeds are polled to evict changed records, in milliseconds. */
      invalidationPollMs: z.number().int().min(50).max(60_000).default(300),
    })
    .prefault({}),
  rateLimits: z
    .strictObject({
      /** The limit of every consumer not listed; none when unset. */
      default: rateLimit.optional(),
      /** Limits by consumer id. */
      consumers: z.record(z.string().min(1), rateLimit).default({}),
    })
    .prefault({}),
  /** Subscriptions over Server-Sent Events (docs/events.md). */
  subscriptions: z
    .strictObject({
      /** The longest a stream lives; the subscriber renews it with a new signed request. */
      maxLifetimeSeconds: z.number().int().min(10).max(86_400).default(3600),
      /** Events waiting for a slow subscriber before its stream ends (SUBSCRIPTION_LAGGING). */
      maxPending: z.number().int().min(1).max(100_000).default(1000),
      /** Streams one instance serves at most (more are refused with RATE_LIMITED). */
      maxStreams: z.number().int().min(1).max(100_000).default(1000),
      /** Streams one consumer holds on one instance at most (more are refused with RATE_LIMITED), so that one cannot take every stream. */
      maxStreamsPerConsumer: z.number().int().min(1).max(100_000).default(100),
    })
    .prefault({}),
  /** Registered webhooks for department events (docs/webhooks.md). */
  webhooks: z
    .strictObject({
      /**
       * Targets a webhook may be registered to: `https://host/path/*`, `https://*.domain`, or
       * `{ "url": …, "allowPrivate": true }` for a target on a private network. Empty: none.
       */
      allow: z.array(z.union([z.string().min(1), z.strictObject({ url: z.string().min(1), allowPrivate: z.boolean().optional() })])).max(1000).default([]),
      /** Attempts before an event is dead (its subject's later events wait for an operator). */
      maxAttempts: z.number().int().min(1).max(100).default(12),
      /** Age after which a failing event is dead, in hours. */
      maxAgeHours: z.number().int().min(1).max(24 * 30).default(72),
      /** Per delivery. */
      timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
      /** Deliveries at once per instance. */
      concurrency: z.number().int().min(1).max(256).default(8),
      /**
       * Webhooks one consumer may hold: each is delivered every event of its types, so without a
       * bound one consumer could multiply every department event (and the department reads behind
       * its deliveries) at will.
       */
      maxPerConsumer: z.number().int().min(1).max(1000).default(100),
      /**
       * With several instances on Redis: a delivery whose instance has not renewed its claim for
       * this long (it died) is taken over by another instance, with the same `webhook-id`.
       * Claims are renewed every third of it, so it must comfortably exceed a stalled process's pauses.
       */
      takeoverSeconds: z.number().int().min(1).max(3600).default(30),
      /** Where the embedded registry and queue are kept. @default a `webhooks` folder beside the access log's */
      dir: z.string().min(1).optional(),
    })
    .prefault({}),
  /** OpenTelemetry tracing (docs/tracing.md): off without an endpoint. */
  tracing: z
    .strictObject({
      /**
       * The OTLP/HTTP collector: its base URL (`http://collector:4318`, `/v1/traces` is added) or
       * the full traces URL (DATARUN_OTLP_ENDPOINT, or the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
       */
      otlpEndpoint: z
        .string()
        .refine((s) => {
          try {
            const url = new URL(s);
            return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
          } catch {
            return false;
          }
        }, 'expected an http:// or https:// URL without credentials')
        .optional(),
      /** `service.name` of the spans. */
      serviceName: z.string().min(1).max(128).default('datarun-hub'),
      /** Share of requests sampled when the caller's traceparent does not decide (DATARUN_TRACE_SAMPLE_RATIO). */
      sampleRatio: z.number().min(0).max(1).default(1),
    })
    .prefault({}),
  /** Pushed cases (审管联动, docs/cases.md): deadlines, the working-day calendar, where cases are kept. */
  cases: z
    .strictObject({
      /**
       * Working days to claim and to report back, by event type (`{ "LICENCE_ISSUED": { "claimDays": 3,
       * "feedbackDays": 10 } }`): each entry replaces the default of its type (DEFAULT_CASE_DEADLINES).
       */
      deadlines: z
        .record(z.string(), z.unknown())
        .superRefine((deadlines, ctx) => {
          try {
            parseCaseDeadlines({ ...DEFAULT_CASE_DEADLINES, ...deadlines });
          } catch (error) {
            if (!(error instanceof CasesConfigError)) throw error;
            const { problems } = error;
            for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem.replace(/^deadlines[.:] ?/, '') });
          }
        })
        .default({}),
      /** The working-day calendar file (format of src/cases/calendar-cn.json); the shipped one when unset. */
      calendar: z.string().min(1).optional(),
      /** The embedded store's file (one instance, no Redis): `cases/cases.jsonl` beside audit.dir when unset. With Redis, cases are kept there. */
      file: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Proofs 无证明 (docs/proofs.md): the status lists that revoke them, where the embedded hub keeps them. */
  proofs: z
    .strictObject({
      /** The hub's public base URL (`https://hub.example.gov.cn`): the status lists' URIs and the printable pages' links. @default the HTTP server's own URL */
      baseUrl: z
        .string()
        .refine((s) => {
          try {
            const url = new URL(s);
            return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' && url.search === '' && url.hash === '';
          } catch {
            return false;
          }
        }, 'expected an http:// or https:// URL without credentials, query or fragment')
        .optional(),
      /** Entries per status list: at least 16 384 (herd privacy: a verifier fetching the list learns nothing of which proof it checks). */
      statusListSize: z.number().int().min(16_384).max(16_777_216).multipleOf(8).default(131_072),
      /** How long a verifier may cache a status list, in seconds (the token's `ttl`). */
      statusTtlSeconds: z.number().int().min(10).max(86_400).default(300),
      /** Where the embedded hub keeps issued proofs and status lists: `proofs` beside audit.dir when unset. With Redis, they are kept there. */
      dir: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Trust between hubs (docs/federation.md): the peer hubs whose keys this hub accepts, each through the root key its operator pinned. */
  federation: z
    .strictObject({
      /** Peer hub id → `{ url, root }`: the peer's base URL and its federation root key (public JWK or RFC 7638 thumbprint), exchanged out of band. */
      peers: federationPeersSchema.default({}),
      /** A seal naming a key of a peer not seen yet fetches the peer's statement again (a rotation), at most once per this many seconds per peer. */
      refetchIntervalSec: z.number().int().min(0).max(3600).default(30),
    })
    .prefault({}),
  memory: z
    .strictObject({
      /**
       * How far the serving process's heap may grow past the data alive after a full garbage
       * collection, in per cent (V8's --heap-growing-percent; DATARUN_HEAP_GROWTH_PERCENT):
       * 100 (the default) lets it reach twice that data before the next one. 0 leaves V8's own heuristics,
       * which under load let it reach up to 4 times (docs/operations.md, "Memory").
       */
      heapGrowthPercent: z
        .number()
        .int()
        .min(0)
        .max(400)
        .refine((value) => value === 0 || value >= 10, 'expected 0 (V8\'s own heuristics) or 10 to 400')
        .default(DEFAULT_HEAP_GROWTH_PERCENT),
    })
    .prefault({}),
  /** Log level of the hub's own log (never personal data). */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('info'),
});

/** The hub's validated, frozen configuration. */
export type HubConfig = z.infer<typeof configSchema>;
/** The per-connector part of the configuration. */
export type ConnectorsConfig = HubConfig['connectors'];
/** The configuration as written in a file or passed in code, before defaults. */
export type HubConfigInput = z.input<typeof configSchema>;

/**
 * No audit, no data: a signed hub without its access log is a benchmark baseline and must say so.
 * Checked when the configuration is read and again when a gateway is built from any config.
 */
export function signedWithoutAuditProblem(mode: 'signed' | 'open', audit: { readonly enabled: boolean; readonly benchmarkOnlyDisable?: boolean | undefined }): string | undefined {
  if (mode !== 'signed' || audit.enabled || audit.benchmarkOnlyDisable) return undefined;
  return 'audit.enabled: the signed mode does not start with the access log off (no audit, no data); set audit.benchmarkOnlyDisable: true as well to measure a benchmark baseline without it';
}

/**
 * Several instances (Redis state) answer the auditor and citizen queries from one shared index
 * in PostgreSQL: with the access log on, multi-instance mode needs its URL.
 */
export function sharedIndexProblem(config: { readonly redis?: unknown; readonly audit: { readonly enabled: boolean; readonly index?: { readonly url?: string | undefined } } }): string | undefined {
  if (!config.redis || !config.audit.enabled || config.audit.index?.url) return undefined;
  return 'audit.index.url: several instances on Redis answer accessLog and dataAccesses from a shared index in PostgreSQL; set its postgres:// URL (or DATARUN_AUDIT_INDEX_URL)';
}

/** A configuration that cannot be used; its message names every bad setting. */
export class ConfigError extends HubError {
  declare readonly code: 'CONFIG_INVALID';

  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

/**
 * A hub on any free port (`http.port: 0`, as tests and several instances on one host run it) puts
 * its operator listener on any free port too, unless its port is given: two such hubs must not
 * both claim the default operator port.
 */
function followFreePort(input: unknown): unknown {
  const http = (input as { http?: { port?: unknown; operator?: unknown } }).http;
  if (!http || http.port !== 0 || http.operator === false) return input;
  const operator = http.operator as { port?: unknown } | undefined;
  if (operator !== undefined && (typeof operator !== 'object' || operator === null || operator.port !== undefined)) return input;
  return { ...(input as object), http: { ...http, operator: { ...operator, port: 0 } } };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Validates a configuration, filling in defaults; throws ConfigError naming each bad setting. */
export function parseConfig(input: unknown, source = 'configuration'): HubConfig {
  const result = configSchema.safeParse(followFreePort(input ?? {}));
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      const keys = issue.code === 'unrecognized_keys' ? `: ${issue.keys.join(', ')}` : '';
      return `  - ${where}: ${issue.message}${keys}`;
    });
    // The connectors' own settings are named in the same message, so that one attempt shows every mistake.
    const raw = (input ?? {}) as { connectors?: unknown; connectorDirs?: unknown };
    const connectorsOk = !result.error.issues.some((i) => i.path[0] === 'connectors' || i.path[0] === 'connectorDirs');
    if (connectorsOk && raw.connectors && typeof raw.connectors === 'object') {
      const dirs = Array.isArray(raw.connectorDirs) ? (raw.connectorDirs as string[]) : [];
      lines.push(...connectorSettingsProblems({ connectors: raw.connectors as Record<string, Record<string, unknown>>, connectorDirs: dirs }).problems.map((p) => `  - ${p}`));
    }
    throw new ConfigError(`Invalid ${source}:\n${lines.join('\n')}`);
  }
  const config = result.data;
  if (config.security.mode === 'open' && !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(config.http.host)) {
    throw new ConfigError(`Invalid ${source}:\n  - security.mode: "open" serves unauthenticated requests and is allowed only on a loopback http.host, not ${JSON.stringify(config.http.host)}`);
  }
  const { operator } = config.http;
  if (operator !== false && operator.port !== 0 && operator.port === config.http.port && operator.host === config.http.host) {
    throw new ConfigError(`Invalid ${source}:\n  - http.operator.port: the operator listener needs its own port, not http.port (${config.http.port}); set another, 0 for any free port, or http.operator: false`);
  }
  const withoutAudit = signedWithoutAuditProblem(config.security.mode, config.audit);
  if (withoutAudit) throw new ConfigError(`Invalid ${source}:\n  - ${withoutAudit}`);
  const withoutIndex = sharedIndexProblem(config);
  if (withoutIndex) throw new ConfigError(`Invalid ${source}:\n  - ${withoutIndex}`);
  // Each connector's settings against its own module's schema, once the modules are known.
  const { connectors, problems } = connectorSettingsProblems(config);
  if (problems.length > 0) throw new ConfigError(`Invalid ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return deepFreeze({ ...config, connectors });
}

function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = readDecimal(raw);
  if (n === undefined) throw new ConfigError(`Invalid environment: ${name} must be ${DECIMAL_EXPECTED}, but got: ${JSON.stringify(raw)}`);
  return n;
}

/**
 * A switch from the environment: true/1/yes/on or false/0/no/off; unset or empty leaves the file's.
 * Anything else is refused: read as "not false", `DATARUN_AUDIT_ENABLED=disabled` would keep the
 * log on and `DATARUN_CACHE_ENABLED=nein` the cache, each without a word.
 */
function envBoolean(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const on = readSwitch(raw);
  if (on === undefined) throw new ConfigError(`Invalid environment: ${name} must be ${SWITCH_EXPECTED}, but got: ${JSON.stringify(raw)}`);
  return on;
}

/**
 * Redis from the environment over the file's: `DATARUN_REDIS_URL` (standalone),
 * `DATARUN_REDIS_SENTINELS` with `DATARUN_REDIS_NAME`, or `DATARUN_REDIS_CLUSTER` (comma-separated
 * `host:port`); one of them replaces the file's topology. `DATARUN_REDIS_PASSWORD` adds a password.
 */
function redisFromEnv(env: NodeJS.ProcessEnv, file: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const list = (raw: string) => raw.split(',').map((s) => s.trim()).filter(Boolean);
  const topologies = ['DATARUN_REDIS_URL', 'DATARUN_REDIS_SENTINELS', 'DATARUN_REDIS_CLUSTER'].filter((name) => env[name]);
  if (topologies.length > 1) throw new ConfigError(`Invalid environment: set only one of ${topologies.join(', ')}`);
  const { url: _u, sentinels: _s, cluster: _c, ...rest } = file ?? {};
  let redis: Record<string, unknown> | undefined = file ? { ...file } : undefined;
  if (env.DATARUN_REDIS_URL) redis = { ...rest, url: env.DATARUN_REDIS_URL };
  else if (env.DATARUN_REDIS_CLUSTER) redis = { ...rest, cluster: list(env.DATARUN_REDIS_CLUSTER) };
  else if (env.DATARUN_REDIS_SENTINELS) redis = { ...rest, sentinels: list(env.DATARUN_REDIS_SENTINELS) };
  if (env.DATARUN_REDIS_NAME) redis = { ...redis, name: env.DATARUN_REDIS_NAME };
  if (env.DATARUN_REDIS_PASSWORD) redis = { ...redis, password: env.DATARUN_REDIS_PASSWORD };
  return redis;
}

/** Where a deprecated setting is reported by default: a process warning, printed once by Node. */
function warnDeprecated(message: string): void {
  process.emitWarning(message, { type: 'DeprecationWarning', code: 'DATARUN_DEPRECATED_SETTING' });
}

/**
 * Reads the configuration once: the JSON file named by `DATARUN_CONFIG` (or `file`), then the
 * `DATARUN_*` environment variables over it, then validation.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; overrides?: HubConfigInput; warn?: (message: string) => void } = {}): HubConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env.DATARUN_CONFIG;
  let input: Record<string, any> = {};
  if (file) {
    try {
      input = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
    } catch (error) {
      throw new ConfigError(`Cannot read configuration file ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const http = { ...input.http };
  const port = envNumber(env, 'DATARUN_PORT');
  if (port !== undefined) http.port = port;
  if (env.DATARUN_HOST) http.host = env.DATARUN_HOST;
  // DATARUN_OPERATOR_PORT (a port, or off/false for no operator listener) and DATARUN_OPERATOR_HOST over http.operator.
  const operatorPort = env.DATARUN_OPERATOR_PORT?.trim().toLowerCase();
  if (operatorPort === 'off' || operatorPort === 'false') http.operator = false;
  else {
    const port = envNumber(env, 'DATARUN_OPERATOR_PORT');
    if (port !== undefined || env.DATARUN_OPERATOR_HOST) {
      const fromFile = http.operator === false ? {} : { ...http.operator };
      http.operator = { ...fromFile, ...(port !== undefined ? { port } : {}), ...(env.DATARUN_OPERATOR_HOST ? { host: env.DATARUN_OPERATOR_HOST } : {}) };
    }
  }
  const connectorDirs = env.DATARUN_CONNECTOR_DIRS ? env.DATARUN_CONNECTOR_DIRS.split(',').map((d) => d.trim()).filter(Boolean) : (input.connectorDirs as string[] | undefined);
  // DATARUN_CONNECTORS__<ID>__<KEY> over the file's connectors.<id>.<key>; the variables of earlier releases under them, with a warning.
  const fromFile = { ...(input.connectors as Record<string, Record<string, unknown>> | undefined) };
  let legacy: Record<string, Record<string, unknown>>;
  let fromEnv: Record<string, Record<string, unknown>>;
  try {
    legacy = legacyConnectorEnvironment(env, connectorDirs ?? [], options.warn ?? warnDeprecated);
    fromEnv = connectorEnvironment(env, connectorDirs ?? []);
  } catch (error) {
    if (isSettingsError(error) || error instanceof HubError) throw new ConfigError(error.message);
    throw error;
  }
  const connectors: Record<string, Record<string, unknown>> = { ...fromFile };
  for (const layer of [legacy, fromEnv]) for (const [id, settings] of Object.entries(layer)) connectors[id] = { ...connectors[id], ...settings };
  const sandbox = { ...input.sandbox };
  const size = envNumber(env, 'DATARUN_SANDBOX_SIZE');
  if (size !== undefined) sandbox.size = size;
  const seed = envNumber(env, 'DATARUN_SANDBOX_SEED');
  if (seed !== undefined) sandbox.seed = seed;
  if (env.DATARUN_SANDBOX_CITY) sandbox.city = env.DATARUN_SANDBOX_CITY;
  const timeout = envNumber(env, 'DATARUN_CONNECTOR_TIMEOUT_MS');
  const deadline = envNumber(env, 'DATARUN_REQUEST_DEADLINE_MS');
  const redis = redisFromEnv(env, input.redis as Record<string, unknown> | undefined);
  const sampleRatio = envNumber(env, 'DATARUN_TRACE_SAMPLE_RATIO');
  const heapGrowth = envNumber(env, 'DATARUN_HEAP_GROWTH_PERCENT');
  const auditEnabled = envBoolean(env, 'DATARUN_AUDIT_ENABLED');
  const auditFsync = envBoolean(env, 'DATARUN_AUDIT_FSYNC');
  const benchmarkOnlyDisable = envBoolean(env, 'DATARUN_AUDIT_BENCHMARK_ONLY_DISABLE');
  const cacheEnabled = envBoolean(env, 'DATARUN_CACHE_ENABLED');
  const merged = {
    ...input,
    ...options.overrides,
    http: { ...http, ...options.overrides?.http },
    connectors: { ...connectors, ...options.overrides?.connectors },
    ...(connectorDirs ? { connectorDirs } : {}),
    sandbox: { ...sandbox, ...options.overrides?.sandbox },
    ...(timeout !== undefined ? { connectorTimeoutMs: timeout } : {}),
    ...(deadline !== undefined ? { requestDeadlineMs: deadline } : {}),
    ...(env.DATARUN_LOG_LEVEL ? { logLevel: env.DATARUN_LOG_LEVEL } : {}),
    ...(heapGrowth !== undefined ? { memory: { ...input.memory, heapGrowthPercent: heapGrowth } } : {}),
    keys: { ...input.keys, ...(env.DATARUN_KEYS_DIR ? { dir: env.DATARUN_KEYS_DIR } : {}), ...options.overrides?.keys },
    security: { ...input.security, ...(env.DATARUN_SECURITY_MODE ? { mode: env.DATARUN_SECURITY_MODE } : {}), ...options.overrides?.security },
    audit: {
      ...input.audit,
      ...(env.DATARUN_AUDIT_DIR ? { dir: env.DATARUN_AUDIT_DIR } : {}),
      ...(env.DATARUN_INSTANCE_ID ? { instanceId: env.DATARUN_INSTANCE_ID } : {}),
      ...(auditEnabled !== undefined ? { enabled: auditEnabled } : {}),
      ...(auditFsync !== undefined ? { fsync: auditFsync } : {}),
      ...(benchmarkOnlyDisable !== undefined ? { benchmarkOnlyDisable } : {}),
      ...(env.DATARUN_AUDIT_INDEX_URL ? { index: { ...input.audit?.index, url: env.DATARUN_AUDIT_INDEX_URL } } : {}),
      ...options.overrides?.audit,
    },
    policy: { ...input.policy, ...(env.DATARUN_POLICY_FILE ? { file: env.DATARUN_POLICY_FILE } : {}), ...options.overrides?.policy },
    ...(redis || options.overrides?.redis ? { redis: { ...redis, ...options.overrides?.redis } } : {}),
    ...(env.DATARUN_TRUSTED_PROXIES !== undefined || options.overrides?.trustedProxies
      ? { trustedProxies: options.overrides?.trustedProxies ?? env.DATARUN_TRUSTED_PROXIES!.split(',').map((s) => s.trim()).filter(Boolean) }
      : {}),
    tracing: {
      ...input.tracing,
      // The standard OpenTelemetry variable, then the hub's own over it.
      ...(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? { otlpEndpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT } : {}),
      ...(env.DATARUN_OTLP_ENDPOINT ? { otlpEndpoint: env.DATARUN_OTLP_ENDPOINT } : {}),
      ...(sampleRatio !== undefined ? { sampleRatio } : {}),
      ...options.overrides?.tracing,
    },
    cache: { ...input.cache, ...(cacheEnabled !== undefined ? { enabled: cacheEnabled } : {}), ...options.overrides?.cache },
  };
  return parseConfig(merged, file ? `configuration (${file} and DATARUN_* environment)` : 'configuration (DATARUN_* environment)');
}
