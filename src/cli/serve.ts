import pino from 'pino';
import { generateSeed, sandboxNames, sandboxSetControl, startSandboxes, type SandboxSet } from '../../departments';
import { ConfigError, connectorEnvName, createGateway, loadConfig, modulesOfConfig, type DepartmentEndpoints } from '../gateway';
import { startHubServer } from '../http';
import { applyHeapGrowth } from './heap';
import { explorerExamples, PROPERTY_TRANSFER_QUERY, propertyTransferExample } from './examples';

/** `datarun serve`: the hub on its configuration, with embedded sandboxes for departments that have no URL. */
export async function runServe(options: { config?: string; port?: number; host?: string }): Promise<void> {
  const config = loadConfig({
    ...(options.config ? { file: options.config } : {}),
    overrides: { http: { ...(options.port !== undefined ? { port: options.port } : {}), ...(options.host ? { host: options.host } : {}) } },
  });
  const logger = pino({ name: 'datarun', level: config.logLevel });
  // Before the sandboxes and the gateway allocate: the whole process's heap grows by this factor.
  logger.info(applyHeapGrowth(config.memory.heapGrowthPercent), 'heap growth');
  // Every connector found runs, on its configured department system or else on its embedded sandbox.
  const found = modulesOfConfig(config);
  const active = found.filter((m) => config.connectors[m.id]?.enabled !== false);
  const configured = active.filter((m) => config.connectors[m.id]);
  const missing = active.filter((m) => !config.connectors[m.id]).map((m) => m.id);
  const withoutSandbox = missing.filter((id) => !config.sandbox.enabled || !sandboxNames().includes(id));
  if (withoutSandbox.length > 0) {
    throw new ConfigError(
      `Invalid configuration:\n${withoutSandbox.map((id) => `  - connectors.${id}: not configured${config.sandbox.enabled ? ' and there is no sandbox for it' : ' and sandbox.enabled is false'}: set its settings (${connectorEnvName(id, Object.keys(found.find((m) => m.id === id)!.settings.shape)[0] ?? 'url')}=…) or connectors.${id}.enabled: false`).join('\n')}`,
    );
  }
  let sandboxes: SandboxSet | undefined;
  if (missing.length > 0) {
    const { seed, size, city } = config.sandbox;
    const data = generateSeed({ seed, size, ...(city ? { city } : {}) });
    sandboxes = await startSandboxes(data, { only: missing });
    logger.info({ departments: missing, seed, size, ...(city ? { city } : {}) }, 'embedded sandbox departments started');
  }
  const endpoints: DepartmentEndpoints = Object.fromEntries(active.map((m) => [m.id, config.connectors[m.id] ?? sandboxes!.endpoints[m.id]!]));
  const gateway = await createGateway(config, endpoints, {
    modules: found,
    sandboxes: missing,
    onEvent: (event) => {
      if (event.type === 'redis-ready' || event.type === 'audit-reopened' || event.type === 'invalidated' || event.type === 'index-caught-up') logger.info({ event }, 'shared state');
      else logger.warn({ event }, 'shared state');
    },
    onAuditEvent: (event) => logger.warn({ event }, 'access log'),
    logger,
  });
  if (gateway.security === 'open') logger.warn('security.mode is "open": requests are not authenticated nor checked against the sharing policy (sandbox demo only)');
  const hub = await startHubServer({
    gateway,
    logger,
    ...config.http,
    // The explorer's tabs hold the seed's worked queries only when every department is a sandbox (the seed is theirs).
    ...(sandboxes && configured.length === 0 && gateway.security === 'open' ? { explorerExamples: explorerExamples(sandboxes.data) } : {}),
    ...(sandboxes ? { extraRoutes: sandboxSetControl(sandboxes, { external: configured.map((m) => m.id) }) } : {}),
  });
  logger.info({ url: hub.url, ...(hub.operatorUrl ? { operatorUrl: hub.operatorUrl } : {}) }, 'hub listening');

  const lines = [`datarun hub ready at ${hub.url}/graphql`];
  lines.push(
    hub.operatorUrl
      ? `  operator routes at ${hub.operatorUrl} (/metrics, /readyz, /__sandbox/*: no authentication, keep it on loopback or a management network)`
      : '  operator routes: no operator listener (http.operator is false); /metrics and /readyz detail answer an admin\'s signed request on the hub\'s port',
  );
  lines.push(`  departments: ${active.map((m) => `${m.id} (${config.connectors[m.id] ? 'configured' : 'embedded sandbox'})`).join(', ')}`);
  lines.push(
    gateway.state.mode === 'memory'
      ? `  state: ${gateway.state.description}; record cache ${config.cache.enabled ? 'on' : 'off'}`
      : `  state: shared in ${gateway.state.description} (instance "${config.audit.instanceId}"${gateway.state.health().ok ? '' : ', not reachable yet: signed requests are refused until it is'}); record cache ${config.cache.enabled ? 'on' : 'off'}`,
  );
  if (gateway.tracing) lines.push(`  tracing: spans to ${gateway.tracing.endpoint} (sample ratio ${config.tracing.sampleRatio}; docs/tracing.md)`);
  if (sandboxes && gateway.security === 'signed') {
    const port = new URL(hub.url).port;
    const hubOption = port === '4000' ? '' : ` --hub ${hub.url}`;
    lines.push(
      '  every request is signed by a registered consumer; the demo consumers\' keys are in keys/private/. Try:',
      `  ./bin/datarun query --example property-transfer${hubOption}     # as the registration centre, seals and receipt verified`,
      `  ./bin/datarun query --example living-allowance${hubOption}      # as civil affairs, with the family's consent`,
      `  ./bin/datarun query --example living-allowance-fund${hubOption} # the same with the housing provident fund`,
    );
  } else if (sandboxes) {
    const variables = propertyTransferExample(sandboxes.data);
    const body = JSON.stringify({ query: PROPERTY_TRANSFER_QUERY.replace(/\s+/g, ' ').trim(), variables });
    lines.push(`  explorer (GraphiQL, the worked queries in its tabs): ${hub.url}/`, '  try the property-transfer query:', `  curl -s ${hub.url}/graphql -H 'content-type: application/json' -d '${body}'`);
  }
  const control = hub.operatorUrl ?? hub.url;
  if (sandboxes) lines.push(`  sandbox calls: curl -s ${control}/__sandbox/calls   faults: curl -s -XPOST ${control}/__sandbox/faults/${missing[0]} -d '{"mode":"down"}'`);
  if (gateway.audit && gateway.state.mode !== 'memory') lines.push('  access log: each instance\'s chain in Redis, archived to ' + config.audit.dir + '; accessLog and dataAccesses over all instances from the shared index in PostgreSQL');
  if (gateway.audit && gateway.state.mode === 'memory') lines.push(`  access log: ${config.audit.dir} (./bin/datarun audit verify)`);
  else if (gateway.audit) lines.push(`  access log: this instance's chain in a Redis stream, archived to ${config.audit.dir}/<instance> (./bin/datarun audit verify --dir ${config.audit.dir}/${config.audit.instanceId})`);
  // The hub's own handlers are the only ones, installed before the hub says it is ready (a
  // supervisor may signal as soon as it reads that line): nothing it loads installs termination handlers
  // (an embedded Apollo Server would, unless stopOnTerminationSignals: false).
  let stopping = false;
  const stop = (signal: string): void => {
    // Repeated signals (a terminal's Ctrl-C reaches npm and the hub, and npm forwards it again) change nothing.
    if (stopping) {
      logger.info({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    logger.info({ signal, drainMs: config.http.shutdownGraceMs }, 'shutting down: no new requests, in-flight ones finish');
    // A shutdown that hangs (a stuck department pool) still ends, with a failure code.
    setTimeout(() => {
      logger.error('shutdown did not finish in time');
      process.exit(1);
    }, config.http.shutdownGraceMs + 30_000).unref();
    void (async () => {
      try {
        await hub.close();
        // Closing the log signs a final tree head over its last record and releases its lock.
        await gateway.stop();
        await sandboxes?.close();
        logger.info('stopped');
        process.exit(0);
      } catch (error) {
        logger.error({ err: { name: (error as Error)?.name, code: (error as { code?: string })?.code } }, 'shutdown failed');
        process.exit(1);
      }
    })();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  process.stdout.write(lines.join('\n') + '\n');
}
