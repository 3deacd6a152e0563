#!/usr/bin/env node
/**
 * The `datarun` command: serve the hub, run a sandbox department system. Exit codes are CLI_EXIT
 * (src/sdk/error-codes.ts): a usage error (commander's, an unreadable file) exits 2, a coded error
 * its registry entry's `cliExitCode`, anything else 1.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_AUDIT_DIR, DEFAULT_KEYS_DIR } from '../gateway';
import { checkExportArguments, runAuditConsistency, runAuditExport, runAuditExportAll, runAuditProve, runAuditVerify, runAuditVerifyExport } from './audit';
import { runConsoleLogin } from './console';
import { fromEnv } from './env-default';
import { exitCodeOfError } from './exit';
import { runFederationSnapshot } from './federation';
import { configuredDepartments, runKeysFederationRoot, runKeysInit, runKeysRevoke, runKeysRotate } from './keys';
import { runQuery } from './query';
import { runSandbox } from './sandbox';
import { runServe } from './serve';
import { runVerify } from './verify';

function integer(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** The examples' sandbox seed and size, parsed alike from an option and from its variable. */
const sandboxSeed = integer('seed', 0, 2 ** 31 - 1);
const sandboxSize = integer('size', 10, 2_000_000);

function fraction(raw: string): number {
  const n = Number(raw);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

/** The package's version, from its package.json (also when run from dist/). */
/** Resolves at the first SIGINT or SIGTERM (`datarun demo --keep-running`), then lets later ones act as usual. */
function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function packageVersion(): string {
  const file = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../package.json' : '../../package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

// A reader that stops early (`datarun verify … | head`) closes the pipe: the rest of the output
// has nowhere to go, which is not a failure of the command. It finishes, quietly, with its own exit code.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

const program = new Command('datarun')
  .description('A GraphQL data-sharing hub for government departments')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError()
  // Commander's errors are thrown (every subcommand inherits this) and exit 2 below, not 1.
  .exitOverride();

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
  .command('demo')
  .description('run a worked scenario end to end on hubs of its own (embedded sandboxes, temporary keys and logs), every step checked')
  .argument('[scenario]', 'enterprise-startup: 企业开办一链办理 and 审管联动 (webhook, subscription, case claimed and reported, the audit trail); cross-city: 跨域通办 (two cities\' hubs, a property transfer at Tai\'an with a seller registered in Heze)', 'enterprise-startup')
  .option('--size <persons>', 'persons in the sandbox seed (each city\'s, for cross-city)', integer('size', 10, 100_000), 200)
  .option('--keep', 'keep the temporary directory (keys, access logs, cases) and print where it is')
  .option('--keys <dir>', 'cross-city: the two hubs\' keys directories under this one (heze/, taian/), made when missing and kept')
  .option('--keep-running', 'cross-city: leave both hubs up after the story, with their URLs, until Ctrl-C')
  .action(async (scenario: string, o: { size: number; keep?: boolean; keys?: string; keepRunning?: boolean }) => {
    // Loaded on use: the other commands do not pay for the hub and the sandboxes.
    const { runDemo } = await import('./demo');
    process.exitCode = await runDemo({
      scenario,
      size: o.size,
      ...(o.keep ? { keep: true } : {}),
      ...(o.keys !== undefined ? { keysDir: o.keys } : {}),
      ...(o.keepRunning ? { keepRunning: untilStopped } : {}),
    });
  });

program
  .command('sandbox')
  .description('run one sandbox department system as its own process')
  .argument('<name>', 'a registered sandbox: the id of the connector it stands in for (an unknown name lists them)')
  .option('-p, --port <port>', 'port (0 = any free port)', integer('port', 0, 65535), 0)
  .option('--host <host>', 'host to listen on', '127.0.0.1')
  .option('--seed <seed>', 'seed of the generator', integer('seed', 0, 2 ** 31 - 1), 1)
  .option('--size <persons>', 'persons to generate', integer('size', 10, 2_000_000), 200)
  .option('--latency <ms>', 'latency added to every call', integer('latency', 0, 600_000), 0)
  .addOption(new Option('--fault <mode>', 'fault to inject').choices(['none', 'down', 'slow', 'malformed']).default('none'))
  .option('--error-rate <fraction>', 'fraction of calls answered with an error', fraction, 0)
  .option('--database-url <url>', 'for a sandbox with a database of its own: load into this PostgreSQL instead of the embedded engine')
  .action(async (name: string, options: Parameters<typeof runSandbox>[1]) => {
    await runSandbox(name, options);
  });

program
  .command('connector')
  .description('write connectors for the hub')
  .command('new')
  .description('write the skeleton of a connector folder: module, SDL, README, conformance test (imports only datarun/sdk and datarun/testing)')
  .argument('<id>', 'kebab-case connector id, e.g. water-utility')
  .option('--dir <folder>', 'the folder the connector folder is made in', 'connectors')
  .option('--title <name>', 'the department\'s name (default: from the id)')
  .action(async (id: string, o: { dir: string; title?: string }) => {
    const { runConnectorNew } = await import('./connector');
    runConnectorNew({ id, dir: o.dir, ...(o.title !== undefined ? { title: o.title } : {}) });
  });

const keysDir = (): string => process.env.DATARUN_KEYS_DIR ?? DEFAULT_KEYS_DIR;

const keys = program.command('keys').description('manage the JWK sets: hub, department seal keys, consumers');
keys
  .command('init')
  .description('create the keys that are missing (never overwrites one), registering every department the configuration runs, and list them')
  .option('--dir <dir>', 'keys directory (default: $DATARUN_KEYS_DIR or keys/)')
  .option('-c, --config <file>', 'configuration file whose departments to register (default: $DATARUN_CONFIG)')
  .action(async (o: { dir?: string; config?: string }) => runKeysInit({ dir: o.dir ?? keysDir(), departments: configuredDepartments(o.config) }));
keys
  .command('rotate')
  .description('a new key signs from now on; the old one keeps verifying until it expires')
  .argument('<owner>', 'hub id, department or consumer')
  .option('--use <use>', 'seal | receipt | checkpoint | request')
  .option('--alg <alg>', 'ES256 | ES384 | EdDSA')
  .option('--retain-days <days>', 'how long the old key keeps verifying', integer('retain-days', 0, 3650))
  .option('--dir <dir>', 'keys directory')
  .action(async (owner: string, o: { use?: 'seal' | 'receipt' | 'checkpoint' | 'request'; alg?: string; retainDays?: number; dir?: string }) =>
    runKeysRotate({ dir: o.dir ?? keysDir(), owner, ...(o.use ? { use: o.use } : {}), ...(o.alg ? { alg: o.alg } : {}), ...(o.retainDays !== undefined ? { retainDays: o.retainDays } : {}) }),
  );
keys
  .command('federation-root')
  .description('print the hub\'s federation root key as JSON { hub, alg, jwk, thumbprint, createdAt }, for a peer hub\'s operator to pin')
  .option('--dir <dir>', 'keys directory')
  .action(async (o: { dir?: string }) => runKeysFederationRoot({ dir: o.dir ?? keysDir() }));
keys
  .command('revoke')
  .description('a revoked key verifies nothing signed after the revocation time')
  .argument('<kid>', 'key id')
  .option('--at <time>', 'ISO 8601 revocation time (default: now)')
  .option('--dir <dir>', 'keys directory')
  .action(async (kid: string, o: { at?: string; dir?: string }) => runKeysRevoke({ dir: o.dir ?? keysDir(), kid, ...(o.at ? { at: o.at } : {}) }));

program
  .command('verify')
  .description('verify a seal (SD-JWT), a receipt, a checkpoint or a proof (dc+sd-jwt, or a QR payload DRP1:…) against a JWKS file or URL')
  .argument('<token>', 'the token, @file, or - for stdin')
  .option('--jwks <file|url>', 'JWKS: keys/jwks.json or https://hub/.well-known/jwks.json')
  .option('--peer <file|url>', 'instead of --jwks: a peer hub\'s signed JWKS statement, a file or https://peer-hub (docs/federation.md)')
  .option('--root <thumbprint|file>', 'with --peer: the peer\'s pinned federation root (its thumbprint, or the JSON of `datarun keys federation-root`)')
  .option('--peer-hub <id>', 'with --peer: the peer\'s hub id (default: the root file\'s hub)')
  .option('--allow-expired', 'with --peer: accept a statement past its expiry (the keys the peer published then)')
  .option('--show-values', 'print the disclosed values of a seal')
  .option('--offline', 'a proof: do not fetch its status list (the status is reported unchecked)')
  .option('--nonce <nonce>', 'a bound proof: the nonce you gave the holder')
  .option('--aud <id>', 'a bound proof: your verifier id, the audience of the key binding JWT')
  .action(async (token: string, o: { jwks?: string; peer?: string; root?: string; peerHub?: string; allowExpired?: boolean; showValues?: boolean; offline?: boolean; nonce?: string; aud?: string }) => {
    process.exitCode = await runVerify({
      token,
      ...(o.jwks !== undefined ? { jwks: o.jwks } : {}),
      ...(o.peer !== undefined ? { peer: o.peer } : {}),
      ...(o.root !== undefined ? { root: o.root } : {}),
      ...(o.peerHub !== undefined ? { peerHub: o.peerHub } : {}),
      allowExpired: o.allowExpired ?? false,
      showValues: o.showValues ?? false,
      offline: o.offline ?? false,
      ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
      ...(o.aud !== undefined ? { aud: o.aud } : {}),
    });
  });

program
  .command('query')
  .description('sign a query as a registered consumer, print the reply, and verify its receipt and seals')
  .argument('[query]', 'the query, or @file')
  .option('--example <name>', 'property-transfer | living-allowance | living-allowance-fund (variables from the sandbox seed)')
  .option('--as <consumer>', 'the consumer to sign as (its key from the keys directory)')
  .option('--purpose <code>', '事由: the purpose code')
  .option('--case <number>', '办件编号: the case number')
  .option('--operator <name>', '经办人: the operator')
  .option('--variables <json>', 'variables as a JSON object')
  .option('--consent-for <ids...>', 'add one-time consents for these citizen identity numbers, signed as the citizen identity platform (demo keys)')
  .option('--hub <url>', 'hub base URL', process.env.DATARUN_HUB_URL ?? 'http://127.0.0.1:4000')
  .option('--seed <seed>', 'sandbox seed of the examples (default: DATARUN_SANDBOX_SEED, else 1)', sandboxSeed)
  .option('--size <persons>', 'sandbox size of the examples (default: DATARUN_SANDBOX_SIZE, else 200)', sandboxSize)
  .option('--city <city>', 'sandbox city of the examples (taian or heze: the hub\'s DATARUN_SANDBOX_CITY)', process.env.DATARUN_SANDBOX_CITY || undefined)
  .action(async (query: string | undefined, o: { example?: 'property-transfer' | 'living-allowance' | 'living-allowance-fund'; as?: string; purpose?: string; case?: string; operator?: string; variables?: string; consentFor?: string[]; hub: string; seed?: number; size?: number; city?: string }) => {
    const seed = o.seed ?? fromEnv('DATARUN_SANDBOX_SEED', sandboxSeed, 1)();
    const size = o.size ?? fromEnv('DATARUN_SANDBOX_SIZE', sandboxSize, 200)();
    process.exitCode = await runQuery({ ...o, seed, size, keysDir: keysDir(), ...(query ? { query } : {}) });
  });

const proof = program.command('proof').description('proof documents 无证明: have the hub issue one');
proof
  .command('issue')
  .description('have the hub issue a proof document for a person (--id) or an enterprise (--code), with the person\'s consent (demo keys); the SD-JWT VC on stdout, what it says on stderr')
  .requiredOption('--kind <kind>', 'NO_TAX_ARREARS | PROPERTY_RECORD | NO_PROPERTY | SOCIAL_INSURANCE_CONTRIBUTIONS | ENTERPRISE_REGISTRATION')
  .option('--id <idNumber>', 'the person: citizen identity number')
  .option('--code <creditCode>', 'the enterprise: unified social credit code')
  .option('--holder-key <file>', 'bind the proof to this public JWK (the holder presents it with a key-binding JWT)')
  .option('--as <consumer>', 'the consumer signing the request', 'one-window-hall')
  .option('--purpose <code>', '事由', 'PROOF_ISSUANCE')
  .option('--case <number>', '办件编号', 'WZM-DEMO-0001')
  .option('--operator <name>', '经办人', 'hall-001')
  .option('--out <file>', 'write the token to this file instead of stdout')
  .option('--hub <url>', 'hub base URL', process.env.DATARUN_HUB_URL ?? 'http://127.0.0.1:4000')
  .action(async (o: { kind: string; id?: string; code?: string; holderKey?: string; as: string; purpose: string; case: string; operator: string; out?: string; hub: string }) => {
    const { runProofIssue } = await import('./proof');
    process.exitCode = await runProofIssue({
      hub: o.hub,
      keysDir: keysDir(),
      kind: o.kind,
      ...(o.id !== undefined ? { idNumber: o.id } : {}),
      ...(o.code !== undefined ? { creditCode: o.code } : {}),
      ...(o.holderKey ? { holderKey: o.holderKey } : {}),
      as: o.as,
      purpose: o.purpose,
      case: o.case,
      operator: o.operator,
      ...(o.out ? { out: o.out } : {}),
    });
  });

const audit = program.command('audit').description('the access log: verify it, prove records in it, export records');
const auditDir = (dir?: string) => dir ?? process.env.DATARUN_AUDIT_DIR ?? DEFAULT_AUDIT_DIR;

/** The head to check a log against: `--head` (a file, a URL such as /.well-known/audit-head, a head line or a JWS), else the copy in the keys directory. */
async function headFor(dir: string, option: string | undefined): Promise<{ head?: string; headSource?: string }> {
  const { readFile } = await import('node:fs/promises');
  const { auditHeadFile } = await import('../gateway');
  let instance: string | undefined;
  try {
    instance = (JSON.parse(await readFile(path.join(dir, 'chain.json'), 'utf8')) as { instance?: string }).instance;
  } catch {
    instance = undefined;
  }
  let text: string | undefined;
  let source = option;
  if (option === undefined) {
    if (!instance) return {};
    source = auditHeadFile(keysDir(), instance);
    text = await readFile(source, 'utf8').catch(() => undefined);
    if (text === undefined) return {};
  } else if (/^https?:\/\//.test(option)) {
    const res = await fetch(option);
    if (!res.ok) throw new InvalidArgumentError(`--head ${option} answered ${res.status}`);
    text = await res.text();
  } else if (option.trim().startsWith('{') || /^[\w-]+\.[\w-]+\.[\w-]+$/.test(option.trim())) {
    text = option;
    source = 'the command line';
  } else {
    text = await readFile(option, 'utf8');
  }
  // The published form lists every instance's newest head: take this log's.
  try {
    const published = JSON.parse(text) as { heads?: { instance?: string; jws?: string }[] };
    if (Array.isArray(published.heads)) {
      const mine = published.heads.find((h) => h.instance === instance);
      if (!mine?.jws) throw new InvalidArgumentError(`--head ${option}: no head of instance ${instance ?? '(unknown)'}`);
      text = mine.jws;
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
  }
  return { head: text, ...(source ? { headSource: source } : {}) };
}

async function verifierFor(jwks: string | undefined) {
  const { auditVerifier } = await import('../gateway');
  const { loadJwks, loadKeyStore } = await import('../seal');
  return jwks ? auditVerifier({ jwks: await loadJwks(jwks) }) : auditVerifier({ keyStore: await loadKeyStore(keysDir()) });
}

audit
  .command('verify')
  .description('check the records, the Merkle root of every signed tree head and the heads\' own chain; names the first bad record or the missing range')
  .option('--dir <dir>', 'log directory, or with --all the archive root (default: $DATARUN_AUDIT_DIR or .data/audit)')
  .option('--all', "every instance's chain under the archive root --dir, each verified on its own")
  .option('--from <seq>', 'first sequence number')
  .option('--to <seq>', 'last sequence number')
  .option('--head <file|url|jws>', 'also check against a signed head kept outside the log (a receipt\'s, a witness\'s, /.well-known/audit-head); default: the copy in the keys directory')
  .option('--jwks <file|url>', 'verify signatures against this JWKS instead of the local keys')
  .action(async (o: { dir?: string; all?: boolean; from?: string; to?: string; jwks?: string; head?: string }) => {
    const dir = auditDir(o.dir);
    const { exitCode } = await runAuditVerify({ dir, verify: await verifierFor(o.jwks), ...(o.all ? { all: true } : await headFor(dir, o.head)), ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) });
    process.exitCode = exitCode;
  });
audit
  .command('prove')
  .description('print a record\'s inclusion proof (RFC 9162) against the newest signed tree head, checked')
  .argument('<seq>', 'the record\'s sequence number')
  .option('--size <n>', 'prove against the tree of this many records (a head you hold)')
  .option('--dir <dir>', 'log directory')
  .option('--jwks <file|url>', 'verify the head against this JWKS instead of the local keys')
  .action(async (seq: string, o: { size?: string; dir?: string; jwks?: string }) => {
    const { auditSubjectSecret } = await import('../gateway');
    const { exitCode } = await runAuditProve({
      dir: auditDir(o.dir),
      seq,
      ...(o.size ? { size: o.size } : {}),
      verify: await verifierFor(o.jwks),
      subjectKeySecret: auditSubjectSecret(keysDir(), process.env.DATARUN_AUDIT_SUBJECT_SECRET),
    });
    process.exitCode = exitCode;
  });
audit
  .command('consistency')
  .description('print the consistency proof (RFC 9162) that the tree of <to> records extends the tree of <from>, checked')
  .argument('<from>', 'the earlier tree size')
  .argument('<to>', 'the later tree size')
  .option('--dir <dir>', 'log directory')
  .action(async (from: string, to: string, o: { dir?: string }) => {
    const { auditSubjectSecret } = await import('../gateway');
    const { exitCode } = await runAuditConsistency({ dir: auditDir(o.dir), from, to, subjectKeySecret: auditSubjectSecret(keysDir(), process.env.DATARUN_AUDIT_SUBJECT_SECRET) });
    process.exitCode = exitCode;
  });
audit
  .command('export')
  .description('verify the log, then write the records of a consumer, subject, case or time range, with a signed manifest')
  .requiredOption('--out <file>', 'output file')
  .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
  .option('--dir <dir>', 'log directory, or with --all the archive root')
  .option('--all', "every instance's chain under the archive root --dir, merged by time")
  .option('--consumer <id>')
  .option('--subject <subject>', 'KIND:id, or a citizen identity number')
  .option('--case <number>')
  .option('--from <time>', 'ISO 8601')
  .option('--to <time>', 'ISO 8601')
  .option('--head <file|url|jws>', 'also check the log against this signed head before export')
  .action(async (o: { out: string; format: 'jsonl' | 'csv'; dir?: string; all?: boolean; consumer?: string; subject?: string; case?: string; from?: string; to?: string; head?: string }) => {
    // A malformed subject or time is refused first, before keys or the log are read.
    checkExportArguments(o);
    const { auditSigner, auditSubjectSecret } = await import('../gateway');
    const { loadKeyStore } = await import('../seal');
    const keyStore = await loadKeyStore(keysDir());
    const { dir: given, head, all, ...filter } = o;
    const dir = auditDir(given);
    const { head: kept } = all ? { head: undefined } : await headFor(dir, head);
    const { exitCode } = await (all ? runAuditExportAll : runAuditExport)({
      ...filter,
      dir,
      sign: auditSigner(keyStore),
      verify: await verifierFor(undefined),
      ...(kept !== undefined ? { head: kept } : {}),
      subjectKeySecret: auditSubjectSecret(keysDir(), process.env.DATARUN_AUDIT_SUBJECT_SECRET),
    });
    process.exitCode = exitCode;
  });
audit
  .command('verify-export')
  .description('check an export against its signed manifest, offline')
  .argument('<file>', 'the export file (its manifest is <file>.manifest.json)')
  .option('--manifest <file>', 'the manifest, if elsewhere')
  .option('--jwks <file|url>', 'verify against this JWKS instead of the local keys')
  .action(async (file: string, o: { manifest?: string; jwks?: string }) => {
    const { exitCode } = await runAuditVerifyExport({ file, verify: await verifierFor(o.jwks), ...(o.manifest ? { manifest: o.manifest } : {}) });
    process.exitCode = exitCode;
  });
audit
  .command('new-chain')
  .description('start a new chain after the log was lost or damaged: the old directory is kept aside, and the new chain\'s first signed head records the break')
  .requiredOption('--reason <text>', 'why (kept in the signed head)')
  .option('--config <file>', 'configuration file')
  .action(async (o: { reason: string; config?: string }) => {
    const { runAuditNewChain } = await import('./audit-chain');
    process.exitCode = await runAuditNewChain({ reason: o.reason, ...(o.config ? { config: o.config } : {}) });
  });

audit
  .command('reindex')
  .description("fill the shared auditor index (PostgreSQL) from every instance's chain, in Redis and the archive (several instances)")
  .option('-c, --config <file>', 'JSON configuration file (default: $DATARUN_CONFIG)')
  .option('--rebuild', 'empty the index first, then index every chain from its first record')
  .action(async (o: { config?: string; rebuild?: boolean }) => {
    const { runAuditReindex } = await import('./audit-index');
    const { exitCode } = await runAuditReindex({ ...(o.config ? { config: o.config } : {}), ...(o.rebuild ? { rebuild: true } : {}) });
    process.exitCode = exitCode;
  });

const federation = program.command('federation').description('hubs serving each other 跨域通办 (docs/federation.md)');
federation
  .command('snapshot')
  .description('take a peer hub\'s graph for a connector of type "hub": fetch its operator route /federation/schema.graphql, check the SDL parses, write it')
  .argument('<operator-url>', 'the peer hub\'s operator listener (http://10.0.0.5:4001), or the route\'s own URL')
  .option('--out <file>', 'write the snapshot here (whole, or not at all) instead of to stdout; the connector\'s schemaFile')
  .option('--timeout <ms>', 'longest wait for the peer', integer('timeout', 1, 120_000))
  .action(async (operatorUrl: string, o: { out?: string; timeout?: number }) =>
    runFederationSnapshot({ operatorUrl, ...(o.out !== undefined ? { out: o.out } : {}), ...(o.timeout !== undefined ? { timeoutMs: o.timeout } : {}) }),
  );

const consoleCommand = program.command('console').description('the auditor console at /console');
consoleCommand
  .command('login')
  .description('sign a one-time console sign-in with a consumer\'s registered request key; prints the sign-in URL')
  .requiredOption('--consumer <id>', 'the consumer signing in (auditor, one-window-hall…)')
  .requiredOption('--key <file>', 'the consumer\'s private request key (JWK file)')
  .option('--hub <url>', 'hub base URL', process.env.DATARUN_HUB_URL ?? 'http://127.0.0.1:4000')
  .option('--operator <name>', '经办人: who signs in (default: the OS user name)')
  .option('--case <number>', '办件编号: the audit case the session serves')
  .option('--audience <hubId>', 'the hub\'s id, if not the default')
  .option('--lifetime <seconds>', 'how long the sign-in URL stays usable', integer('lifetime', 1, 120))
  .action((o: { consumer: string; key: string; hub: string; operator?: string; case?: string; audience?: string; lifetime?: number }) => {
    runConsoleLogin({ ...o, ...(o.lifetime !== undefined ? { lifetimeSec: o.lifetime } : {}) });
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  // Commander has printed its own message (and the help) already.
  if (!(error instanceof CommanderError)) process.stderr.write(`datarun: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(exitCodeOfError(error));
});
