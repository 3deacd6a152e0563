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
const config = require('../../eslint.config.js') as ESLint.Options['overrideConfig'] & { ALLOWED: Record<string, string[]> };
const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: config });

/** The messages ESLint reports for `text` as if it were the file `file` of the project. */
async function lint(file: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: path.join(root, file) });
  return result!.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('the module rules, as lint', () => {
  it('fails an adapter that reaches past the gateway into the policy', async () => {
    const messages = await lint('src/http/planted.ts', "import { applyMasks } from '../policy';\nexport const planted = applyMasks;\n");
    expect(messages).toEqual([expect.stringContaining('src/http may not depend on src/policy')]);
  });

  it('fails a deep import past a module’s index.ts', async () => {
    const messages = await lint('src/http/planted.ts', "import { accessRecord } from '../gateway/audit';\nexport const planted = accessRecord;\n");
    expect(messages).toEqual([expect.stringContaining('import src/gateway through its index.ts')]);
  });

  it('fails the shared state importing the audit log', async () => {
    const messages = await lint('src/state/planted.ts', "import { openAuditLog } from '../audit';\nexport const planted = openAuditLog;\n");
    expect(messages).toEqual([expect.stringContaining('src/state may not depend on src/audit')]);
  });

  it('fails a connector that imports anything of the hub but the SDK', async () => {
    const messages = await lint('connectors/tax/planted.ts', "import { createGateway } from '../../src/gateway';\nexport const planted = createGateway;\n");
    expect(messages).toEqual([expect.stringContaining('connectors and sandboxes import only src/sdk')]);
  });

  it('fails a connector that imports a library outside its protocol set', async () => {
    const messages = await lint('connectors/tax/planted.ts', "import pino from 'pino';\nexport const planted = pino;\n");
    expect(messages).toEqual([expect.stringContaining('a connector imports only src/sdk')]);
  });

  it('keeps ioredis in src/state and node-jose in src/seal', async () => {
    expect(await lint('src/gateway/planted.ts', "import { Redis } from 'ioredis';\nexport const planted = Redis;\n")).toEqual([expect.stringContaining('ioredis is imported only in src/state')]);
    expect(await lint('src/audit/planted.ts', "import jose from 'node-jose';\nexport const planted = jose;\n")).toEqual([expect.stringContaining('node-jose is imported only in src/seal')]);
    expect(await lint('src/state/planted.ts', "import { Redis } from 'ioredis';\nexport const planted = Redis;\n")).toEqual([]);
  });

  it('fails production code that imports the tests', async () => {
    const messages = await lint('src/gateway/planted.ts', "import { startTestHub } from '../../test/support/hub';\nexport const planted = startTestHub;\n");
    expect(messages).toEqual([expect.stringContaining('nothing outside test/ imports the tests')]);
  });

  it('fails a default export and a value import used only as a type', async () => {
    expect(await lint('src/sdk/planted.ts', 'export default 1;\n')).toEqual([expect.stringContaining('import-x/no-default-export')]);
    expect(await lint('src/sdk/planted.ts', "import { HubError } from './errors';\nexport type Planted = HubError;\n")).toEqual([expect.stringContaining('consistent-type-imports')]);
  });

  it('accepts an allowed import through the index', async () => {
    expect(await lint('src/http/planted.ts', "import { createRequestPath } from '../gateway';\nexport const planted = createRequestPath;\n")).toEqual([]);
    expect(await lint('src/audit/planted.ts', "import type { RedisStreams } from '../state';\nexport type Planted = RedisStreams;\n")).toEqual([]);
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
