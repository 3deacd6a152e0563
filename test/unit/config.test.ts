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
