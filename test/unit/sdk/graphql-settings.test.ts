import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConnectorDefinitionError,
  graphqlConnectorModule,
  graphqlModuleFromSettings,
  graphqlSettingsSchema,
  HubErrorCode,
  parseClassification,
} from '../../../src/sdk';
import { parseGraphqlReply } from '../../../src/sdk/graphql';

/** The messages of a refused settings object, each with its path. */
function problems(input: unknown): string[] {
  const parsed = graphqlSettingsSchema.safeParse(input);
  expect(parsed.success).toBe(false);
  return parsed.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('GraphQL connector settings', () => {
  it('takes a url, and defaults to federation', () => {
    expect(graphqlSettingsSchema.parse({ url: 'https://fund.example.gov.cn/graphql' })).toEqual({ url: 'https://fund.example.gov.cn/graphql', mode: 'federation' });
  });

  it('names the setting at fault', () => {
    expect(problems({})).toEqual([expect.stringMatching(/^url: url must be an absolute http\(s\) URL/)]);
    expect(problems({ url: 'ftp://fund.example/graphql' })).toEqual([expect.stringMatching(/^url: url must be/)]);
    expect(problems({ url: 'http://x/graphql', timeoutMs: -5 })).toEqual(['timeoutMs: timeoutMs must be a positive whole number']);
    expect(problems({ url: 'http://x/graphql', connections: 'many' })).toEqual(['connections: connections must be a number']);
    expect(problems({ url: 'http://x/graphql', mode: 'rest' })).toEqual(['mode: mode must be "federation" or "plain"']);
    expect(problems({ url: 'http://x/graphql', headers: { authorization: 42 } })).toEqual([expect.stringMatching(/^headers\.authorization: /)]);
    expect(problems({ url: 'http://x/graphql', colour: 'blue' })).toEqual([expect.stringContaining('"colour"')]);
  });

  it('refuses batch outside the plain mode, and names a batch entry at fault', () => {
    expect(problems({ url: 'http://x/graphql', batch: { Person: { rootField: 'persons', argument: 'ids' } } })).toEqual([expect.stringMatching(/^batch: batch applies only to mode "plain"/)]);
    expect(problems({ url: 'http://x/graphql', mode: 'plain', batch: { Person: { rootField: 'persons' } } })).toEqual([expect.stringMatching(/^batch\.Person\.argument: /)]);
    expect(problems({ url: 'http://x/graphql', mode: 'plain', batch: { Person: { rootField: 'persons', argument: 'ids', aliased: 'yes' } } })).toEqual([
      'batch.Person.aliased: aliased must be true or false',
    ]);
  });

  it('reads numbers and JSON objects given as text (environment variables)', () => {
    const settings = graphqlSettingsSchema.parse({
      url: 'http://x/graphql',
      mode: 'plain',
      timeoutMs: '2500',
      headers: '{"authorization":"Bearer t"}',
      batch: '{"Person":{"rootField":"persons","argument":"idNumbers"}}',
    });
    expect(settings).toMatchObject({ timeoutMs: 2500, headers: { authorization: 'Bearer t' }, batch: { Person: { rootField: 'persons', argument: 'idNumbers' } } });
  });

  it('accepts type "graphql" (a connector configured without a folder)', () => {
    expect(graphqlSettingsSchema.parse({ type: 'graphql', url: 'http://x/graphql' }).type).toBe('graphql');
    expect(problems({ type: 'rest', url: 'http://x/graphql' })).toEqual(['type: type must be "graphql" for a GraphQL connector']);
  });
});

describe('the classification', () => {
  it('names the entry at fault', () => {
    const fail = (input: unknown) => () => parseClassification('dept', input);
    expect(fail({ fields: { 'A.x': { class: 'CONDITIONAL' } } })).toThrow(/"fields\.A\.x\.purposes": a CONDITIONAL field names the purposes that unlock it/);
    expect(fail({ fields: { 'A.x': { class: 'UNCONDITIONAL', purposes: ['X'] } } })).toThrow(/only a CONDITIONAL field names purposes/);
    expect(fail({ fields: { 'A.x': { class: 'SECRET' } } })).toThrow(/class must be UNCONDITIONAL, CONDITIONAL or NOT_SHARED/);
    expect(fail({ fields: { Ax: { class: 'UNCONDITIONAL' } } })).toThrow(/fields keys must be Type\.field coordinates/);
    expect(fail({ defaults: { updateCycle: 'HOURLY' } })).toThrow(/updateCycle must be REAL_TIME/);
  });
});

describe('the module from settings alone', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'graphql-settings-'));
    writeFileSync(path.join(dir, 'remote.graphql'), 'type Query { record(id: ID!): Rec } type Rec { id: ID! value: Int tags: [String!]! }');
    writeFileSync(path.join(dir, 'classification.json'), JSON.stringify({ fields: { 'Query.record': { class: 'UNCONDITIONAL' }, 'Rec.value': { class: 'CONDITIONAL', purposes: ['AUDIT'] } } }));
    writeFileSync(path.join(dir, 'broken.json'), '{ not json');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is named by its id, reads its SDL and classification from the files its settings name', async () => {
    const module = graphqlModuleFromSettings('stats-office');
    expect(module.id).toBe('stats-office');
    expect(module.title).toBe('stats-office');
    const settings = module.settings.parse({ url: 'http://127.0.0.1:9/graphql', mode: 'plain', schemaFile: path.join(dir, 'remote.graphql'), classificationFile: path.join(dir, 'classification.json') });
    const sdl = await module.typeDefs(settings);
    expect(sdl).toContain('record(id: ID!): Rec @share(class: UNCONDITIONAL, department: "stats-office", updateCycle: DAILY)');
    expect(sdl).toContain('value: Int @share(class: CONDITIONAL, purposes: ["AUDIT"]');
    expect(sdl).toContain('tags: [String!]! @listSize(max: 100) @share(class: NOT_SHARED');
    const connector = module.create(settings, { defaultTimeoutMs: 1000 });
    expect(connector.id).toBe('stats-office');
    expect(Object.keys(connector.resolvers)).toEqual(['Query']);
  });

  it('names a file that cannot be read or parsed, by its setting', async () => {
    const module = graphqlModuleFromSettings('stats-office');
    const base = { url: 'http://127.0.0.1:9/graphql', schemaFile: path.join(dir, 'remote.graphql') };
    await expect(module.typeDefs(module.settings.parse({ ...base, classificationFile: path.join(dir, 'missing.json') }))).rejects.toThrow(/classificationFile ".*missing\.json" cannot be read \(ENOENT\)/);
    await expect(module.typeDefs(module.settings.parse({ ...base, classificationFile: path.join(dir, 'broken.json') }))).rejects.toThrow(/classificationFile ".*broken\.json" is not valid JSON/);
    await expect(module.typeDefs(module.settings.parse({ url: base.url, schemaFile: path.join(dir, 'nope.graphql') }))).rejects.toThrow(/schemaFile ".*nope\.graphql" cannot be read/);
  });

  it('cannot create a connector whose SDL must be fetched before typeDefs ran', () => {
    const module = graphqlModuleFromSettings('stats-office');
    expect(() => module.create(module.settings.parse({ url: 'http://127.0.0.1:9/graphql' }), { defaultTimeoutMs: 1000 })).toThrow(/call typeDefs\(settings\) before create\(settings\)/);
  });

  it('refuses file settings when the folder gives the SDL and classification in code', async () => {
    const module = graphqlConnectorModule({ id: 'dept', title: 'A department', sdl: 'type Query { x: Int }', classification: {} });
    await expect(module.typeDefs(module.settings.parse({ url: 'http://x/graphql', schemaFile: '/tmp/x.graphql' }))).rejects.toThrow(ConnectorDefinitionError);
    await expect(module.typeDefs(module.settings.parse({ url: 'http://x/graphql', classificationFile: '/tmp/x.json' }))).rejects.toThrow(/classificationFile is not a setting of this connector/);
  });
});

describe('reading a GraphQL reply', () => {
  const read = (body: string) => () => parseGraphqlReply('dept', body);

  it('refuses what is not a GraphQL response', () => {
    for (const body of ['<html>', '[]', '{"result": 1}', '{"data": 3}', '{"data": null}', '{"data": {}, "errors": {}}']) {
      expect(read(body)).toThrow(expect.objectContaining({ code: HubErrorCode.UPSTREAM_INVALID_RESPONSE }));
    }
  });

  it('keeps the path and a plain code of each error, never its message', () => {
    const reply = parseGraphqlReply('dept', JSON.stringify({ data: { a: null }, errors: [{ message: 'no record for 110105194912310025 王小明', path: ['a', 0], extensions: { code: 'NOT_FOUND' } }, { message: 'x', extensions: { code: 'has spaces and 王' } }] }));
    expect(reply.errors).toEqual([{ path: ['a', 0], code: 'NOT_FOUND' }, {}]);
    expect(JSON.stringify(reply)).not.toContain('王');
  });
});
