/**
 * Row F (跨域通办): the five department sandboxes of one seed of the row (the serving city's, the
 * requesting city's, or the single hub's holding both) in one process, on loopback ports, until
 * SIGTERM/SIGINT. `node dist/bench/city-departments.js <role> <size> <seed> [<real-estate database URL>]`;
 * prints one line: `city departments <role> ready in <ms> ms: <JSON of the sandboxes' URLs by name>`.
 */
import { startSandbox, type Sandbox } from '../departments';
import { FEDERATION_ROLES, federationSeed, type FederationRole } from './lib/federation-seeds';

/** The departments of row F: the five of the hub's graph (the demo policy grants the housing fund's fields, so a hub needs it; the row's query asks none of them). */
export const FEDERATION_DEPARTMENTS = ['real-estate', 'social-security', 'tax', 'market-regulation', 'housing-fund'] as const;

async function main(): Promise<void> {
  const [role, sizeText, seedText, databaseUrl] = process.argv.slice(2);
  if (!FEDERATION_ROLES.includes(role as FederationRole)) throw new Error(`the role must be one of ${FEDERATION_ROLES.join(', ')}, but got: ${String(role)}`);
  const size = Number(sizeText);
  const seed = Number(seedText);
  if (!Number.isInteger(size) || size < 10) throw new Error(`the size must be an integer ≥ 10, but got: ${String(sizeText)}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`the seed must be an integer ≥ 0, but got: ${String(seedText)}`);
  const started = performance.now();
  const data = federationSeed(role as FederationRole, { seed, size });
  const sandboxes: Sandbox[] = [];
  const urls: Record<string, string> = {};
  try {
    for (const name of FEDERATION_DEPARTMENTS) {
      const sandbox = await startSandbox(name, data, name === 'real-estate' && databaseUrl ? { databaseUrl } : {});
      sandboxes.push(sandbox);
      urls[name] = sandbox.url;
    }
  } catch (error) {
    await Promise.allSettled(sandboxes.map((s) => s.close()));
    throw error;
  }
  process.stdout.write(`city departments ${role} ready in ${Math.round(performance.now() - started)} ms: ${JSON.stringify(urls)}\n`);
  const stop = (): void => {
    void Promise.allSettled(sandboxes.map((s) => s.close())).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`city departments: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
