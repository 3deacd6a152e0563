/**
 * The part of another hub's graph this hub puts behind its own (跨域通办): from the peer's SDL (a
 * snapshot taken with `datarun federation snapshot` from its operator route, @share directives included),
 * the root fields named in the settings and every type they reach, renamed with the peer's prefix
 * (`Person` → `HezePerson`) so they never meet this hub's own types, and the root fields as
 * `Query.<prefix><Field>` (`hezePerson(idNumber:)`). Each field keeps the peer's classification,
 * but its department is the peer's connector id (what this hub asks), except the seal fields,
 * open as on every hub.
 */
import {
  buildASTSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  Kind,
  parse,
  print,
  type ConstDirectiveNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';
import { ConnectorDefinitionError } from '../../sdk';

/** What `derivePeerSchema` needs. */
export interface PeerSchemaOptions {
  /** The connector id of the peer (the department its fields name). */
  readonly connector: string;
  /** PascalCase prefix of the peer's types on this hub (`Heze`). */
  readonly prefix: string;
  /** The peer's root query fields this hub offers (`person`, `people`, `enterprise`, `property`). */
  readonly rootFields: readonly string[];
  /** The peer's SDL, directives and their definitions included. */
  readonly sdl: string;
}

/** A peer's graph as this hub shows it. */
export interface PeerSchema {
  /** The SDL this hub adds: the prefixed types and `extend type Query { … }`. */
  readonly typeDefs: string;
  /** The peer's schema, as its SDL describes it. */
  readonly remote: GraphQLSchema;
  /** This hub's root field → the peer's root field (`hezePerson` → `person`). */
  readonly rootFields: ReadonlyMap<string, string>;
  /** This hub's name of each peer type → the peer's (`HezePerson` → `Person`). */
  readonly remoteNames: ReadonlyMap<string, string>;
  /** The prefixed object types, with their field names (each resolved by response key). */
  readonly objectTypes: ReadonlyMap<string, readonly string[]>;
  /** The prefixed interfaces and unions (resolved by the `__typename` the peer answers). */
  readonly abstractTypes: ReadonlySet<string>;
  /** The prefixed types with a `seal` field: the peer's seals pass through. */
  readonly sealedTypes: readonly string[];
}

/** Departments that stay as they are on this hub (open pseudo-departments: the seal fields). */
const KEPT_DEPARTMENTS: ReadonlySet<string> = new Set(['seal']);
const PREFIX_PATTERN = /^[A-Z][A-Za-z0-9]{0,31}$/;

const fail = (connector: string, message: string): ConnectorDefinitionError => new ConnectorDefinitionError(`connector "${connector}" (a peer hub): ${message}`);

/** `hezePerson` for prefix `Heze` and field `person`. */
export function peerRootFieldName(prefix: string, field: string): string {
  return `${prefix[0]!.toLowerCase()}${prefix.slice(1)}${field[0]!.toUpperCase()}${field.slice(1)}`;
}

/** Derives the SDL of a peer's part of the graph; a mistake names the connector and what is wrong. */
export function derivePeerSchema(options: PeerSchemaOptions): PeerSchema {
  const { connector, prefix } = options;
  if (!PREFIX_PATTERN.test(prefix)) throw fail(connector, `prefix must be PascalCase letters and digits (e.g. "Heze"), but got ${JSON.stringify(prefix)}`);
  let remote: GraphQLSchema;
  try {
    remote = buildASTSchema(parse(options.sdl));
  } catch (error) {
    throw fail(connector, `its schema snapshot is not a valid SDL (${(error as Error).message})`);
  }
  const query = remote.getQueryType();
  if (!query) throw fail(connector, 'its schema has no Query type');
  if (options.rootFields.length === 0) throw fail(connector, 'fields must name at least one root field of the peer');

  // Every type the chosen root fields reach.
  const reached = new Map<string, GraphQLNamedType>();
  const queue: GraphQLNamedType[] = [];
  const reach = (type: GraphQLType): void => {
    const named = getNamedType(type);
    if (isSpecifiedScalarType(named) || named.name.startsWith('__') || reached.has(named.name)) return;
    reached.set(named.name, named);
    queue.push(named);
  };
  const roots: GraphQLField<unknown, unknown>[] = [];
  for (const name of options.rootFields) {
    const field = query.getFields()[name];
    if (!field) throw fail(connector, `the peer's Query has no field ${JSON.stringify(name)}`);
    roots.push(field);
    reach(field.type);
    for (const arg of field.args) reach(arg.type);
  }
  while (queue.length > 0) {
    const type = queue.shift()!;
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        reach(field.type);
        for (const arg of field.args) reach(arg.type);
      }
      for (const iface of type.getInterfaces()) reach(iface);
      if (isInterfaceType(type)) for (const impl of remote.getPossibleTypes(type)) reach(impl);
    } else if (isUnionType(type)) {
      for (const member of type.getTypes()) reach(member);
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) reach(field.type);
    }
  }

  const renamed = (name: string): string => (reached.has(name) ? `${prefix}${name}` : name);
  const typeRef = (type: GraphQLType): string => type.toString().replace(/[A-Za-z_][A-Za-z0-9_]*/g, (name) => renamed(name));
  const description = (text: string | null | undefined, indent: string): string => (text ? `${indent}${JSON.stringify(text)}\n` : '');
  const directives = (nodes: readonly ConstDirectiveNode[] | undefined): string =>
    (nodes ?? [])
      .map((node) => {
        if (node.name.value !== 'share') return print(node);
        const args = (node.arguments ?? []).map((arg) =>
          arg.name.value === 'department' && arg.value.kind === Kind.STRING && !KEPT_DEPARTMENTS.has(arg.value.value) ? `department: ${JSON.stringify(connector)}` : print(arg),
        );
        return `@share(${args.join(', ')})`;
      })
      .map((text) => ` ${text}`)
      .join('');
  const args = (list: readonly GraphQLArgument[]): string =>
    list.length === 0 ? '' : `(${list.map((a) => `${a.name}: ${typeRef(a.type)}${a.astNode?.defaultValue ? ` = ${print(a.astNode.defaultValue)}` : ''}`).join(', ')})`;
  const fieldLine = (f: GraphQLField<unknown, unknown> | GraphQLInputField, isInput: boolean): string =>
    `${description(f.description, '  ')}  ${f.name}${isInput ? '' : args((f as GraphQLField<unknown, unknown>).args)}: ${typeRef(f.type)}${directives(f.astNode?.directives)}`;

  const blocks: string[] = [];
  const objectTypes = new Map<string, string[]>();
  const abstractTypes = new Set<string>();
  const sealedTypes: string[] = [];
  const remoteNames = new Map<string, string>();
  for (const type of reached.values()) {
    const name = `${prefix}${type.name}`;
    remoteNames.set(name, type.name);
    const head = description(type.description, '');
    if (isObjectType(type) || isInterfaceType(type)) {
      const fields = Object.values(type.getFields());
      const interfaces = type.getInterfaces().map((i) => renamed(i.name));
      blocks.push(`${head}${isObjectType(type) ? 'type' : 'interface'} ${name}${interfaces.length > 0 ? ` implements ${interfaces.join(' & ')}` : ''} {\n${fields.map((f) => fieldLine(f, false)).join('\n')}\n}`);
      if (isObjectType(type)) objectTypes.set(name, fields.map((f) => f.name));
      else abstractTypes.add(name);
      if (isObjectType(type) && type.getFields().seal) sealedTypes.push(name);
    } else if (isUnionType(type)) {
      blocks.push(`${head}union ${name} = ${type.getTypes().map((t) => renamed(t.name)).join(' | ')}`);
      abstractTypes.add(name);
    } else if (isEnumType(type)) {
      blocks.push(`${head}enum ${name} {\n${type.getValues().map((v) => `${description(v.description, '  ')}  ${v.name}`).join('\n')}\n}`);
    } else if (isInputObjectType(type)) {
      blocks.push(`${head}input ${name} {\n${Object.values(type.getFields()).map((f) => fieldLine(f, true)).join('\n')}\n}`);
    } else if (isScalarType(type)) {
      blocks.push(`${head}scalar ${name}`);
    }
  }
  const rootFields = new Map<string, string>();
  const rootLines = roots.map((field) => {
    const hubName = peerRootFieldName(prefix, field.name);
    rootFields.set(hubName, field.name);
    return `${description(field.description ? `${field.description} (from the peer hub "${connector}")` : `From the peer hub "${connector}".`, '  ')}  ${hubName}${args(field.args)}: ${typeRef(field.type)}${directives(field.astNode?.directives)}`;
  });
  blocks.push(`extend type Query {\n${rootLines.join('\n')}\n}`);
  return { typeDefs: `${blocks.join('\n\n')}\n`, remote, rootFields, remoteNames, objectTypes, abstractTypes, sealedTypes };
}
