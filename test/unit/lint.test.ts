/**
 * The module rules are enforced by ESLint (eslint.config.js): a planted forbidden import fails
 * lint, and the dependency table in the config is the one docs/architecture.md states.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '../..');
// The project's own configuration, handed over directly: ESLint loads config files with a dynamic
// import, which Jest's module sandbox does not allow. `npm run lint` reads the same file.
const config = require('../../eslint.config.js') as ESLint.Options['overrideConfig'] & { ALLOWED: Record<string, string[]>; STARTUP_FILES: string[] };
const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: config });

/** The messages ESLint reports for `text` as if it were the file `file` of the project. */
async function lint(file: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: path.join(root, file) });
  return result!.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('the module rules, as lint', () => {
  /** A planted file of the project, its text, and what lint must say of it. */
  const forbidden: [what: string, file: string, text: string, message: string][] = [
    ['an adapter that reaches past the gateway into the policy', 'src/http/planted.ts', "import { applyMasks } from '../policy';\nexport const planted = applyMasks;\n", 'src/http may not depend on src/policy'],
    ['a deep import past a module’s index.ts', 'src/http/planted.ts', "import { accessRecord } from '../gateway/audit';\nexport const planted = accessRecord;\n", 'import src/gateway through its index.ts'],
    ['the shared state importing the audit log', 'src/state/planted.ts', "import { openAuditLog } from '../audit';\nexport const planted = openAuditLog;\n", 'src/state may not depend on src/audit'],
    ['a connector that imports anything of the hub but the SDK', 'connectors/tax/planted.ts', "import { createGateway } from '../../src/gateway';\nexport const planted = createGateway;\n", 'connectors and sandboxes import only src/sdk'],
    ['a connector that imports a library outside its protocol set', 'connectors/tax/planted.ts', "import pino from 'pino';\nexport const planted = pino;\n", 'a connector imports only src/sdk'],
    ['ioredis outside src/state', 'src/gateway/planted.ts', "import { Redis } from 'ioredis';\nexport const planted = Redis;\n", 'ioredis is imported only in src/state'],
    ['node-jose outside src/seal', 'src/audit/planted.ts', "import jose from 'node-jose';\nexport const planted = jose;\n", 'node-jose is imported only in src/seal'],
    ['the OpenTelemetry SDK outside src/gateway', 'src/sdk/planted.ts', "import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';\nexport const planted = BasicTracerProvider;\n", '@opentelemetry/sdk-trace-base is imported only in src/gateway'],
    ['production code that imports the tests', 'src/gateway/planted.ts', "import { startTestHub } from '../../test/support/hub';\nexport const planted = startTestHub;\n", 'nothing outside test/ imports the tests'],
    ['a pipeline module that imports an HTTP server', 'src/gateway/pipeline/planted.ts', "import http from 'node:http';\nexport const planted = http;\n", 'the pipeline modules know no transport'],
    ['the policy importing an HTTP client module', 'src/policy/planted.ts', "import { request } from 'node:https';\nexport const planted = request;\n", 'the pipeline modules know no transport'],
    ['a default export', 'src/sdk/planted.ts', 'export default 1;\n', 'import-x/no-default-export'],
    ['a value import used only as a type', 'src/sdk/planted.ts', "import { HubError } from './errors';\nexport type Planted = HubError;\n", 'consistent-type-imports'],
    ['a bare Error thrown in src outside start-up code', 'src/gateway/planted.ts', "export function planted(): never {\n  throw new Error('x');\n}\n", 'throw a coded HubError subclass'],
    ['a bare TypeError thrown in src outside start-up code', 'src/state/planted.ts', "export function planted(): never {\n  throw new TypeError('x');\n}\n", 'throw a coded HubError subclass'],
  ];

  it.each(forbidden)('fails %s', async (_what, file, text, message) => {
    expect(await lint(file, text)).toEqual([expect.stringContaining(message)]);
  });

  it('accepts an allowed import through the index, and each library in its owner', async () => {
    expect(await lint('src/state/planted.ts', "import { Redis } from 'ioredis';\nexport const planted = Redis;\n")).toEqual([]);
    expect(await lint('src/http/planted.ts', "import { createGateway } from '../gateway';\nexport const planted = createGateway;\n")).toEqual([]);
    expect(await lint('src/http/planted.ts', "import http from 'node:http';\nexport const planted = http;\n")).toEqual([]);
    expect(await lint('src/audit/planted.ts', "import type { RedisStreams } from '../state';\nexport type Planted = RedisStreams;\n")).toEqual([]);
  });

  it('lets start-up code throw a bare Error, and every file throw a coded one', async () => {
    const bare = "export function planted(): never {\n  throw new Error('x');\n}\n";
    expect(config.STARTUP_FILES).toEqual(expect.arrayContaining(['src/cli/**/*.ts']));
    expect(await lint('src/cli/planted.ts', bare)).toEqual([]);
    expect(await lint('src/gateway/config.ts', bare)).toEqual([]);
    expect(await lint('connectors/tax/planted.ts', bare)).toEqual([]);
    expect(await lint('src/gateway/planted.ts', "import { HubError } from '../sdk';\nexport function planted(): never {\n  throw new HubError('INTERNAL_SERVER_ERROR', 'x');\n}\n")).toEqual([]);
  });

  it('states the same dependency table as docs/architecture.md', () => {
    const { ALLOWED } = config;
    const doc = readFileSync(path.join(root, 'docs/architecture.md'), 'utf8');
    const table = doc.slice(doc.indexOf('<!-- dependency-table -->'), doc.indexOf('<!-- /dependency-table -->'));
    const rows = Object.fromEntries(
      [...table.matchAll(/^\| `src\/([a-z]+)` \| ([^|]*) \|/gm)].map((m) => [m[1]!, [...m[2]!.matchAll(/`src\/([a-z]+)`/g)].map((d) => d[1]!).sort()]),
    );
    expect(rows).toEqual(Object.fromEntries(Object.entries(ALLOWED).map(([k, v]) => [k, [...v].sort()])));
  });
});
