/**
 * From the remote schema and the classification to the connector's plan: the hub SDL it adds to
 * the graph (every field classified with `@share`, every list bounded with `@listSize`, `seal` on
 * sealed types), how each type's records are fetched (the full field set, entities as their
 * key), and how each root field is answered. Pure: no I/O, so it is tested on its own.
 */
import { Kind, print, type InputValueDefinitionNode, type TypeNode } from 'graphql';
import { ConnectorDefinitionError } from '../errors';
import { isListTypeNode, namedTypeOf, type RemoteField, type RemoteSchema } from './remote-schema';
import { DEFAULT_CLASSIFICATION, type GraphqlClassification, type GraphqlMode, type PlainBatch } from './settings';

/** The hub's shared entities and their key fields (schema/shared.graphql). */
export const DEFAULT_SHARED_ENTITIES: Readonly<Record<string, string>> = Object.freeze({ Person: 'idNumber', Enterprise: 'creditCode', Property: 'unitNumber' });

/** The pseudo-department of the seal fields (their `@share(department:)`). */
const SEAL_DEPARTMENT = 'seal';

/** How one field is shared, defaults applied. */
export interface ResolvedClassification {
  readonly class: 'UNCONDITIONAL' | 'CONDITIONAL' | 'NOT_SHARED';
  readonly purposes: readonly string[];
  readonly sensitivity?: string;
  readonly updateCycle: string;
  readonly listSize: number;
}

/**
 * What a field's value is, for fetching and checking: a scalar or enum, a reference to an entity
 * (its key only), or an object fetched whole (a nested object; a keyed record the connector adds
 * to a shared entity).
 */
export type FieldTarget = 'leaf' | 'ref' | 'object';

/** One field of a type of the plan. */
export interface FieldPlan {
  readonly name: string;
  readonly type: TypeNode;
  /** The named type under the wrappers. */
  readonly named: string;
  readonly target: FieldTarget;
  readonly classification: ResolvedClassification;
}

/** How the hub knows one remote object type: a shared entity it extends, a keyed record type, or a nested object. */
export interface TypePlan {
  readonly name: string;
  readonly kind: 'shared' | 'keyed' | 'object';
  /** The key field (shared and keyed types). */
  readonly key?: string;
  /** The fields the connector fetches and the hub shows (a shared entity's key excluded: the hub has it). */
  readonly fields: readonly FieldPlan[];
  readonly sealed: boolean;
  /** Plain mode: the batch root field that fetches its records. */
  readonly batch?: PlainBatch & { readonly argumentType: TypeNode };
}

/** How one remote root field is answered: through the records loader of its type (the argument is the key), or as its own call. */
export interface RootPlan {
  readonly name: string;
  readonly field: RemoteField;
  readonly named: string;
  readonly target: FieldTarget;
  readonly classification: ResolvedClassification;
  /** Set when the field takes exactly the key of a keyed type: it is answered by that type's loader. */
  readonly byKey?: { readonly typeName: string; readonly argument: string };
}

/** The connector's plan: what it adds to the graph and how it fetches it. */
export interface GraphqlPlan {
  readonly connector: string;
  readonly mode: GraphqlMode;
  readonly types: ReadonlyMap<string, TypePlan>;
  readonly roots: ReadonlyMap<string, RootPlan>;
  /** Values of each remote enum, to check replies. */
  readonly enums: ReadonlyMap<string, ReadonlySet<string>>;
  /** The SDL the connector adds to the graph. */
  readonly typeDefs: string;
  /** The full selection of each type (a shared entity: the connector's fields only). */
  selectionOf(typeName: string): string;
}

/** What `derivePlan` needs. */
export interface DerivePlanOptions {
  readonly connector: string;
  readonly remote: RemoteSchema;
  readonly classification: GraphqlClassification;
  readonly mode: GraphqlMode;
  /** Plain mode: batch root fields by type name. */
  readonly batch?: Readonly<Record<string, PlainBatch>>;
  /** The hub's shared entities and their keys. @default DEFAULT_SHARED_ENTITIES */
  readonly entities?: Readonly<Record<string, string>>;
  /** Sealed types. @default every keyed type that is not a shared entity */
  readonly sealed?: readonly string[];
}

function stripNonNull(type: TypeNode): TypeNode {
  return type.kind === Kind.NON_NULL_TYPE ? type.type : type;
}

function printArgument(arg: InputValueDefinitionNode): string {
  const description = arg.description ? `${JSON.stringify(arg.description.value)} ` : '';
  return `${description}${arg.name.value}: ${print(arg.type)}${arg.defaultValue ? ` = ${print(arg.defaultValue)}` : ''}`;
}

/**
 * Derives the connector's plan and hub SDL. Fails (ConnectorDefinitionError, naming the
 * connector and the type, field, setting or classification entry) on anything it cannot serve:
 * a field whose arguments lack defaults, a classification entry for no field, a sealed type
 * without a key, plain mode without a batch field for a type it needs, a cycle of nested objects.
 */
export function derivePlan(options: DerivePlanOptions): GraphqlPlan {
  const { connector, remote, mode, classification } = options;
  const entities = options.entities ?? DEFAULT_SHARED_ENTITIES;
  const fail = (problem: string): never => {
    throw new ConnectorDefinitionError(`GraphQL connector "${connector}": ${problem}`);
  };
  const batch = mode === 'plain' ? (options.batch ?? {}) : {};
  if (mode === 'federation' && options.batch && Object.keys(options.batch).length > 0) fail('batch applies only to mode "plain"');

  // Keys: shared entities by the hub's rule; others by @key (federation) or their batch entry (plain).
  const keyOf = new Map<string, { kind: 'shared' | 'keyed'; key: string }>();
  for (const type of remote.objects.values()) {
    const shared = entities[type.name];
    if (shared !== undefined) {
      if (!type.fields.has(shared)) fail(`the remote type ${type.name} is a shared entity of the hub but has no ${shared} field (its key)`);
      keyOf.set(type.name, { kind: 'shared', key: shared });
    } else if (mode === 'federation' && type.federationKey !== undefined) {
      keyOf.set(type.name, { kind: 'keyed', key: type.federationKey });
    } else if (mode === 'plain' && batch[type.name] !== undefined) {
      const entry = batch[type.name]!;
      const key = entry.key ?? (type.fields.has(entry.argument) ? entry.argument : undefined);
      if (key === undefined || !type.fields.has(key)) fail(`batch.${type.name}: key must name the field of ${type.name} that holds the key (set "key")`);
      keyOf.set(type.name, { kind: 'keyed', key: key! });
    }
  }
  for (const name of Object.keys(batch)) if (!remote.objects.has(name)) fail(`batch.${name}: the remote schema has no object type ${name}`);
  for (const [name, k] of keyOf) {
    const keyType = remote.objects.get(name)!.fields.get(k.key)!.type;
    if (isListTypeNode(keyType) || !['ID', 'String', 'Int'].includes(namedTypeOf(keyType))) fail(`${name}.${k.key}, the key of ${name}, must be an ID, String or Int`);
  }

  const sealedNames = new Set(options.sealed ?? [...keyOf].filter(([, k]) => k.kind === 'keyed').map(([name]) => name));
  for (const name of sealedNames) {
    if (!remote.objects.has(name)) fail(`sealed type ${name} is not an object type of the remote schema`);
    const k = keyOf.get(name);
    if (k === undefined) fail(`sealed type ${name} has no key (${mode === 'federation' ? 'give it a @key' : `configure batch.${name}`})`);
    if (k!.kind === 'shared') fail(`sealed type ${name} is a shared entity of the hub: the connector seals its own record types only`);
  }

  // The classification, per hub coordinate.
  const fieldsOf = classification.fields ?? {};
  const defaults = { updateCycle: classification.defaults?.updateCycle ?? DEFAULT_CLASSIFICATION.updateCycle, listSize: classification.defaults?.listSize ?? DEFAULT_CLASSIFICATION.listSize };
  const used = new Set<string>();
  const classify = (coordinate: string, type: TypeNode): ResolvedClassification => {
    const entry = fieldsOf[coordinate];
    used.add(coordinate);
    const named = namedTypeOf(type);
    if (entry?.sensitivity !== undefined && named !== 'String' && named !== 'ID') fail(`classification of ${coordinate}: sensitivity ${entry.sensitivity} applies to String or ID fields, this one is ${named}`);
    if (entry?.listSize !== undefined && !isListTypeNode(type)) fail(`classification of ${coordinate}: listSize applies to list fields only`);
    if (entry === undefined) return { class: 'NOT_SHARED', purposes: [], updateCycle: defaults.updateCycle, listSize: defaults.listSize };
    return {
      class: entry.class,
      purposes: entry.purposes ?? [],
      ...(entry.sensitivity !== undefined ? { sensitivity: entry.sensitivity } : {}),
      updateCycle: entry.updateCycle ?? defaults.updateCycle,
      listSize: entry.listSize ?? defaults.listSize,
    };
  };

  const targetOf = (named: string): FieldTarget => (keyOf.has(named) ? 'ref' : remote.objects.has(named) ? 'object' : 'leaf');
  const types = new Map<string, TypePlan>();
  for (const type of remote.objects.values()) {
    const k = keyOf.get(type.name);
    const fields: FieldPlan[] = [];
    for (const field of type.fields.values()) {
      if (k?.kind === 'shared' && field.name === k.key) continue;
      const coordinate = `${type.name}.${field.name}`;
      const withoutDefault = field.args.filter((a) => a.defaultValue === undefined).map((a) => a.name.value);
      if (withoutDefault.length > 0) {
        fail(`${coordinate} takes argument${withoutDefault.length > 1 ? 's' : ''} ${withoutDefault.join(', ')} without a default: the hub fetches every field of a record once, so a field below the root may take only arguments with defaults`);
      }
      const named = namedTypeOf(field.type);
      // What the connector adds to a shared entity is fetched whole, a keyed record included: one call per nesting level.
      const target = k?.kind === 'shared' && keyOf.get(named)?.kind === 'keyed' ? 'object' : targetOf(named);
      fields.push({ name: field.name, type: field.type, named, target, classification: classify(coordinate, field.type) });
    }
    const entry = batch[type.name];
    let batchPlan: TypePlan['batch'];
    if (entry !== undefined) {
      const root = remote.query.get(entry.rootField);
      if (!root) fail(`batch.${type.name}.rootField: the remote Query has no field ${entry.rootField}`);
      const arg = root!.args.find((a) => a.name.value === entry.argument);
      if (!arg) fail(`batch.${type.name}.argument: ${entry.rootField} takes no argument ${entry.argument}`);
      if (namedTypeOf(root!.type) !== type.name) fail(`batch.${type.name}.rootField: ${entry.rootField} returns ${namedTypeOf(root!.type)}, not ${type.name}`);
      const listArg = isListTypeNode(arg!.type);
      const listResult = isListTypeNode(root!.type);
      if (entry.aliased === true && (listArg || listResult)) fail(`batch.${type.name}: with aliased, ${entry.rootField} must take one key and return one ${type.name}`);
      if (entry.aliased !== true && (!listArg || !listResult)) fail(`batch.${type.name}: ${entry.rootField} must take a list of keys and return a list (or set aliased: true)`);
      batchPlan = { ...entry, argumentType: arg!.type };
    }
    types.set(type.name, {
      name: type.name,
      kind: k?.kind ?? 'object',
      ...(k ? { key: k.key } : {}),
      fields,
      sealed: sealedNames.has(type.name),
      ...(batchPlan ? { batch: batchPlan } : {}),
    });
  }
  if (mode === 'plain') {
    for (const t of types.values()) {
      if (t.kind === 'shared' && t.fields.length > 0 && !t.batch) fail(`mode "plain" needs batch.${t.name} to resolve ${t.name}.${t.fields[0]!.name} (a root field that fetches ${t.name} by ${t.key})`);
    }
  }

  const roots = new Map<string, RootPlan>();
  for (const field of remote.query.values()) {
    const named = namedTypeOf(field.type);
    // The hub's own root fields reach the shared entities; the remote's would collide with them.
    if (keyOf.get(named)?.kind === 'shared') continue;
    const target = targetOf(named);
    const k = keyOf.get(named);
    const only = field.args.length === 1 ? field.args[0]!.name.value : undefined;
    const byKey = k?.kind === 'keyed' && !isListTypeNode(field.type) && only !== undefined && only === k.key ? { typeName: named, argument: only } : undefined;
    roots.set(field.name, { name: field.name, field, named, target, classification: classify(`Query.${field.name}`, field.type), ...(byKey ? { byKey } : {}) });
  }

  for (const coordinate of Object.keys(fieldsOf)) {
    if (!used.has(coordinate)) {
      const dot = coordinate.indexOf('.');
      const typeName = coordinate.slice(0, dot);
      const fieldName = coordinate.slice(dot + 1);
      const key = entities[typeName];
      const why = key === fieldName ? `${coordinate} is the hub's own key of ${typeName}` : typeName === 'Query' ? `the hub SDL has no root field ${fieldName} (a remote root field returning a shared entity is left out)` : `the remote schema has no field ${coordinate}`;
      fail(`classification of ${coordinate}: ${why}`);
    }
  }

  const selections = new Map<string, string>();
  const selectionOf = (typeName: string, trail: readonly string[] = []): string => {
    const known = selections.get(typeName);
    if (known !== undefined) return known;
    if (trail.includes(typeName)) fail(`the nested objects ${[...trail, typeName].join(' → ')} form a cycle without a keyed type: the hub cannot fetch such a record whole`);
    const type = types.get(typeName);
    if (!type) return fail(`no object type ${typeName}`);
    const parts = type.fields.map((f) => {
      if (f.target === 'leaf') return f.name;
      if (f.target === 'ref') return `${f.name} { ${keyOf.get(f.named)!.key} }`;
      return `${f.name} { ${selectionOf(f.named, [...trail, typeName])} }`;
    });
    // A keyed record always carries its key; a shared entity's fields come without it (the hub has it).
    const text = parts.join(' ');
    selections.set(typeName, text);
    return text;
  };
  for (const type of types.values()) if (type.kind !== 'shared' || type.fields.length > 0) selectionOf(type.name);

  const enums = new Map<string, ReadonlySet<string>>();
  for (const other of remote.others.values()) {
    if (other.kind === 'enum') enums.set(other.name, new Set(other.values.map((v) => v.name.value)));
  }

  const typeDefs = printHubSdl(connector, remote, types, roots);
  return { connector, mode, types, roots, enums, typeDefs, selectionOf: (name) => selectionOf(name) };
}

function share(connector: string, c: ResolvedClassification): string {
  const parts = [`class: ${c.class}`];
  if (c.class === 'CONDITIONAL') parts.push(`purposes: [${c.purposes.map((p) => JSON.stringify(p)).join(', ')}]`);
  if (c.sensitivity !== undefined) parts.push(`sensitivity: ${c.sensitivity}`);
  parts.push(`department: ${JSON.stringify(connector)}`, `updateCycle: ${c.updateCycle}`);
  return `@share(${parts.join(', ')})`;
}

function printField(connector: string, name: string, description: string | undefined, type: TypeNode, args: string, c: ResolvedClassification): string {
  const doc = description ? `  ${JSON.stringify(description)}\n` : '';
  const listSize = isListTypeNode(type) ? ` @listSize(max: ${c.listSize})` : '';
  return `${doc}  ${name}${args}: ${print(type)}${listSize} ${share(connector, c)}`;
}

function printHubSdl(
  connector: string,
  remote: RemoteSchema,
  types: ReadonlyMap<string, TypePlan>,
  roots: ReadonlyMap<string, RootPlan>,
): string {
  const blocks: string[] = [`# Derived by the GraphQL connector "${connector}" from the department's schema; do not edit.`];
  const sealField = `  "Seal of the department record."\n  seal: Seal @share(class: UNCONDITIONAL, department: "${SEAL_DEPARTMENT}", updateCycle: REAL_TIME)`;
  for (const type of types.values()) {
    const remoteType = remote.objects.get(type.name)!;
    const lines = type.fields.map((f) => {
      const field = remoteType.fields.get(f.name)!;
      // A field added to a shared entity is nullable: a department that fails yields null there, not a failed parent.
      const hubType = type.kind === 'shared' ? stripNonNull(f.type) : f.type;
      return printField(connector, f.name, field.description, hubType, '', f.classification);
    });
    if (type.sealed) lines.push(sealField);
    if (type.kind === 'shared') {
      if (lines.length > 0) blocks.push(`extend type ${type.name} {\n${lines.join('\n')}\n}`);
    } else {
      const doc = remoteType.description ? `${JSON.stringify(remoteType.description)}\n` : '';
      blocks.push(`${doc}type ${type.name} {\n${lines.join('\n')}\n}`);
    }
  }
  for (const other of remote.others.values()) {
    const doc = other.description ? `${JSON.stringify(other.description)}\n` : '';
    if (other.kind === 'scalar') blocks.push(`${doc}scalar ${other.name}`);
    else if (other.kind === 'enum') {
      blocks.push(`${doc}enum ${other.name} {\n${other.values.map((v) => `${v.description ? `  ${JSON.stringify(v.description.value)}\n` : ''}  ${v.name.value}`).join('\n')}\n}`);
    } else {
      blocks.push(`${doc}input ${other.name} {\n${other.values.map((v) => `  ${printArgument(v as InputValueDefinitionNode)}`).join('\n')}\n}`);
    }
  }
  const rootLines: string[] = [];
  for (const root of roots.values()) {
    const args = root.field.args.length > 0 ? `(${root.field.args.map(printArgument).join(', ')})` : '';
    // Root fields are nullable: a department that fails yields null and an error naming it.
    const type = stripNonNull(root.field.type);
    rootLines.push(printField(connector, root.name, root.field.description, type, args, root.classification));
  }
  if (rootLines.length > 0) blocks.push(`extend type Query {\n${rootLines.join('\n')}\n}`);
  return `${blocks.join('\n\n')}\n`;
}
