import { ConfigError, loadConfig, parseConfig } from '../../src/gateway/config';

describe('configuration', () => {
  it('runs on embedded defaults when nothing is configured', () => {
    const config = parseConfig({});
    expect(config.http).toEqual({ host: '127.0.0.1', port: 4000, bodyLimitBytes: 1048576, shutdownGraceMs: 10000 });
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

  it('refuses unknown settings, naming them', () => {
    expect(() => parseConfig({ connectors: { taxes: {} } })).toThrow(/connectors: Unrecognized key.*taxes/);
  });

  it('requires every department URL when the sandboxes are off', () => {
    expect(() => parseConfig({ sandbox: { enabled: false }, connectors: { tax: { url: 'http://127.0.0.1:1/tax' } } })).toThrow(
      'connectors: real-estate, social-security, market-regulation need a URL when sandbox.enabled is false',
    );
  });

  it('takes department URLs and the port from DATARUN_* variables', () => {
    const config = loadConfig({
      env: {
        DATARUN_PORT: '0',
        DATARUN_TAX_URL: 'http://10.1.2.3:8080/TaxService',
        DATARUN_SOCIAL_SECURITY_URL: 'http://10.1.2.4/api',
        DATARUN_SOCIAL_SECURITY_API_KEY: 'k',
        DATARUN_REAL_ESTATE_URL: 'postgres://reader@10.1.2.5/exchange',
      },
    });
    expect(config.http.port).toBe(0);
    expect(config.connectors.tax).toEqual({ url: 'http://10.1.2.3:8080/TaxService' });
    expect(config.connectors['social-security']).toEqual({ baseUrl: 'http://10.1.2.4/api', apiKey: 'k' });
    expect(config.connectors['real-estate']).toEqual({ url: 'postgres://reader@10.1.2.5/exchange' });
  });

  it('refuses a variable that is not a number', () => {
    expect(() => loadConfig({ env: { DATARUN_PORT: 'x' } })).toThrow('Invalid environment: DATARUN_PORT must be a number, but got: "x"');
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
