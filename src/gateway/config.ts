import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** Where the access log lives by default: `.data/audit` in the project (git-ignored). */
export const DEFAULT_AUDIT_DIR = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../.data/audit' : '../../.data/audit');
/** This instance's default name: the host name (several instances on one host need their own). */
export const DEFAULT_INSTANCE_ID = (hostname().replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 64) || 'hub');

/** The project's own keys/ folder (also from dist/): public trust material committed, private keys generated. */
export const DEFAULT_KEYS_DIR = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../keys' : '../../keys');

const timeoutMs = z.number().int().min(50).max(60_000);
const httpUrl = z.url({ protocol: /^https?$/ });

const connectorsSchema = z.strictObject({
  'real-estate': z.strictObject({ url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL'), timeoutMs: timeoutMs.optional(), poolSize: z.number().int().min(1).max(100).optional() }).optional(),
  'social-security': z.strictObject({ baseUrl: httpUrl, apiKey: z.string().min(1), timeoutMs: timeoutMs.optional(), connections: z.number().int().min(1).max(256).optional() }).optional(),
  tax: z.strictObject({ url: httpUrl, timeoutMs: timeoutMs.optional(), connections: z.number().int().min(1).max(256).optional() }).optional(),
  'market-regulation': z.strictObject({ baseUrl: httpUrl, timeoutMs: timeoutMs.optional(), connections: z.number().int().min(1).max(256).optional() }).optional(),
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
    })
    .prefault({}),
  /** Default per-call timeout of every connector that sets none. */
  connectorTimeoutMs: timeoutMs.default(2000),
  connectors: connectorsSchema.prefault({}),
  sandbox: z
    .strictObject({
      /** Start the sandbox department systems in-process for every connector without a URL. */
      enabled: z.boolean().default(true),
      seed: z.number().int().default(1),
      size: z.number().int().min(10).max(2_000_000).default(200),
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
      /** Sign a checkpoint after this many records. */
      checkpointEveryRecords: z.number().int().min(1).max(1_000_000).default(1000),
      /** Sign a checkpoint after this long, in milliseconds, if records were added. */
      checkpointEveryMs: z.number().int().min(100).max(86_400_000).default(60_000),
      /** Whole segments older than this many days are removed; at least 180 (six months). */
      retentionDays: z.number().int().min(180).max(36_500).default(180),
    })
    .prefault({}),
  policy: z
    .strictObject({
      /** The sharing policy file (purposes, consumers, grants); the embedded demo policy when unset. */
      file: z.string().min(1).optional(),
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

/** A configuration that cannot be used; its message names every bad setting. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
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
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      const keys = issue.code === 'unrecognized_keys' ? `: ${issue.keys.join(', ')}` : '';
      return `  - ${where}: ${issue.message}${keys}`;
    });
    throw new ConfigError(`Invalid ${source}:\n${lines.join('\n')}`);
  }
  const config = result.data;
  if (config.security.mode === 'open' && !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(config.http.host)) {
    throw new ConfigError(`Invalid ${source}:\n  - security.mode: "open" serves unauthenticated requests and is allowed only on a loopback http.host, not ${JSON.stringify(config.http.host)}`);
  }
  if (!config.sandbox.enabled) {
    const missing = (['real-estate', 'social-security', 'tax', 'market-regulation'] as const).filter((id) => !config.connectors[id]);
    if (missing.length > 0) throw new ConfigError(`Invalid ${source}:\n  - connectors: ${missing.join(', ')} need a URL when sandbox.enabled is false`);
  }
  return deepFreeze(config);
}

function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ConfigError(`Invalid environment: ${name} must be a number, but got: ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Reads the configuration once: the JSON file named by `DATARUN_CONFIG` (or `file`), then the
 * `DATARUN_*` environment variables over it, then validation.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; overrides?: HubConfigInput } = {}): HubConfig {
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
  const connectors = { ...input.connectors };
  if (env.DATARUN_REAL_ESTATE_URL) connectors['real-estate'] = { ...connectors['real-estate'], url: env.DATARUN_REAL_ESTATE_URL };
  if (env.DATARUN_SOCIAL_SECURITY_URL) {
    connectors['social-security'] = { ...connectors['social-security'], baseUrl: env.DATARUN_SOCIAL_SECURITY_URL, apiKey: env.DATARUN_SOCIAL_SECURITY_API_KEY ?? connectors['social-security']?.apiKey };
  }
  if (env.DATARUN_TAX_URL) connectors.tax = { ...connectors.tax, url: env.DATARUN_TAX_URL };
  if (env.DATARUN_MARKET_REGULATION_URL) connectors['market-regulation'] = { ...connectors['market-regulation'], baseUrl: env.DATARUN_MARKET_REGULATION_URL };
  const sandbox = { ...input.sandbox };
  const size = envNumber(env, 'DATARUN_SANDBOX_SIZE');
  if (size !== undefined) sandbox.size = size;
  const seed = envNumber(env, 'DATARUN_SANDBOX_SEED');
  if (seed !== undefined) sandbox.seed = seed;
  const timeout = envNumber(env, 'DATARUN_CONNECTOR_TIMEOUT_MS');
  const merged = {
    ...input,
    ...options.overrides,
    http: { ...http, ...options.overrides?.http },
    connectors: { ...connectors, ...options.overrides?.connectors },
    sandbox: { ...sandbox, ...options.overrides?.sandbox },
    ...(timeout !== undefined ? { connectorTimeoutMs: timeout } : {}),
    ...(env.DATARUN_LOG_LEVEL ? { logLevel: env.DATARUN_LOG_LEVEL } : {}),
    keys: { ...input.keys, ...(env.DATARUN_KEYS_DIR ? { dir: env.DATARUN_KEYS_DIR } : {}), ...options.overrides?.keys },
    security: { ...input.security, ...(env.DATARUN_SECURITY_MODE ? { mode: env.DATARUN_SECURITY_MODE } : {}), ...options.overrides?.security },
    audit: {
      ...input.audit,
      ...(env.DATARUN_AUDIT_DIR ? { dir: env.DATARUN_AUDIT_DIR } : {}),
      ...(env.DATARUN_INSTANCE_ID ? { instanceId: env.DATARUN_INSTANCE_ID } : {}),
      ...(env.DATARUN_AUDIT_ENABLED ? { enabled: env.DATARUN_AUDIT_ENABLED !== 'false' && env.DATARUN_AUDIT_ENABLED !== '0' } : {}),
      ...options.overrides?.audit,
    },
    policy: { ...input.policy, ...(env.DATARUN_POLICY_FILE ? { file: env.DATARUN_POLICY_FILE } : {}), ...options.overrides?.policy },
  };
  return parseConfig(merged, file ? `configuration (${file} and DATARUN_* environment)` : 'configuration (DATARUN_* environment)');
}
