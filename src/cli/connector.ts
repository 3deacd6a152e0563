/**
 * `datarun connector new <id>`: writes the skeleton of a connector folder — a connector module
 * over an HTTP department service (one batched loader, one sealed type), its SDL, a README and a
 * conformance test on a scripted upstream. The files import only `datarun/sdk` and
 * `datarun/testing`, so the folder works in any project that installs the datarun package.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONNECTOR_ID_PATTERN } from '../sdk';
import { CliUsageError } from './exit';

/** Options of `runConnectorNew`. */
export interface ConnectorNewOptions {
  /** kebab-case id of the connector (`water-utility`). */
  readonly id: string;
  /** The folder the connector's folder is made in. @default 'connectors' */
  readonly dir?: string;
  /** The department's name. @default from the id ("Housing fund") */
  readonly title?: string;
  /** Where a relative `dir` starts. @default process.cwd() */
  readonly cwd?: string;
  /** Where the summary goes. @default process.stdout */
  readonly out?: { write(text: string): unknown };
}

/** The names a connector id gives: `water-utility` → waterUtility, WaterUtility, WATER_UTILITY. */
export function connectorNames(id: string): { camel: string; pascal: string; upper: string } {
  const words = id.split('-');
  const pascal = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return { camel: pascal[0]!.toLowerCase() + pascal.slice(1), pascal, upper: words.map((w) => w.toUpperCase()).join('_') };
}

/** What is wrong with a connector id, or undefined. */
export function connectorIdProblem(id: string): string | undefined {
  if (typeof id !== 'string' || id === '') return 'the connector id is missing';
  if (!CONNECTOR_ID_PATTERN.test(id)) return `the connector id must be kebab-case (lower-case letters and digits, words joined by "-", starting with a letter, e.g. water-utility), but got: ${JSON.stringify(id)}`;
  if (id.length > 40) return `the connector id must be at most 40 characters, but got ${id.length}`;
  if (id === 'seal' || id === 'shared' || id === 'catalog' || id === 'audit') return `"${id}" is reserved (it names a part of the hub's own schema); choose the department's name`;
  return undefined;
}

/** The files of a new connector, by name. */
export function connectorTemplates(id: string, title: string): Record<string, string> {
  const { camel, pascal, upper } = connectorNames(id);
  const record = `${pascal}Record`;
  const loaders = `${pascal}Loaders`;
  const q = JSON.stringify;
  const ts = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

  const index = `/**
 * The ${id} connector: puts the ${title} department's HTTP service behind the graph.
 * It adds \`Person.${camel}\` (schema.graphql), answered by one batched call per loader batch
 * (\`POST /records/batch\`), and seals each ${pascal} record with the department's seal key.
 */
import path from 'node:path';
import {
  UpstreamInvalidResponseError,
  citizenIdProblem,
  createBatchLoader,
  createHttpUpstream,
  defineConnector,
  defineConnectorModule,
  sdlFile,
  z,
  type Connector,
  type ConnectorEnvironment,
  type HubContext,
  type PersonRef,
  type Resolvers,
} from 'datarun/sdk';

/** The connector id: named in errors, the configuration (\`connectors.${id}.*\`), the seals and the access log. */
export const CONNECTOR_ID = ${ts(id)};

/** One record of the department, as its service returns it. */
export interface ${record} {
  idNumber: string;
  status: string;
  /** Balance in yuan. */
  balance: number;
  /** Last update by the department, YYYY-MM-DD. */
  updatedAt: string;
}

const recordSchema = z.object({ idNumber: z.string(), status: z.string(), balance: z.number(), updatedAt: z.string() });
const batchReplySchema = z.object({ items: z.array(recordSchema) });

/**
 * The connector's settings: \`connectors.${id}.<key>\` in the configuration file, or
 * \`DATARUN_CONNECTORS__${upper}__<KEY>\` in the environment (BASE_URL, API_KEY, TIMEOUT_MS).
 * Strict: a misspelt key fails the hub's start instead of being ignored.
 */
export const settings = z.strictObject({
  /** Base URL of the department's service, e.g. https://${id}.example.gov.cn/api. */
  baseUrl: z.url({ protocol: /^https?$/ }),
  /** The API key the department issued to the hub, sent as x-api-key (never logged). */
  apiKey: z.string().min(1).optional(),
  /** Per-call timeout in milliseconds; the hub's default when unset. */
  timeoutMs: z.coerce.number().int().positive().optional(),
});

/** The settings after validation. */
export type ${pascal}Settings = z.output<typeof settings>;

/** The per-request loaders of the connector. */
export interface ${loaders} {
  /** Record by citizen identity number; null when the department has none. One batch call per batch. */
  recordById: ReturnType<typeof createBatchLoader<string, ${record}>>;
}

/** Builds the connector from validated settings. */
export function create${pascal}Connector(options: ${pascal}Settings, environment: ConnectorEnvironment): Connector<${loaders}> {
  const upstream = createHttpUpstream({
    connector: CONNECTOR_ID,
    baseUrl: options.baseUrl,
    timeoutMs: options.timeoutMs ?? environment.defaultTimeoutMs,
    ...(options.apiKey ? { headers: { 'x-api-key': options.apiKey } } : {}),
  });

  return defineConnector<${loaders}>({
    id: CONNECTOR_ID,
    title: ${ts(title)},
    createLoaders: (scope) => ({
      recordById: createBatchLoader<string, ${record}>(
        async (keys) => {
          // An identifier that fails its check has no record: answered null, never sent.
          const ids = keys.filter((key) => citizenIdProblem(key) === undefined);
          if (ids.length === 0) return new Map();
          const { data } = await upstream.json({
            method: 'POST',
            path: '/records/batch',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ ids }),
            signal: scope.signal,
          });
          const reply = batchReplySchema.safeParse(data);
          // The reason names the shape, never a value (no personal data in errors).
          if (!reply.success) throw new UpstreamInvalidResponseError(CONNECTOR_ID, 'the batch reply is not { items: [record] }');
          return new Map(reply.data.items.map((item) => [item.idNumber, item]));
        },
        // The hub's record cache, when it caches this connector: hits skip the department.
        scope.cache ? { cache: scope.cache.loader('recordById') } : {},
      ),
    }),
    // The generated Resolvers type knows the hub's own types; the fields this connector adds are typed here.
    resolvers: (loadersOf) =>
      ({
        Person: {
          ${camel}: (person: PersonRef, _args: unknown, context: HubContext) => loadersOf(context).recordById.load(person.idNumber),
        },
      }) as Resolvers,
    seals: {
      // Sealed type ${pascal} (it has \`seal: Seal\` in schema.graphql): the hub seals each record once, when it enters the hub.
      ${pascal}: {
        recordType: ${ts(`${pascal}Account`)},
        load: async (record: ${record}) => record,
        id: (record: ${record}) => record.idNumber,
        fields: (record: ${record}) => ({ status: record.status, balance: record.balance, updatedAt: record.updatedAt }),
      },
    },
    probe: async () => {
      await upstream.request({ path: '/health' });
    },
    stop: () => upstream.close(),
  });
}

/** What the hub loads from this folder. */
export const connectorModule = defineConnectorModule({
  id: CONNECTOR_ID,
  title: ${ts(title)},
  settings,
  typeDefs: sdlFile(path.join(__dirname, 'schema.graphql')),
  create: (options, environment) => create${pascal}Connector(options, environment),
  cacheTtlSeconds: 60,
});
`;

  const schema = `# ${title}: what the \`${id}\` connector adds to the graph. Every field carries @share (its
# class in the sharing catalogue, the purposes that unlock a conditional field, the department,
# the update cycle); every list field would also carry @listSize(max: …). The sealed type has a
# \`seal: Seal\` field. Purposes must be in the sharing policy's registry.

extend type Person {
  "The person's ${title} record; null when the department has none."
  ${camel}: ${pascal} @share(class: CONDITIONAL, purposes: ["LIVING_ALLOWANCE"], department: ${q(id)}, updateCycle: DAILY)
}

"One ${title} record, as the department keeps it."
type ${pascal} {
  status: String! @share(class: CONDITIONAL, purposes: ["LIVING_ALLOWANCE"], department: ${q(id)}, updateCycle: DAILY)
  "Balance in yuan."
  balance: Float! @share(class: CONDITIONAL, purposes: ["LIVING_ALLOWANCE"], department: ${q(id)}, updateCycle: DAILY)
  "Last update by the department, YYYY-MM-DD."
  updatedAt: String! @share(class: CONDITIONAL, purposes: ["LIVING_ALLOWANCE"], department: ${q(id)}, updateCycle: DAILY)
  "The department's seal over this record."
  seal: Seal @share(class: UNCONDITIONAL, department: "seal", updateCycle: REAL_TIME)
}
`;

  const readme = `# ${id} — ${title}

A datarun connector (written by \`datarun connector new ${id}\`). It puts the department's HTTP
service behind the graph and adds \`Person.${camel}\` (see \`schema.graphql\`).

| file | what |
| --- | --- |
| \`index.ts\` | the connector module (\`connectorModule\`): settings, SDL, the batched loader, the seal |
| \`schema.graphql\` | the fields it adds, each classified with \`@share\`; \`${pascal}.seal\` |
| \`conformance.test.ts\` | the conformance kit (\`datarun/testing\`) against a scripted upstream |

## The department's service, as the skeleton assumes it

- \`POST /records/batch\` with \`{"ids": ["<citizen id>", …]}\` (at most 100) answers
  \`{"items": [{"idNumber", "status", "balance", "updatedAt"}, …]}\`, leaving out unknown ids.
- \`GET /health\` answers 2xx when the service is up.

Change \`index.ts\` and the scripted routes of \`conformance.test.ts\` together when the real
service differs.

## Settings

| key | environment | what |
| --- | --- | --- |
| \`baseUrl\` | \`DATARUN_CONNECTORS__${upper}__BASE_URL\` | base URL of the service (required) |
| \`apiKey\` | \`DATARUN_CONNECTORS__${upper}__API_KEY\` | API key, sent as \`x-api-key\` |
| \`timeoutMs\` | \`DATARUN_CONNECTORS__${upper}__TIMEOUT_MS\` | per-call timeout; the hub's default when unset |

In the configuration file: \`{ "connectors": { ${q(id)}: { "baseUrl": "https://…" } } }\`.

## Before it serves

1. \`npx jest ${'<this folder>'}\`: the conformance kit must pass.
2. Grant its fields to the consumers that need them in the sharing policy
   (\`"fields": ["Person.${camel}", "${pascal}"]\`, for a purpose its fields name).
3. The department needs a seal key: \`datarun keys init\` (the hub refuses to start without one).

The whole walk-through: the datarun connector guide (\`docs/connector-guide.md\` in the package).
`;

  const test = `/**
 * Conformance of the ${id} connector (datarun/testing), against a scripted HTTP upstream that
 * answers like the department's service: \`POST /records/batch\` and \`GET /health\`.
 */
import { describeConnectorConformance, startScriptedHttpUpstream, syntheticCitizenIds, type ScriptedHttpUpstream } from 'datarun/testing';
import { connectorModule, type ${loaders}, type ${record} } from './index';

const known = syntheticCitizenIds(120, 1);
// Another seed gives well-formed identifiers of another region: none of them is known.
const unknown = syntheticCitizenIds(1, 2)[0]!;
const records = new Map<string, ${record}>(known.map((idNumber, i) => [idNumber, { idNumber, status: 'ACTIVE', balance: 1000 + i, updatedAt: '2026-01-31' }]));

describeConnectorConformance<${loaders}, ScriptedHttpUpstream>({
  id: ${ts(id)},
  module: connectorModule,
  upstream: () =>
    startScriptedHttpUpstream({
      routes: {
        'POST /records/batch': (request) => {
          const { ids } = request.json<{ ids: string[] }>();
          return { json: { items: ids.flatMap((id) => records.get(id) ?? []) } };
        },
        'GET /health': () => ({ json: { ok: true } }),
      },
    }),
  settings: (upstream, timeoutMs) => ({ baseUrl: upstream.url, timeoutMs }),
  primaryLoader: (loaders) => loaders.recordById,
  knownKeys: known,
  unknownKey: unknown,
  keyOf: (record: ${record}) => record.idNumber,
});
`;

  return { 'index.ts': index, 'schema.graphql': schema, 'README.md': readme, 'conformance.test.ts': test };
}

/** Writes a new connector folder; returns the files written. */
export function runConnectorNew(options: ConnectorNewOptions): string[] {
  const problem = connectorIdProblem(options.id);
  if (problem) throw new CliUsageError(problem);
  const title = (options.title ?? defaultTitle(options.id)).trim();
  if (title.length < 3) throw new CliUsageError(`--title must name the department (at least 3 characters), but got: ${JSON.stringify(options.title)}`);
  if (/[\r\n`]/.test(title)) throw new CliUsageError('--title must be one line without backquotes');
  const parent = path.resolve(options.cwd ?? process.cwd(), options.dir ?? 'connectors');
  const folder = path.join(parent, options.id);
  if (existsSync(folder)) throw new CliUsageError(`${folder} already exists: choose another id, or remove the folder first`);
  if (existsSync(parent) && !isDirectory(parent)) throw new CliUsageError(`--dir ${parent} is not a directory`);
  mkdirSync(folder, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(connectorTemplates(options.id, title))) {
    const file = path.join(folder, name);
    writeFileSync(file, text, { flag: 'wx' });
    written.push(file);
  }
  const { upper } = connectorNames(options.id);
  (options.out ?? process.stdout).write(
    [
      `connector "${options.id}" (${title}) written to ${folder}:`,
      ...written.map((file) => `  ${path.basename(file)}`),
      'next:',
      `  npx jest ${path.relative(options.cwd ?? process.cwd(), folder) || '.'}     # the conformance kit, on a scripted upstream`,
      `  set connectors.${options.id}.baseUrl (or DATARUN_CONNECTORS__${upper}__BASE_URL), grant Person.${connectorNames(options.id).camel} in the sharing policy, datarun keys init`,
      '',
    ].join('\n'),
  );
  return written;
}

function defaultTitle(id: string): string {
  const text = id.replaceAll('-', ' ');
  return text[0]!.toUpperCase() + text.slice(1);
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}
