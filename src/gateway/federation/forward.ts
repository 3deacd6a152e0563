/**
 * What this hub asks a peer hub: the peer root fields of one operation, in one document, each
 * under an alias (`f0`, `f1`, …) with the caller's own selection, arguments and variables, type
 * names given back their peer names (`... on HezePerson` → `... on Person`), fragments inlined,
 * `__typename` added under every abstract type (to know which prefixed type answers). The reply
 * keeps the caller's response keys, so each field of a prefixed type reads its value by its
 * response key. Every object of a sealed type asked for also asks for its seal's token, under an
 * alias of its own (`datarunSealCheck`, numbered when the caller's selection uses that key): the
 * reply is checked against it whether or not the caller selected `seal` (verify-reply.ts), and
 * the check's seal is taken out of the reply again.
 */
import {
  getNamedType,
  isAbstractType,
  isInterfaceType,
  isObjectType,
  Kind,
  OperationTypeNode,
  print,
  visit,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  type TypeNode,
  type VariableDefinitionNode,
} from 'graphql';

/** One root field of the operation asked of the peer. */
export interface ForwardedField {
  /** The peer's root field (`person`). */
  readonly remoteField: string;
  /** The field as the caller wrote it (alias, arguments, selection). */
  readonly node: FieldNode;
  /** This hub's name of the field's type (`HezePerson`): where the selection starts. */
  readonly typeName: string;
}

/** What the document needs of the operation being executed. */
export interface ForwardScope {
  readonly schema: GraphQLSchema;
  readonly fragments: Readonly<Record<string, FragmentDefinitionNode>>;
  readonly operation: OperationDefinitionNode;
  readonly variableValues: Readonly<Record<string, unknown>>;
  /** This hub's name of each peer type → the peer's. */
  readonly remoteNames: ReadonlyMap<string, string>;
  /** This hub's names of the peer's sealed types: each object of one asks for its seal too. @default none */
  readonly sealedTypes?: ReadonlySet<string>;
}

/** A document for the peer and its variables. */
export interface ForwardedDocument {
  readonly query: string;
  readonly variables: Record<string, unknown>;
  /** The root fields as asked (`f0`, `f1`, …, in the peer's names, fragments inlined, seal checks added): what the reply answers. */
  readonly fields: readonly FieldNode[];
}

/** The alias the seal check of an object starts from. */
export const SEAL_CHECK_ALIAS = 'datarunSealCheck';

const sealChecks = new WeakSet<FieldNode>();

/** Whether a field of a forwarded document is a seal check `forwardDocument` added (not the caller's): its value is taken out of the reply. */
export const isSealCheck = (node: FieldNode): boolean => sealChecks.has(node);

/** The response keys of a selection set, its inline fragments' included. */
function responseKeys(set: SelectionSetNode, into = new Set<string>()): Set<string> {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) into.add(selection.alias?.value ?? selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) responseKeys(selection.selectionSet, into);
  }
  return into;
}

/** A seal check under a response key the selection set does not use. */
function sealCheck(set: SelectionSetNode): FieldNode {
  const used = responseKeys(set);
  let alias = SEAL_CHECK_ALIAS;
  for (let n = 1; used.has(alias); n++) alias = `${SEAL_CHECK_ALIAS}${n}`;
  const node: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: alias },
    name: { kind: Kind.NAME, value: 'seal' },
    selectionSet: { kind: Kind.SELECTION_SET, selections: [{ kind: Kind.FIELD, name: { kind: Kind.NAME, value: 'token' } }] },
  };
  sealChecks.add(node);
  return node;
}

const TYPENAME: FieldNode = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } };

/** The alias of the i-th forwarded field. */
export const forwardAlias = (i: number): string => `f${i}`;

/** Builds the peer's document for `fields` (in order: `f0` is the first). */
export function forwardDocument(fields: readonly ForwardedField[], scope: ForwardScope): ForwardedDocument {
  const used = new Set<string>();
  const remoteName = (name: string): string => scope.remoteNames.get(name) ?? name;

  /** `checked`: a field's own selection (not a fragment's), where the seal check goes. */
  const selectionSetOf = (set: SelectionSetNode, typeName: string, seen: ReadonlySet<string>, checked = false): SelectionSetNode => {
    const type = scope.schema.getType(typeName);
    const selections: SelectionNode[] = [];
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        selections.push(fieldOf(selection, typeName));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition?.name.value ?? typeName;
        selections.push({ ...inlineOf(selection, on, seen) });
      } else {
        const name = selection.name.value;
        const fragment = scope.fragments[name];
        // A fragment spread inside itself is refused by validation; guard anyway.
        if (!fragment || seen.has(name)) continue;
        const on = fragment.typeCondition.name.value;
        selections.push({
          kind: Kind.INLINE_FRAGMENT,
          typeCondition: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: remoteName(on) } },
          ...(selection.directives ? { directives: selection.directives } : {}),
          selectionSet: selectionSetOf(fragment.selectionSet, on, new Set([...seen, name])),
        });
      }
    }
    if (type && isAbstractType(type)) selections.push(TYPENAME);
    const built: SelectionSetNode = { kind: Kind.SELECTION_SET, selections };
    // Every sealed object asked for is checked against its seal, selected or not.
    const sealed = scope.sealedTypes;
    if (checked && sealed && sealed.size > 0 && type) {
      if (isObjectType(type) && sealed.has(typeName)) {
        selections.push(sealCheck(built));
      } else if (isAbstractType(type)) {
        for (const possible of scope.schema.getPossibleTypes(type)) {
          if (!sealed.has(possible.name)) continue;
          selections.push({
            kind: Kind.INLINE_FRAGMENT,
            typeCondition: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: remoteName(possible.name) } },
            selectionSet: { kind: Kind.SELECTION_SET, selections: [sealCheck(built)] },
          });
        }
      }
    }
    return built;
  };

  const inlineOf = (fragment: InlineFragmentNode, on: string, seen: ReadonlySet<string>): InlineFragmentNode => ({
    ...fragment,
    ...(fragment.typeCondition ? { typeCondition: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: remoteName(on) } } } : {}),
    selectionSet: selectionSetOf(fragment.selectionSet, on, seen),
  });

  const fieldOf = (node: FieldNode, parentName: string): FieldNode => {
    if (!node.selectionSet) return node;
    const parent = scope.schema.getType(parentName);
    const field = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[node.name.value] : undefined;
    const childName = field ? getNamedType(field.type).name : parentName;
    return { ...node, selectionSet: selectionSetOf(node.selectionSet, childName, new Set(), true) };
  };

  const selections: FieldNode[] = fields.map((f, i) => ({
    ...f.node,
    alias: { kind: Kind.NAME, value: forwardAlias(i) },
    name: { kind: Kind.NAME, value: f.remoteField },
    ...(f.node.selectionSet ? { selectionSet: selectionSetOf(f.node.selectionSet, f.typeName, new Set(), true) } : {}),
  }));
  const root: SelectionSetNode = { kind: Kind.SELECTION_SET, selections };
  visit(root, {
    Variable(node) {
      used.add(node.name.value);
    },
  });
  const renameType = (type: TypeNode): TypeNode =>
    type.kind === Kind.NAMED_TYPE ? { ...type, name: { ...type.name, value: remoteName(type.name.value) } } : { ...type, type: renameType(type.type) as never };
  const definitions: VariableDefinitionNode[] = (scope.operation.variableDefinitions ?? [])
    .filter((d) => used.has(d.variable.name.value))
    .map((d) => ({ ...d, type: renameType(d.type) }));
  const variables: Record<string, unknown> = {};
  for (const d of definitions) {
    const name = d.variable.name.value;
    if (Object.prototype.hasOwnProperty.call(scope.variableValues, name)) variables[name] = scope.variableValues[name];
  }
  const document: OperationDefinitionNode = {
    kind: Kind.OPERATION_DEFINITION,
    operation: OperationTypeNode.QUERY,
    name: { kind: Kind.NAME, value: 'DatarunFederated' },
    variableDefinitions: definitions,
    selectionSet: root,
  };
  return { query: print(document), variables, fields: selections };
}
