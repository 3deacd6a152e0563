import { generateSeed, sandboxNames, startSandbox } from '../../departments';

/** `datarun sandbox <name>`: one department system as its own process, until SIGINT/SIGTERM. */
export async function runSandbox(
  name: string,
  options: { port: number; host: string; seed: number; size: number; latency: number; fault: 'none' | 'down' | 'slow' | 'malformed'; errorRate: number; databaseUrl?: string },
): Promise<void> {
  if (!sandboxNames().includes(name)) {
    throw new Error(`unknown sandbox "${name}": expected one of ${sandboxNames().join(', ')}`);
  }
  const started = performance.now();
  const data = generateSeed({ seed: options.seed, size: options.size });
  const sandbox = await startSandbox(name, data, { port: options.port, host: options.host, ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}) });
  sandbox.control.setFaults({ latencyMs: options.latency, mode: options.fault, errorRate: options.errorRate });
  process.stdout.write(
    `sandbox ${name} listening at ${sandbox.url} (seed ${options.seed}, ${options.size} persons, ready in ${Math.round(performance.now() - started)} ms)\n` +
      (!sandbox.url.startsWith('http') ? '' : `  control: GET ${new URL('/__sandbox/calls', sandbox.url).href}, POST /__sandbox/faults {"mode":"down"}, POST /__sandbox/reset\n`),
  );
  const stop = (): void => {
    void sandbox.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
