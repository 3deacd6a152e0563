#!/usr/bin/env node
/** The `datarun` command: serve the hub, run a sandbox department system. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { runServe } from './serve';
import { runSandbox } from './sandbox';

function integer(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

function fraction(raw: string): number {
  const n = Number(raw);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

const program = new Command('datarun')
  .description('A GraphQL data-sharing hub for government departments')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the hub; departments without a configured URL are served by embedded sandboxes')
  .option('-c, --config <file>', 'JSON configuration file (default: $DATARUN_CONFIG)')
  .option('-p, --port <port>', 'HTTP port (0 = any free port)', integer('port', 0, 65535))
  .option('--host <host>', 'HTTP host to listen on')
  .action(async (options: { config?: string; port?: number; host?: string }) => {
    await runServe(options);
  });

program
  .command('sandbox')
  .description('run one sandbox department system as its own process')
  .argument('<name>', 'real-estate | social-security | tax | market-regulation')
  .option('-p, --port <port>', 'port (0 = any free port)', integer('port', 0, 65535), 0)
  .option('--host <host>', 'host to listen on', '127.0.0.1')
  .option('--seed <seed>', 'seed of the generator', integer('seed', 0, 2 ** 31 - 1), 1)
  .option('--size <persons>', 'persons to generate', integer('size', 10, 2_000_000), 200)
  .option('--latency <ms>', 'latency added to every call', integer('latency', 0, 600_000), 0)
  .addOption(new Option('--fault <mode>', 'fault to inject').choices(['none', 'down', 'slow', 'malformed']).default('none'))
  .option('--error-rate <fraction>', 'fraction of calls answered with an error', fraction, 0)
  .option('--database-url <url>', 'real-estate only: load into this PostgreSQL instead of the embedded engine')
  .action(async (name: string, options: Parameters<typeof runSandbox>[1]) => {
    await runSandbox(name, options);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`datarun: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
