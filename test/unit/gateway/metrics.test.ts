/**
 * The gateway's metrics without a hub: department calls seen by the record cache's observer
 * (or through the pass-through cache when the hub caches nothing for it), hits and misses, the failing and
 * recovered lines on transitions only, bounded labels, and one registry per gateway.
 */
import { createHubMetrics } from '../../../src/gateway';
import { HubError } from '../../../src/sdk';
import { createLoaderCaches, createMemoryRecordCache } from '../../../src/state';
import { parsePrometheusText, sampleValue } from '../../support/prometheus';

function metricsWithLog() {
  const logged: { level: string; details: Record<string, unknown>; message: string }[] = [];
  const log = (level: string) => (details: Record<string, unknown>, message: string) => logged.push({ level, details, message });
  const metrics = createHubMetrics({ isConsumer: (id) => id === 'centre', isPurpose: (code) => code === 'TRANSFER', processMetrics: false, logger: { info: log('info'), warn: log('warn'), error: log('error') } });
  return { metrics, logged };
}

async function families(metrics: ReturnType<typeof createHubMetrics>) {
  return parsePrometheusText((await metrics.scrape()).text);
}

describe('gateway metrics', () => {
  it('counts cache hits and misses and times the department call for the misses only', async () => {
    const { metrics } = metricsWithLog();
    const caches = createLoaderCaches({ cache: createMemoryRecordCache(), version: 'v', ttlSeconds: { land: 60 }, observer: metrics.loaderObserver });
    const signal = new AbortController().signal;
    await caches.forConnector('land', signal)!.loader('byId').readThrough(['a', 'b'], async () => new Map([['a', 1], ['b', 2]]));
    const cache = metrics.connectorCache('land', signal, caches.forConnector('land', signal));
    const asked: string[][] = [];
    const out = await cache.loader('byId').readThrough(['a', 'b', 'c'], async (keys) => {
      asked.push([...keys]);
      return new Map([['c', 3]]);
    });
    expect([...out]).toEqual([['a', 1], ['b', 2], ['c', 3]]);
    expect(asked).toEqual([['c']]);
    const f = await families(metrics);
    // The first read fetched a and b (two misses, one call of two); the second found them and fetched c.
    expect(sampleValue(f, 'datarun_record_cache_hits_total', 'datarun_record_cache_hits_total', { connector: 'land' })).toBe(2);
    expect(sampleValue(f, 'datarun_record_cache_misses_total', 'datarun_record_cache_misses_total', { connector: 'land' })).toBe(3);
    expect(sampleValue(f, 'datarun_department_batch_size', 'datarun_department_batch_size_sum', { connector: 'land' })).toBe(3);
    expect(sampleValue(f, 'datarun_department_call_duration_seconds', 'datarun_department_call_duration_seconds_count', { connector: 'land', result: 'ok' })).toBe(2);
  });

  it('passes every key to the department without a cache, and turns a failed call into one error per key', async () => {
    const { metrics, logged } = metricsWithLog();
    const signal = new AbortController().signal;
    const loader = metrics.connectorCache('tax', signal, undefined).loader('byId');
    const down = new HubError('CONNECTOR_TIMEOUT', 'tax did not answer');
    const failed = await loader.readThrough(['x', 'y'], () => Promise.reject(down));
    expect([...failed.values()]).toEqual([down, down]);
    await loader.readThrough(['x'], () => Promise.reject(down));
    const found = await loader.readThrough(['x', 'y'], async () => new Map([['x', 'record']]));
    expect([...found]).toEqual([['x', 'record'], ['y', null]]);
    const f = await families(metrics);
    expect(sampleValue(f, 'datarun_department_call_errors_total', 'datarun_department_call_errors_total', { connector: 'tax', code: 'CONNECTOR_TIMEOUT' })).toBe(2);
    expect(sampleValue(f, 'datarun_department_call_timeouts_total', 'datarun_department_call_timeouts_total', { connector: 'tax' })).toBe(2);
    expect(sampleValue(f, 'datarun_department_up', 'datarun_department_up', { connector: 'tax' })).toBe(1);
    // Not a cached connector: no hits or misses.
    expect(sampleValue(f, 'datarun_record_cache_misses_total', 'datarun_record_cache_misses_total', { connector: 'tax' })).toBeUndefined();
    // Two failures, one line; one recovery, one line.
    expect(logged.map((l) => [l.level, l.message, l.details.connector])).toEqual([
      ['warn', 'department failing', 'tax'],
      ['info', 'department recovered', 'tax'],
    ]);
  });

  it('does not count a caller\'s mistake or a client that went away as a department failing', async () => {
    const { metrics, logged } = metricsWithLog();
    const gone = new AbortController();
    gone.abort();
    await metrics.connectorCache('tax', gone.signal, undefined).loader('byId').readThrough(['x'], () => Promise.reject(new HubError('CONNECTOR_UNAVAILABLE', 'aborted')));
    await metrics.connectorCache('tax', new AbortController().signal, undefined).loader('byId').readThrough(['x'], () => Promise.reject(new HubError('BAD_USER_INPUT', 'bad id')));
    expect(logged).toEqual([]);
  });

  it('keeps each gateway\'s registry apart', async () => {
    const one = metricsWithLog().metrics;
    const two = metricsWithLog().metrics;
    await one.connectorCache('tax', new AbortController().signal, undefined).loader('l').readThrough(['x'], async () => new Map());
    expect(sampleValue(await families(one), 'datarun_department_batch_size', 'datarun_department_batch_size_count', { connector: 'tax' })).toBe(1);
    expect(sampleValue(await families(two), 'datarun_department_batch_size', 'datarun_department_batch_size_count', { connector: 'tax' })).toBeUndefined();
  });
});
