import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_HEAP_GROWTH_PERCENT, loadConfig, parseConfig } from '../../src/gateway/config';
import { connectorEnvName, discoverConnectorModules } from '../../src/gateway';
import { SEED_CITIES } from '../../departments';

describe('configuration', () => {
  it('runs on embedded defaults when nothing is configured', () => {
    const config = parseConfig({});
    expect(config.http).toEqual({ host: '127.0.0.1', port: 4000, bodyLimitBytes: 1048576, shutdownGraceMs: 10000, operator: { host: '127.0.0.1', port: 4001 } });
    expect(config.sandbox).toEqual({ enabled: true, seed: 1, size: 200 });
    expect(config.connectorTimeoutMs).toBe(2000);
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('names every bad setting and what was expected', () => {
    expect(() => parseConfig({ http: { port: 'eighty' }, connectorTimeoutMs: 5, connectors: { tax: { url: 'ftp://x' } } })).toThrow(ConfigError);
    try {
      parseConfig({ http: { port: 'eighty' }, connectorTimeoutMs: 5, connectors: { tax: { url: 'ftp://x' } } });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/^Invalid configuration:/);
      expect(message).toContain('http.port');
      expect(message).toContain('connectorTimeoutMs');
      expect(message).toContain('connectors.tax.url');
    }
  });

  it('takes one city\'s seed for the embedded sandboxes (sandbox.city, DATARUN_SANDBOX_CITY), only a city the seed generator knows', () => {
    expect(loadConfig({ env: { DATARUN_SANDBOX_CITY: 'heze', DATARUN_SANDBOX_SEED: '2' } }).sandbox).toEqual({ enabled: true, seed: 2, size: 200, city: 'heze' });
    expect(parseConfig({ sandbox: { city: 'taian' } }).sandbox.city).toBe('taian');
    expect(() => loadConfig({ env: { DATARUN_SANDBOX_CITY: 'jinan' } })).toThrow(/sandbox\.city/);
    // The configuration's cities are the seed generator's.
    for (const city of SEED_CITIES) expect(parseConfig({ sandbox: { city } }).sandbox.city).toBe(city);
    expect(() => parseConfig({ sandbox: { city: 'nowhere' } })).toThrow(new RegExp(SEED_CITIES.join('.*')));
  });

  it('refuses a connector it does not know, naming the ones it has', () => {
    expect(() => parseConfig({ connectors: { taxes: {} } })).toThrow(/connectors\.taxes: there is no connector "taxes" \(connectors: .*\btax\b/);
  });

  it('refuses a setting a connector does not have, naming the ones it has', () => {
    expect(() => parseConfig({ connectors: { tax: { url: 'http://127.0.0.1:1/tax', uri: 'x' } } })).toThrow(/connectors\.tax: Unrecognized key: "uri" \(its settings: url, timeoutMs, connections, changesPageSize\)/);
  });

  it('requires every department\'s settings when the sandboxes are off, naming the variable to set', () => {
    let message = '';
    try {
      parseConfig({ sandbox: { enabled: false }, connectors: { tax: { url: 'http://127.0.0.1:1/tax' } } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('connectors.real-estate: not configured, and sandbox.enabled is false: set its settings (e.g. DATARUN_CONNECTORS__REAL_ESTATE__URL) or connectors.real-estate.enabled: false');
    expect(message).toContain('connectors.social-security: not configured');
    expect(message).not.toContain('connectors.tax:');
    // A department left out on purpose needs no settings.
    const config = parseConfig({
      sandbox: { enabled: false },
      connectors: Object.fromEntries(discoverConnectorModules().map((f) => [f.module.id, { enabled: false }])),
    });
    expect(Object.values(config.connectors).every((c) => c.enabled === false)).toBe(true);
  });

  it('takes connector settings from DATARUN_CONNECTORS__<ID>__<KEY>, typed by the connector\'s schema, over the file settings', () => {
    const config = loadConfig({
      env: {
        DATARUN_CONNECTORS__TAX__URL: 'http://10.1.2.3:8080/TaxService',
        DATARUN_CONNECTORS__TAX__TIMEOUT_MS: '1500',
        DATARUN_CONNECTORS__SOCIAL_SECURITY__BASE_URL: 'http://10.1.2.4/api',
        DATARUN_CONNECTORS__SOCIAL_SECURITY__API_KEY: 'k',
        DATARUN_CONNECTORS__MARKET_REGULATION__ENABLED: 'false',
      },
      overrides: {},
      warn: () => undefined,
    });
    expect(config.connectors.tax).toEqual({ url: 'http://10.1.2.3:8080/TaxService', timeoutMs: 1500 });
    expect(config.connectors['social-security']).toEqual({ baseUrl: 'http://10.1.2.4/api', apiKey: 'k' });
    expect(config.connectors['market-regulation']).toEqual({ enabled: false });
  });

  it('names a connector variable that is malformed, of no connector, of no setting, or of the wrong type', () => {
    const load = (env: Record<string, string>) => () => loadConfig({ env, warn: () => undefined });
    expect(load({ DATARUN_CONNECTORS__TAX: 'x' })).toThrow('DATARUN_CONNECTORS__TAX: expected DATARUN_CONNECTORS__<ID>__<KEY>');
    expect(load({ DATARUN_CONNECTORS__TAXES__URL: 'x' })).toThrow(/DATARUN_CONNECTORS__TAXES__URL: there is no connector "taxes"/);
    expect(load({ DATARUN_CONNECTORS__TAX__URI: 'x' })).toThrow('DATARUN_CONNECTORS__TAX__URI: connector "tax" has no setting URI (its settings: URL, TIMEOUT_MS, CONNECTIONS, CHANGES_PAGE_SIZE, ENABLED)');
    expect(load({ DATARUN_CONNECTORS__TAX__TIMEOUT_MS: 'soon' })).toThrow('DATARUN_CONNECTORS__TAX__TIMEOUT_MS must be a decimal number (such as 4000 or 0.5), but got: "soon"');
    expect(load({ DATARUN_CONNECTORS__TAX__TIMEOUT_MS: '0x7d0' })).toThrow('DATARUN_CONNECTORS__TAX__TIMEOUT_MS must be a decimal number (such as 4000 or 0.5), but got: "0x7d0"');
    expect(load({ DATARUN_CONNECTORS__TAX__ENABLED: 'maybe' })).toThrow('DATARUN_CONNECTORS__TAX__ENABLED must be true or false (also 1/0, yes/no, on/off), but got: "maybe"');
    // The connector's switches read as the hub's own do.
    expect(loadConfig({ env: { DATARUN_CONNECTORS__TAX__ENABLED: 'off' }, warn: () => undefined }).connectors.tax).toMatchObject({ enabled: false });
    expect(load({ DATARUN_CONNECTORS__TAX__URL: 'ftp://x' })).toThrow(/connectors\.tax\.url: expected an absolute http\(s\) URL/);
  });

  it('still takes the variables of earlier releases, with a deprecation warning naming the new one', () => {
    const warnings: string[] = [];
    const config = loadConfig({
      env: {
        DATARUN_PORT: '0',
        DATARUN_TAX_URL: 'http://10.1.2.3:8080/TaxService',
        DATARUN_SOCIAL_SECURITY_URL: 'http://10.1.2.4/api',
        DATARUN_SOCIAL_SECURITY_API_KEY: 'k',
        DATARUN_REAL_ESTATE_URL: 'postgres://reader@10.1.2.5/exchange',
        // The new variable wins over the old one.
        DATARUN_MARKET_REGULATION_URL: 'http://old.invalid',
        DATARUN_CONNECTORS__MARKET_REGULATION__BASE_URL: 'http://10.1.2.6',
      },
      warn: (message) => warnings.push(message),
    });
    expect(config.http.port).toBe(0);
    expect(config.connectors.tax).toEqual({ url: 'http://10.1.2.3:8080/TaxService' });
    expect(config.connectors['social-security']).toEqual({ baseUrl: 'http://10.1.2.4/api', apiKey: 'k' });
    expect(config.connectors['real-estate']).toEqual({ url: 'postgres://reader@10.1.2.5/exchange' });
    expect(config.connectors['market-regulation']).toEqual({ baseUrl: 'http://10.1.2.6' });
    expect(warnings).toContain('DATARUN_TAX_URL is deprecated: set DATARUN_CONNECTORS__TAX__URL instead (or connectors.tax.url in the configuration file)');
    expect(warnings).toHaveLength(4);
  });

  it('derives every connector\'s variables from its settings schema (one pattern, no list per connector)', () => {
    for (const { module } of discoverConnectorModules()) {
      for (const key of Object.keys(module.settings.shape)) {
        expect(connectorEnvName(module.id, key)).toMatch(/^DATARUN_CONNECTORS__[A-Z0-9_]+__[A-Z0-9_]+$/);
      }
    }
    expect(connectorEnvName('social-security', 'baseUrl')).toBe('DATARUN_CONNECTORS__SOCIAL_SECURITY__BASE_URL');
  });

  it('refuses a variable that is not a number written in decimal, rather than reading 0x10 as port 16', () => {
    for (const raw of ['x', '0x10', '1e3', 'Infinity', '4_000', '40 00']) {
      expect(() => loadConfig({ env: { DATARUN_PORT: raw } })).toThrow(`Invalid environment: DATARUN_PORT must be a decimal number (such as 4000 or 0.5), but got: ${JSON.stringify(raw)}`);
    }
    expect(loadConfig({ env: { DATARUN_PORT: ' 4100 ', DATARUN_TRACE_SAMPLE_RATIO: '.25' } })).toMatchObject({ http: { port: 4100 }, tracing: { sampleRatio: 0.25 } });
  });

  it('names a configuration file it cannot read', () => {
    expect(() => loadConfig({ file: '/nonexistent/datarun.json', env: {} })).toThrow(/^Cannot read configuration file \/nonexistent\/datarun.json/);
  });
});

describe('the access log in the signed mode', () => {
  it('refuses to start a signed hub with the access log off, naming both settings', () => {
    expect(() => parseConfig({ audit: { enabled: false } })).toThrow(ConfigError);
    expect(() => parseConfig({ security: { mode: 'signed' }, audit: { enabled: false } })).toThrow(/audit\.enabled.*audit\.benchmarkOnlyDisable: true/);
  });

  it('starts it with audit.benchmarkOnlyDisable, and an open hub without the log anyway', () => {
    expect(parseConfig({ audit: { enabled: false, benchmarkOnlyDisable: true } }).audit).toMatchObject({ enabled: false, benchmarkOnlyDisable: true });
    expect(parseConfig({ security: { mode: 'open' }, audit: { enabled: false } }).audit.enabled).toBe(false);
    expect(parseConfig({}).audit).toMatchObject({ enabled: true, benchmarkOnlyDisable: false });
  });

  it('takes both from DATARUN_AUDIT_ENABLED and DATARUN_AUDIT_BENCHMARK_ONLY_DISABLE', () => {
    expect(() => loadConfig({ env: { DATARUN_AUDIT_ENABLED: 'false' } })).toThrow(/audit\.benchmarkOnlyDisable/);
    const config = loadConfig({ env: { DATARUN_AUDIT_ENABLED: 'false', DATARUN_AUDIT_BENCHMARK_ONLY_DISABLE: 'true' } });
    expect(config.audit).toMatchObject({ enabled: false, benchmarkOnlyDisable: true });
  });

  it('reads every switch of the environment as true/1/yes/on or false/0/no/off, and refuses any other word', () => {
    const switches = [
      ['DATARUN_AUDIT_FSYNC', (c: ReturnType<typeof loadConfig>) => c.audit.fsync],
      ['DATARUN_CACHE_ENABLED', (c: ReturnType<typeof loadConfig>) => c.cache.enabled],
      ['DATARUN_AUDIT_ENABLED', (c: ReturnType<typeof loadConfig>) => c.audit.enabled],
    ] as const;
    // The log may be off only with the benchmark's explicit switch beside it.
    const base = { DATARUN_AUDIT_BENCHMARK_ONLY_DISABLE: 'On' };
    for (const [name, read] of switches) {
      for (const word of ['true', '1', 'YES', ' on ']) expect([name, word, read(loadConfig({ env: { ...base, [name]: word } }))]).toEqual([name, word, true]);
      for (const word of ['false', '0', 'No', 'OFF']) expect([name, word, read(loadConfig({ env: { ...base, [name]: word } }))]).toEqual([name, word, false]);
      // Unset or empty: the default.
      expect(read(loadConfig({ env: { ...base, [name]: '' } }))).toBe(true);
      // Before, anything but "false" or "0" read as true: "disabled" kept the log on, without a word.
      for (const word of ['maybe', 'disabled', 'nein', '2']) {
        expect(() => loadConfig({ env: { ...base, [name]: word } })).toThrow(`Invalid environment: ${name} must be true or false (also 1/0, yes/no, on/off), but got: ${JSON.stringify(word)}`);
      }
    }
    expect(() => loadConfig({ env: { DATARUN_AUDIT_BENCHMARK_ONLY_DISABLE: 'sure' } })).toThrow(/DATARUN_AUDIT_BENCHMARK_ONLY_DISABLE must be true or false/);
  });
});

describe('trusted proxies', () => {
  it('are none unless configured', () => {
    expect(parseConfig({}).trustedProxies).toEqual([]);
  });

  it('take IPv4 and IPv6 CIDRs and single addresses, from the file or DATARUN_TRUSTED_PROXIES', () => {
    expect(parseConfig({ trustedProxies: ['10.0.0.0/8', 'fd00::/8', '192.0.2.1'] }).trustedProxies).toEqual(['10.0.0.0/8', 'fd00::/8', '192.0.2.1']);
    expect(loadConfig({ env: { DATARUN_TRUSTED_PROXIES: '10.0.0.0/8, ::1/128' } }).trustedProxies).toEqual(['10.0.0.0/8', '::1/128']);
    expect(loadConfig({ env: { DATARUN_TRUSTED_PROXIES: '10.0.0.0/8' }, overrides: { trustedProxies: ['172.16.0.0/12'] } }).trustedProxies).toEqual(['172.16.0.0/12']);
  });

  it('refuse a malformed entry, naming it', () => {
    expect(() => parseConfig({ trustedProxies: ['10.0.0.0/8', '10.0.0.0/33'] })).toThrow(/trustedProxies\.1: expected a CIDR/);
    expect(() => parseConfig({ trustedProxies: ['proxy.example'] })).toThrow(/trustedProxies\.0/);
  });
});

describe('the operator listener', () => {
  it('is on loopback, on its own port, by default; any free port when the hub takes any free port', () => {
    expect(parseConfig({}).http.operator).toEqual({ host: '127.0.0.1', port: 4001 });
    expect(parseConfig({ http: { port: 0 } }).http.operator).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseConfig({ http: { port: 0, operator: { port: 9464 } } }).http.operator).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseConfig({ http: { operator: false } }).http.operator).toBe(false);
  });

  it('comes from DATARUN_OPERATOR_PORT and DATARUN_OPERATOR_HOST, or is switched off', () => {
    const load = (env: Record<string, string>) => loadConfig({ env, warn: () => undefined }).http.operator;
    expect(load({ DATARUN_OPERATOR_PORT: '9464', DATARUN_OPERATOR_HOST: '10.0.0.5' })).toEqual({ host: '10.0.0.5', port: 9464 });
    expect(load({ DATARUN_OPERATOR_PORT: '0' })).toEqual({ host: '127.0.0.1', port: 0 });
    expect(load({ DATARUN_OPERATOR_PORT: 'off' })).toBe(false);
    expect(() => load({ DATARUN_OPERATOR_PORT: 'nine' })).toThrow(/DATARUN_OPERATOR_PORT must be a decimal number/);
  });

  it('refuses a bad setting or the hub\'s own port, naming the setting', () => {
    expect(() => parseConfig({ http: { operator: { port: 70000 } } })).toThrow(/http\.operator/);
    expect(() => parseConfig({ http: { operator: true } })).toThrow(/http\.operator/);
    expect(() => parseConfig({ http: { port: 5000, operator: { port: 5000 } } })).toThrow(/http\.operator\.port: the operator listener needs its own port/);
  });
});

describe('the webhooks\' takeover time', () => {
  it('is 30 s unless configured, and whole seconds from 1 to 3600 from the file', () => {
    expect(parseConfig({}).webhooks.takeoverSeconds).toBe(30);
    expect(parseConfig({ webhooks: { takeoverSeconds: 2 } }).webhooks.takeoverSeconds).toBe(2);
    expect(parseConfig({ webhooks: { takeoverSeconds: 3600 } }).webhooks).toMatchObject({ takeoverSeconds: 3600, maxAttempts: 12, timeoutMs: 10_000 });
  });

  it('refuses a value that is not whole seconds in range, naming the setting', () => {
    for (const bad of [0, -5, 1.5, 3601, '30', null, Number.NaN]) {
      expect(() => parseConfig({ webhooks: { takeoverSeconds: bad } })).toThrow(ConfigError);
      expect(() => parseConfig({ webhooks: { takeoverSeconds: bad } })).toThrow(/webhooks\.takeoverSeconds: /);
    }
  });

  it('is read from the configuration file like the other webhooks settings', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'datarun-config-'));
    try {
      const file = path.join(dir, 'datarun.json');
      writeFileSync(file, JSON.stringify({ webhooks: { takeoverSeconds: 5 } }));
      expect(loadConfig({ file, env: {} }).webhooks.takeoverSeconds).toBe(5);
      writeFileSync(file, JSON.stringify({ webhooks: { takeoverSeconds: 0 } }));
      expect(() => loadConfig({ file, env: {} })).toThrow(/webhooks\.takeoverSeconds: Too small/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the heap growth of the serving process', () => {
  it('is 100 % unless configured; 0 (V8\'s own) or 10 to 400 from the file or DATARUN_HEAP_GROWTH_PERCENT', () => {
    expect(parseConfig({}).memory).toEqual({ heapGrowthPercent: DEFAULT_HEAP_GROWTH_PERCENT });
    expect(DEFAULT_HEAP_GROWTH_PERCENT).toBe(100);
    expect(parseConfig({ memory: { heapGrowthPercent: 0 } }).memory.heapGrowthPercent).toBe(0);
    expect(parseConfig({ memory: { heapGrowthPercent: 400 } }).memory.heapGrowthPercent).toBe(400);
    expect(loadConfig({ env: { DATARUN_HEAP_GROWTH_PERCENT: '150' } }).memory.heapGrowthPercent).toBe(150);
    expect(loadConfig({ env: { DATARUN_HEAP_GROWTH_PERCENT: '' } }).memory.heapGrowthPercent).toBe(DEFAULT_HEAP_GROWTH_PERCENT);
  });

  it('refuses a value out of range or not whole, naming the setting or the variable', () => {
    for (const bad of [-1, 5, 9, 401, 12.5, '50', null]) {
      expect(() => parseConfig({ memory: { heapGrowthPercent: bad } })).toThrow(/memory\.heapGrowthPercent: /);
    }
    expect(() => parseConfig({ memory: { heapGrowthPercent: 5 } })).toThrow(/0 \(V8's own heuristics\) or 10 to 400/);
    expect(() => parseConfig({ memory: { heapGrowth: 50 } })).toThrow(/memory/);
    expect(() => loadConfig({ env: { DATARUN_HEAP_GROWTH_PERCENT: 'half' } })).toThrow(/DATARUN_HEAP_GROWTH_PERCENT must be a decimal number/);
    expect(() => loadConfig({ env: { DATARUN_HEAP_GROWTH_PERCENT: '1000' } })).toThrow(/memory\.heapGrowthPercent: /);
  });
});
