/**
 * A peer hub's part of the graph (src/gateway/federation): its types renamed with the prefix, its
 * classification kept with the peer as the department (the seal fields stay open), its root
 * fields under prefixed names; and the document asked of the peer: the caller's selection with
 * the peer's type names, fragments inlined, `__typename` under abstract types, only the
 * variables it uses.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildASTSchema, parse, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { peerHubModuleFromSettings } from '../../../src/gateway/federation/peer-connector';
import { forwardDocument } from '../../../src/gateway/federation/forward';
import { derivePeerSchema, peerRootFieldName } from '../../../src/gateway/federation/peer-schema';

const SHARED = `
directive @share(class: String!, purposes: [String!], department: String!, updateCycle: String!, sensitivity: String) on FIELD_DEFINITION
directive @listSize(max: Int!) on FIELD_DEFINITION
`;
const PEER_SDL = `${SHARED}
type Query {
  person(idNumber: ID!): Person @share(class: "CONDITIONAL", purposes: ["PROPERTY_TRANSFER"], department: "shared", updateCycle: "REAL_TIME")
  catalogue: String @share(class: "UNCONDITIONAL", department: "catalog", updateCycle: "REAL_TIME")
}
type Person {
  idNumber: ID! @share(class: "UNCONDITIONAL", department: "shared", updateCycle: "REAL_TIME", sensitivity: "ID_NUMBER")
  name: String @share(class: "CONDITIONAL", purposes: ["PROPERTY_TRANSFER"], department: "social-security", updateCycle: "DAILY")
  taxRecords: Taxpayer @share(class: "CONDITIONAL", purposes: ["PROPERTY_TRANSFER"], department: "tax", updateCycle: "DAILY")
  owned: [Party!]! @listSize(max: 20) @share(class: "CONDITIONAL", purposes: ["PROPERTY_TRANSFER"], department: "real-estate", updateCycle: "DAILY")
}
type Taxpayer {
  hasArrears: Boolean! @share(class: "CONDITIONAL", purposes: ["PROPERTY_TRANSFER"], department: "tax", updateCycle: "DAILY")
  payments(taxType: TaxType = DEED): [String!]! @listSize(max: 5) @share(class: "CONDITIONAL", purposes: ["PROPERTY_TRANSFER"], department: "tax", updateCycle: "DAILY")
  seal: Seal @share(class: "UNCONDITIONAL", department: "seal", updateCycle: "REAL_TIME")
}
enum TaxType { DEED VALUE_ADDED }
type Seal { token: String! @share(class: "UNCONDITIONAL", department: "seal", updateCycle: "REAL_TIME") }
union Party = Person | Company
type Company { creditCode: ID! @share(class: "UNCONDITIONAL", department: "shared", updateCycle: "REAL_TIME") }
type Unrelated { x: Int @share(class: "UNCONDITIONAL", department: "tax", updateCycle: "DAILY") }
`;

const derived = () => derivePeerSchema({ connector: 'heze', prefix: 'Heze', rootFields: ['person'], sdl: PEER_SDL });

describe('a peer hub\'s part of the graph', () => {
  it('renames every reached type, keeps the classification with the peer as department, and leaves out what is not reached', () => {
    const peer = derived();
    const schema = buildASTSchema(parse(`${SHARED}\ntype Query { ping: String }\n${peer.typeDefs}`));
    expect(Object.keys(schema.getTypeMap()).filter((n) => n.startsWith('Heze')).sort()).toEqual(['HezeCompany', 'HezeParty', 'HezePerson', 'HezeSeal', 'HezeTaxType', 'HezeTaxpayer']);
    expect(schema.getType('HezeUnrelated')).toBeUndefined();
    expect(schema.getQueryType()!.getFields().hezePerson!.type.toString()).toBe('HezePerson');
    expect(schema.getQueryType()!.getFields().hezeCatalogue).toBeUndefined();
    expect(peer.typeDefs).toContain('taxRecords: HezeTaxpayer @share(class: "CONDITIONAL", purposes: ["PROPERTY_TRANSFER"], department: "heze", updateCycle: "DAILY")');
    expect(peer.typeDefs).toContain('idNumber: ID! @share(class: "UNCONDITIONAL", department: "heze", updateCycle: "REAL_TIME", sensitivity: "ID_NUMBER")');
    // Seal fields stay open as on every hub; list bounds and argument defaults are kept.
    expect(peer.typeDefs).toContain('seal: HezeSeal @share(class: "UNCONDITIONAL", department: "seal", updateCycle: "REAL_TIME")');
    expect(peer.typeDefs).toContain('payments(taxType: HezeTaxType = DEED): [String!]! @listSize(max: 5)');
    expect(peer.sealedTypes).toEqual(['HezeTaxpayer']);
    expect([...peer.abstractTypes]).toEqual(['HezeParty']);
    expect(peer.rootFields.get('hezePerson')).toBe('person');
    expect(peer.remoteNames.get('HezeTaxpayer')).toBe('Taxpayer');
  });

  it('refuses a root field the peer does not have, a bad prefix and an SDL that does not parse, naming the connector', () => {
    expect(() => derivePeerSchema({ connector: 'heze', prefix: 'Heze', rootFields: ['people'], sdl: PEER_SDL })).toThrow('connector "heze" (a peer hub): the peer\'s Query has no field "people"');
    expect(() => derivePeerSchema({ connector: 'heze', prefix: 'heze', rootFields: ['person'], sdl: PEER_SDL })).toThrow('prefix must be PascalCase');
    expect(() => derivePeerSchema({ connector: 'heze', prefix: 'Heze', rootFields: ['person'], sdl: 'type {' })).toThrow('its schema snapshot is not a valid SDL');
    expect(peerRootFieldName('Heze', 'person')).toBe('hezePerson');
  });
});

describe('the document asked of the peer', () => {
  it('keeps the caller\'s aliases and arguments, gives types their peer names, inlines fragments, adds __typename under abstract types, and sends only the variables used', () => {
    const peer = derived();
    const schema = buildASTSchema(parse(`${SHARED}\ntype Query { ping: String }\n${peer.typeDefs}`));
    const document = parse(`query Q($id: ID!, $unused: String, $kind: HezeTaxType) {
      seller: hezePerson(idNumber: $id) { ...Who taxRecords { hasArrears deeds: payments(taxType: $kind) seal { token } } owned { ... on HezeCompany { creditCode } } }
    }
    fragment Who on HezePerson { name }`);
    const operation = document.definitions[0] as OperationDefinitionNode;
    const fragments = Object.fromEntries(document.definitions.filter((d) => d.kind === 'FragmentDefinition').map((d) => [(d as { name: { value: string } }).name.value, d])) as never;
    const node = operation.selectionSet.selections[0] as FieldNode;
    const forwarded = forwardDocument([{ remoteField: 'person', node, typeName: 'HezePerson' }], {
      schema,
      fragments,
      operation,
      variableValues: { id: '371702199001011234', unused: 'x', kind: 'DEED' },
      remoteNames: peer.remoteNames,
    });
    expect(forwarded.variables).toEqual({ id: '371702199001011234', kind: 'DEED' });
    const printed = forwarded.query.replace(/\s+/g, ' ');
    expect(printed).toContain('query DatarunFederated($id: ID!, $kind: TaxType)');
    expect(printed).toContain('f0: person(idNumber: $id)');
    expect(printed).toContain('... on Person { name }');
    expect(printed).toContain('deeds: payments(taxType: $kind)');
    expect(printed).toContain('owned { ... on Company { creditCode } __typename }');
    expect(printed).not.toContain('Heze');
  });
});

describe('a peer hub connector', () => {
  it('does not start unless the trust list pins the peer\'s federation root', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'datarun-peer-'));
    try {
      const schemaFile = path.join(dir, 'heze.graphql');
      writeFileSync(schemaFile, PEER_SDL);
      writeFileSync(path.join(dir, 'key.json'), JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }));
      const module = peerHubModuleFromSettings('heze');
      const settings = module.settings.parse({ type: 'hub', url: 'https://hub.heze.example/graphql', hub: 'heze', consumer: 'taian-hub', keyFile: path.join(dir, 'key.json'), prefix: 'Heze', fields: ['person'], schemaFile });
      void module.typeDefs(settings as never);
      const notPinned = { pinned: () => false, verifySeal: async () => ({ valid: false as const, problem: 'not pinned' }) };
      expect(() => module.create(settings as never, { defaultTimeoutMs: 1000, federation: notPinned })).toThrow('the peer hub "heze" is not in federation.peers: pin its federation root key');
      expect(() => module.create(settings as never, { defaultTimeoutMs: 1000 })).toThrow('is not in federation.peers');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses settings that do not say where and how, naming each', () => {
    const module = peerHubModuleFromSettings('heze');
    const parsed = module.settings.safeParse({ type: 'graphql', url: 'ftp://x', hub: 'Heze', consumer: '', prefix: 'heze', fields: [] });
    expect(parsed.success).toBe(false);
    const paths = parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['type', 'url', 'hub', 'consumer', 'keyFile', 'prefix', 'fields', 'schemaFile']));
  });
});
