import { StateErrorCode, parseHostPort, redisModeOf } from '../../../src/state';
import { keySlot } from '../../../src/state/redis-connection';
import { ConfigError, loadConfig, parseConfig } from '../../../src/gateway/config';

describe('Redis settings', () => {
  it('runs on the in-memory defaults when no Redis is configured', () => {
    const config = parseConfig({});
    expect(config.redis).toBeUndefined();
    expect(config.cache).toMatchObject({ enabled: true, ttlSeconds: {}, maxRecordBytes: 262144 });
    expect(config.rateLimits).toEqual({ consumers: {} });
  });

  it('tells the three topologies apart', () => {
    expect(redisModeOf({ url: 'redis://127.0.0.1:6379' })).toBe('standalone');
    expect(redisModeOf({ sentinels: ['10.0.0.1:26379'], name: 'datarun' })).toBe('sentinel');
    expect(redisModeOf({ cluster: ['10.0.0.1:7000', '10.0.0.2:7000'] })).toBe('cluster');
  });

  it('refuses settings that name no topology or several, with a stable code', () => {
    expect(() => redisModeOf({})).toThrow(expect.objectContaining({ code: StateErrorCode.REDIS_SETTINGS_INVALID, message: 'Redis setting "redis" must be exactly one of url, sentinels or cluster.' }));
    expect(() => redisModeOf({ url: 'redis://x:1', cluster: ['x:1'] })).toThrow('Redis setting "redis" must be exactly one of url, sentinels or cluster, but got: url, cluster.');
    expect(() => redisModeOf({ sentinels: ['x:1'] })).toThrow('Redis setting "redis.name" must be the master group name when sentinels are given.');
    expect(() => parseHostPort('nohost', 'redis.cluster[0]')).toThrow('Redis setting "redis.cluster[0]" must be host:port, but got: "nohost".');
    expect(parseHostPort('[::1]:7000', 'x')).toEqual({ host: '::1', port: 7000 });
  });

  it('names each bad Redis setting in the configuration', () => {
    const bad = (input: unknown) => {
      try {
        parseConfig(input);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(bad({ redis: {} })).toBe('Invalid configuration:\n  - redis: expected exactly one of url, sentinels or cluster');
    expect(bad({ redis: { url: 'http://x' } })).toContain('  - redis.url: expected a redis:// or rediss:// URL');
    expect(bad({ redis: { cluster: ['a:1', 'b'] } })).toContain('  - redis.cluster.1: expected host:port');
    expect(bad({ redis: { sentinels: ['a:26379'] } })).toContain('  - redis.name: expected the master group name when sentinels are given');
    expect(bad({ rateLimits: { consumers: { x: { requestsPerSecond: 0, burst: 1 } } } })).toContain('rateLimits.consumers.x.requestsPerSecond');
  });

  it('takes Redis from DATARUN_REDIS_URL or DATARUN_REDIS_CLUSTER', () => {
    const index = { DATARUN_AUDIT_INDEX_URL: 'postgres://hub@db.example/audit' };
    expect(loadConfig({ env: { ...index, DATARUN_REDIS_URL: 'redis://10.1.1.1:6379/2' } }).redis).toMatchObject({ url: 'redis://10.1.1.1:6379/2', keyPrefix: 'datarun:', commandTimeoutMs: 500 });
    expect(loadConfig({ env: { ...index, DATARUN_REDIS_CLUSTER: '10.1.1.1:7000, 10.1.1.2:7000' } }).redis).toMatchObject({ cluster: ['10.1.1.1:7000', '10.1.1.2:7000'] });
    expect(loadConfig({ env: { ...index, DATARUN_REDIS_SENTINELS: 's1:26379', DATARUN_REDIS_NAME: 'm' } }).redis).toMatchObject({ sentinels: ['s1:26379'], name: 'm' });
    expect(() => loadConfig({ env: { DATARUN_REDIS_URL: 'redis://a:1', DATARUN_REDIS_CLUSTER: 'a:1' } })).toThrow('Invalid environment: set only one of DATARUN_REDIS_URL, DATARUN_REDIS_CLUSTER');
  });

  it('needs the shared index database with several instances (Redis state and the access log on), and only then', () => {
    const redis = { url: 'redis://10.1.1.1:6379' };
    expect(() => parseConfig({ redis })).toThrow(
      'Invalid configuration:\n  - audit.index.url: several instances on Redis answer accessLog and dataAccesses from a shared index in PostgreSQL; set its postgres:// URL (or DATARUN_AUDIT_INDEX_URL)',
    );
    expect(() => loadConfig({ env: { DATARUN_REDIS_URL: redis.url } })).toThrow('audit.index.url');
    // One instance keeps its index in memory; without the access log there is nothing to index.
    expect(parseConfig({}).audit.index).toEqual({});
    expect(parseConfig({ redis, security: { mode: 'open' }, audit: { enabled: false } }).audit.index.url).toBeUndefined();
    expect(parseConfig({ redis, audit: { index: { url: 'postgres://hub@db.example:5432/audit' } } }).audit.index.url).toBe('postgres://hub@db.example:5432/audit');
    expect(() => parseConfig({ redis, audit: { index: { url: 'mysql://db' } } })).toThrow('  - audit.index.url: expected a postgres:// URL');
    // The environment over the file.
    expect(loadConfig({ env: { DATARUN_REDIS_URL: redis.url, DATARUN_AUDIT_INDEX_URL: 'postgresql://hub@db2.example/audit' } }).audit.index.url).toBe('postgresql://hub@db2.example/audit');
  });

  it('computes cluster slots as Redis does, hash tags included', () => {
    // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
    expect(keySlot('123456789')).toBe(0x31c3 % 16384);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('datarun:audit:{hub-1}:records')).toBe(keySlot('hub-1'));
    expect(keySlot('{}x')).toBe(keySlot('{}x'));
  });
});
