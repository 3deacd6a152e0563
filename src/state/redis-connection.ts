/**
 * The one place that constructs ioredis clients: standalone (a URL), Sentinel (sentinels and a
 * master name) or Cluster (seed nodes). Every client is set up to fail fast rather than queue:
 * no offline queue, at most one retry per command, a command timeout, no resending of commands
 * that were in flight when a connection dropped (a resent `SET NX` would report its own write as
 * a replay). ioredis keeps reconnecting in the background, so everything recovers by itself
 * when Redis returns.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { RedisSettingsError } from './errors';

/** Where Redis is: exactly one of `url`, `sentinels` (with `name`) or `cluster`. */
export interface RedisSettings {
  /** `redis://[:password@]host:port[/db]` or `rediss://…` (TLS): a standalone server. */
  url?: string;
  /** Sentinel addresses (`host:port`); needs `name`. */
  sentinels?: readonly string[];
  /** The master group name the sentinels watch. */
  name?: string;
  /** Seed nodes of a Redis Cluster (`host:port`); the client discovers the others. */
  cluster?: readonly string[];
  /** Password of the Sentinel-managed master or of the cluster nodes (a URL carries its own). */
  password?: string;
  /** Prefix of every key and channel, so one Redis can serve several hubs. @default 'datarun:' */
  keyPrefix?: string;
  /** How long one command may take before it fails. @default 500 */
  commandTimeoutMs?: number;
  /** How long connecting may take. @default 2000 */
  connectTimeoutMs?: number;
}

/** Defaults of the Redis settings and of the client behaviour derived from them. */
export const DEFAULT_REDIS_SETTINGS = Object.freeze({
  keyPrefix: 'datarun:',
  commandTimeoutMs: 500,
  connectTimeoutMs: 2000,
  /** A command is retried at most once across a reconnect, then fails. */
  maxRetriesPerRequest: 1,
  /** Reconnect attempts back off linearly up to this delay, forever. */
  reconnectMaxDelayMs: 1000,
});

/** How the hub reaches Redis. */
export type RedisMode = 'standalone' | 'sentinel' | 'cluster';

/** An ioredis client of either kind. */
export type RedisClient = Redis | Cluster;

/** Something the connection wants operators to hear about (never a key, value or password). */
export type RedisConnectionEvent = { type: 'redis-error'; message: string } | { type: 'redis-ready' } | { type: 'redis-lost' };

/** A connection to the hub's Redis, whatever its topology. */
export interface RedisConnection {
  readonly mode: RedisMode;
  readonly client: RedisClient;
  /** The key prefix (`datarun:`). */
  readonly prefix: string;
  /** Where it points, without credentials (`redis cluster 127.0.0.1:7000,…`). */
  readonly description: string;
  /** True while commands can be sent. */
  isReady(): boolean;
  /** Resolves true once ready, false after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  /** A second client for SUBSCRIBE (a subscribed connection can send nothing else); created once. */
  subscriber(): RedisClient;
  /** The client of the node that holds `key`: WAIT has no key, so in a cluster it must go to that node itself. */
  nodeFor(key: string): Redis | undefined;
  close(): Promise<void>;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Parses `host:port` (IPv6 in brackets), or throws RedisSettingsError naming the setting. */
export function parseHostPort(value: string, setting: string): { host: string; port: number } {
  const m = HOST_PORT.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65_535) throw new RedisSettingsError(setting, `host:port, but got: ${JSON.stringify(value)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Which topology the settings describe, or a RedisSettingsError when they describe none or several. */
export function redisModeOf(settings: RedisSettings): RedisMode {
  const given = [settings.url ? 'url' : '', settings.sentinels?.length ? 'sentinels' : '', settings.cluster?.length ? 'cluster' : ''].filter(Boolean);
  if (given.length !== 1) throw new RedisSettingsError('redis', `exactly one of url, sentinels or cluster${given.length > 1 ? `, but got: ${given.join(', ')}` : ''}`);
  if (settings.sentinels?.length && !settings.name) throw new RedisSettingsError('redis.name', 'the master group name when sentinels are given');
  return settings.url ? 'standalone' : settings.sentinels?.length ? 'sentinel' : 'cluster';
}

/** The URL without its password, for logs and the startup message. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** The cluster slot of a key (CRC16/XMODEM of its hash tag, or of the whole key), as Redis computes it. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc % 16384;
}

/**
 * Creates the client for the settings and starts connecting (it does not wait: a hub may start
 * while Redis is down and serve once it is up). Connection errors go to `onEvent`, never to the
 * console.
 */
export function createRedisConnection(settings: RedisSettings, onEvent: (event: RedisConnectionEvent) => void = () => undefined): RedisConnection {
  const mode = redisModeOf(settings);
  const prefix = settings.keyPrefix ?? DEFAULT_REDIS_SETTINGS.keyPrefix;
  const commandTimeout = settings.commandTimeoutMs ?? DEFAULT_REDIS_SETTINGS.commandTimeoutMs;
  const connectTimeout = settings.connectTimeoutMs ?? DEFAULT_REDIS_SETTINGS.connectTimeoutMs;
  const backoff = (times: number): number => Math.min(100 * times, DEFAULT_REDIS_SETTINGS.reconnectMaxDelayMs);
  const common: RedisOptions = {
    commandTimeout,
    connectTimeout,
    maxRetriesPerRequest: DEFAULT_REDIS_SETTINGS.maxRetriesPerRequest,
    autoResendUnfulfilledCommands: false,
    // Off: ioredis 5's auto-pipelining can call its callbacks with no results after a connection
    // trouble (`results[i] is not iterable`, ioredis #1931), thrown where nothing catches it, which
    // ended a hub process that started while Redis was busy. Commands are pipelined by the code
    // that sends several at once (MULTI, pipelines) instead.
    enableAutoPipelining: false,
    // ioredis waits this long for a socket that is already gone before it lets go of it on close.
    disconnectTimeout: 200,
    ...(settings.password ? { password: settings.password } : {}),
  };
  let client: RedisClient;
  let description: string;
  if (mode === 'cluster') {
    const nodes = settings.cluster!.map((n, i) => parseHostPort(n, `redis.cluster[${i}]`));
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      // Off in a cluster: ioredis routes an auto-pipelined EVALSHA by its first argument (the key
      // count, not a key), so a script call may join the pipeline of another node and fail with
      // "All keys in the pipeline should belong to the same slots allocation group" (ioredis #2109).
      enableAutoPipelining: false,
      clusterRetryStrategy: backoff,
      retryDelayOnFailover: 50,
      retryDelayOnClusterDown: 50,
      maxRedirections: 4,
      slotsRefreshTimeout: connectTimeout,
      redisOptions: common,
    };
    client = new Cluster(nodes, options);
    description = `redis cluster (${settings.cluster!.join(', ')})`;
  } else if (mode === 'sentinel') {
    const sentinels = settings.sentinels!.map((s, i) => parseHostPort(s, `redis.sentinels[${i}]`));
    client = new Redis({ ...common, sentinels, name: settings.name!, enableOfflineQueue: false, retryStrategy: backoff, sentinelRetryStrategy: backoff });
    description = `redis sentinel (master "${settings.name}" via ${settings.sentinels!.join(', ')})`;
  } else {
    let url: URL;
    try {
      url = new URL(settings.url!);
    } catch {
      throw new RedisSettingsError('redis.url', 'a redis:// or rediss:// URL');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new RedisSettingsError('redis.url', 'a redis:// or rediss:// URL');
    client = new Redis(settings.url!, { ...common, enableOfflineQueue: false, retryStrategy: backoff });
    description = `redis ${redactUrl(settings.url!)}`;
  }
  let lastError = '';
  const listen = (c: RedisClient): void => {
    // Without an 'error' listener ioredis prints every failed reconnect to the console.
    c.on('error', (error: Error) => {
      const message = error?.message ?? 'error';
      if (message === lastError) return;
      lastError = message;
      onEvent({ type: 'redis-error', message });
    });
  };
  listen(client);
  let up = false;
  client.on('ready', () => {
    lastError = '';
    up = true;
    onEvent({ type: 'redis-ready' });
  });
  // Reported once per outage, not once per failed reconnect attempt.
  client.on('close', () => {
    if (!up) return;
    up = false;
    onEvent({ type: 'redis-lost' });
  });

  let sub: RedisClient | undefined;
  const isReady = (): boolean => client.status === 'ready';
  return {
    mode,
    client,
    prefix,
    description,
    isReady,
    waitUntilReady(timeoutMs) {
      if (isReady()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          client.off('ready', onReady);
          resolve(false);
        }, timeoutMs);
        const onReady = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        client.once('ready', onReady);
      });
    },
    subscriber() {
      if (!sub) {
        // The subscriber only ever sends SUBSCRIBE, which may wait for the connection.
        sub = client instanceof Cluster ? client.duplicate(undefined, { enableOfflineQueue: true }) : client.duplicate({ enableOfflineQueue: true });
        listen(sub);
      }
      return sub;
    },
    nodeFor(key) {
      if (!(client instanceof Cluster)) return client;
      const owner = client.slots[keySlot(key)]?.[0];
      return client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
    },
    async close() {
      for (const c of [sub, client]) {
        if (!c) continue;
        // QUIT lets replies in flight arrive; without a connection it would wait for one, so disconnect at once.
        if (c.status === 'ready') await Promise.race([c.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
        c.disconnect();
      }
    },
  };
}
