/**
 * The remote schema as the connector sees it: the department's SDL parsed into its object
 * types, enums, input types, scalars and root fields, with Apollo Federation's machinery
 * (`@link`, `@key`, `_service`, `_entities`, `_Any`, directive definitions) taken out and each
 * type's key read from its `@key`. Interfaces and unions are refused (not supported).
 */
import {
  Kind,
  parse,
  type ConstDirectiveNode,
  type DocumentNode,
  type EnumValueDefinitionNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  type TypeNode,
} from 'graphql';
import { ConnectorDefinitionError } from '../errors';

/** One field of a remote object type (directives dropped). */
export interface RemoteField {
  readonly name: string;
  readonly description?: string;
  readonly type: TypeNode;
  readonly args: readonly InputValueDefinitionNode[];
}

/** One remote object type. */
export interface RemoteObjectType {
  readonly name: string;
  readonly description?: string;
  readonly fields: ReadonlyMap<string, RemoteField>;
  /** The single field of its federation `@key`, if it has one. */
  readonly federationKey?: string;
}

/** A remote enum or input type, kept for the hub SDL. */
export interface RemoteNamedDefinition {
  readonly name: string;
  readonly description?: string;
  readonly kind: 'enum' | 'input' | 'scalar';
  /** Enum values or input fields. */
  readonly values: readonly (EnumValueDefinitionNode | InputValueDefinitionNode)[];
}

/** The remote schema, federation machinery removed. */
export interface RemoteSchema {
  /** Object types other than the root types. */
  readonly objects: ReadonlyMap<string, RemoteObjectType>;
  /** Enums, input types and custom scalars. */
  readonly others: ReadonlyMap<string, RemoteNamedDefinition>;
  /** Root query fields (`_service`, `_entities` and other `_` fields dropped). */
  readonly query: ReadonlyMap<string, RemoteField>;
}

const BUILT_IN_SCALARS = new Set(['ID', 'String', 'Int', 'Float', 'Boolean']);
const SIMPLE_KEY = /^\s*([_A-Za-z][_0-9A-Za-z]*)\s*$/;

/** Federation's own types and directives (`_Any`, `_Service`, `link__Import`, `federation__FieldSet`, `FieldSet`). */
function isMachinery(name: string): boolean {
  return name.startsWith('_') || name.includes('__') || name === 'FieldSet';
}

function directiveNamed(directives: readonly ConstDirectiveNode[] | undefined, name: string): ConstDirectiveNode[] {
  return (directives ?? []).filter((d) => d.name.value === name || d.name.value === `federation__${name}`);
}

interface ObjectDraft {
  name: string;
  description?: string;
  fields: FieldDefinitionNode[];
  directives: ConstDirectiveNode[];
}

interface OtherDraft {
  name: string;
  description?: string;
  kind: 'enum' | 'input' | 'scalar';
  values: (EnumValueDefinitionNode | InputValueDefinitionNode)[];
}

/**
 * Parses a remote SDL (a federation subgraph's `_service { sdl }`, or a plain schema printed
 * from introspection). Fails with a ConnectorDefinitionError naming the connector and the problem.
 */
export function parseRemoteSchema(connector: string, sdl: string): RemoteSchema {
  const fail = (problem: string): never => {
    throw new ConnectorDefinitionError(`GraphQL connector "${connector}": the remote SDL ${problem}`);
  };
  let document: DocumentNode;
  try {
    document = parse(sdl, { noLocation: false });
  } catch (error) {
    return fail(`is not valid GraphQL: ${(error as Error).message}`);
  }
  let queryName = 'Query';
  const otherRoots = new Set<string>(['Mutation', 'Subscription']);
  const objects = new Map<string, ObjectDraft>();
  const others = new Map<string, OtherDraft>();
  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.SCHEMA_DEFINITION:
      case Kind.SCHEMA_EXTENSION:
        for (const op of definition.operationTypes ?? []) {
          if (op.operation === 'query') queryName = op.type.name.value;
          else otherRoots.add(op.type.name.value);
        }
        break;
      case Kind.DIRECTIVE_DEFINITION:
        break;
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION: {
        const name = definition.name.value;
        if (isMachinery(name)) break;
        const draft = objects.get(name) ?? { name, fields: [], directives: [] };
        if (definition.kind === Kind.OBJECT_TYPE_DEFINITION && definition.description) draft.description = definition.description.value;
        draft.fields.push(...(definition.fields ?? []));
        draft.directives.push(...(definition.directives ?? []));
        objects.set(name, draft);
        break;
      }
      case Kind.INTERFACE_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_EXTENSION:
      case Kind.UNION_TYPE_DEFINITION:
      case Kind.UNION_TYPE_EXTENSION:
        if (!isMachinery(definition.name.value)) fail(`defines ${definition.name.value}, an interface or union: the GraphQL connector supports object types, enums, input types and scalars only`);
        break;
      case Kind.ENUM_TYPE_DEFINITION:
      case Kind.ENUM_TYPE_EXTENSION:
      case Kind.INPUT_OBJECT_TYPE_DEFINITION:
      case Kind.INPUT_OBJECT_TYPE_EXTENSION:
      case Kind.SCALAR_TYPE_DEFINITION:
      case Kind.SCALAR_TYPE_EXTENSION: {
        const name = definition.name.value;
        if (isMachinery(name) || BUILT_IN_SCALARS.has(name)) break;
        const kind = definition.kind === Kind.ENUM_TYPE_DEFINITION || definition.kind === Kind.ENUM_TYPE_EXTENSION ? 'enum' : definition.kind === Kind.SCALAR_TYPE_DEFINITION || definition.kind === Kind.SCALAR_TYPE_EXTENSION ? 'scalar' : 'input';
        const draft = others.get(name) ?? { name, kind, values: [] };
        if (draft.kind !== kind) fail(`defines ${name} twice, as different kinds of type`);
        if ('description' in definition && definition.description) draft.description = definition.description.value;
        if ('values' in definition) draft.values.push(...(definition.values ?? []));
        if ('fields' in definition) draft.values.push(...(definition.fields ?? []));
        others.set(name, draft);
        break;
      }
      default:
        fail(`holds an operation or fragment (${definition.kind}); it must be type definitions only`);
    }
  }

  const query = objects.get(queryName);
  objects.delete(queryName);
  for (const root of otherRoots) objects.delete(root);
  for (const name of objects.keys()) if (others.has(name)) fail(`defines ${name} twice, as different kinds of type`);

  const toField = (node: FieldDefinitionNode): RemoteField => ({
    name: node.name.value,
    ...(node.description ? { description: node.description.value } : {}),
    type: node.type,
    args: node.arguments ?? [],
  });

  const result = new Map<string, RemoteObjectType>();
  for (const draft of objects.values()) {
    let federationKey: string | undefined;
    const keys = directiveNamed(draft.directives, 'key');
    for (const key of keys) {
      const fieldsArg = key.arguments?.find((a) => a.name.value === 'fields');
      const match = fieldsArg?.value.kind === Kind.STRING ? SIMPLE_KEY.exec(fieldsArg.value.value) : null;
      if (match) {
        federationKey = match[1]!;
        break;
      }
    }
    if (keys.length > 0 && federationKey === undefined) fail(`gives ${draft.name} only composite @key fields: the GraphQL connector supports single-field keys only`);
    const fields = new Map<string, RemoteField>();
    for (const node of draft.fields) {
      const name = node.name.value;
      if (fields.has(name)) fail(`defines ${draft.name}.${name} twice`);
      if (directiveNamed(node.directives, 'inaccessible').length > 0) continue;
      // The hub's representations carry only the key: a field that needs other subgraphs' fields cannot be fetched.
      if (directiveNamed(node.directives, 'requires').length > 0) fail(`marks ${draft.name}.${name} @requires: the hub sends only the key in a representation, so it cannot fetch such a field (mark it @inaccessible, or drop it)`);
      // An @external field belongs to another subgraph (unless it is the key the representation carries).
      if (directiveNamed(node.directives, 'external').length > 0 && name !== federationKey) continue;
      fields.set(name, toField(node));
    }
    if (federationKey !== undefined && !fields.has(federationKey)) fail(`keys ${draft.name} by "${federationKey}", which is not one of its fields`);
    result.set(draft.name, { name: draft.name, ...(draft.description !== undefined ? { description: draft.description } : {}), fields, ...(federationKey !== undefined ? { federationKey } : {}) });
  }
  const rootFields = new Map<string, RemoteField>();
  for (const node of query?.fields ?? []) {
    if (node.name.value.startsWith('_') || directiveNamed(node.directives, 'inaccessible').length > 0) continue;
    rootFields.set(node.name.value, toField(node));
  }
  const otherDefinitions = new Map<string, RemoteNamedDefinition>();
  for (const draft of others.values()) otherDefinitions.set(draft.name, { ...draft, values: draft.values });
  // Every type a kept field names must be defined (an interface or union was refused above).
  const known = (name: string) => BUILT_IN_SCALARS.has(name) || result.has(name) || otherDefinitions.has(name);
  for (const type of result.values()) {
    for (const field of type.fields.values()) {
      const named = namedTypeOf(field.type);
      if (!known(named)) fail(`types ${type.name}.${field.name} as ${named}, which it does not define`);
    }
  }
  for (const field of rootFields.values()) {
    const named = namedTypeOf(field.type);
    if (!known(named)) fail(`types ${queryName}.${field.name} as ${named}, which it does not define`);
  }
  return { objects: result, others: otherDefinitions, query: rootFields };
}

/** The named type under list and non-null wrappers. */
export function namedTypeOf(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedTypeOf(type.type);
}

/** True when the type is (a non-null of) a list. */
export function isListTypeNode(type: TypeNode): boolean {
  return type.kind === Kind.LIST_TYPE || (type.kind === Kind.NON_NULL_TYPE && type.type.kind === Kind.LIST_TYPE);
}
