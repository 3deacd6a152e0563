import {
  Kind,
  getNamedType,
  isAbstractType,
  isInterfaceType,
  isObjectType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { HubError, HubErrorCode } from '../sdk';

/** Most field selections one operation may make (fragments counted where spread). */
export const MAX_FIELD_SELECTIONS = 10_000;

/** What a root argument identifies: a natural person, an enterprise, a property unit. */
export type SubjectKind = 'person' | 'enterprise' | 'property';

const SUBJECT_ARGUMENTS: Readonly<Record<string, SubjectKind>> = {
  idNumber: 'person',
  idNumbers: 'person',
  creditCode: 'enterprise',
  creditCodes: 'enterprise',
  unitNumber: 'property',
  unitNumbers: 'property',
};

/** A root argument naming subjects, resolved against the variables of each request. */
export interface SubjectArgument {
  readonly kind: SubjectKind;
  /** Response key of the root field (its alias, if any). */
  readonly responseKey: string;
  readonly argument: string;
  readonly value: ValueNode;
}

/** One selection of a field under a response key: the field and the type condition it was selected under. */
export interface ResponseEntry {
  /** The type the selection set containing the field was written for (object, interface or union). */
  readonly parentType: string;
  readonly fieldName: string;
  /** The selections under the field, when it returns an object. */
  child: ResponseNode | undefined;
}

/**
 * The response object produced by a selection set, with every field that may appear in it, by
 * response key: the walk's own bookkeeping, so that a fragment spread twice into one object is
 * walked once.
 */
export interface ResponseNode {
  /** The field's named return type (the root type at the top). */
  readonly type: string;
  readonly fields: Map<string, ResponseEntry[]>;
  /** Fragment spreads already walked into this node, by `name@type`, so that a repeated spread costs nothing. */
  readonly walked: Set<string>;
}

/** Everything the policy needs from one operation of a document, computed once per document. */
export interface OperationAnalysis {
  readonly operationType: 'query' | 'mutation' | 'subscription';
  readonly operationName: string | undefined;
  /** Every field coordinate the operation may read (concrete types; `__typename` excluded), sorted. */
  readonly reads: readonly string[];
  readonly subjects: readonly SubjectArgument[];
  readonly introspectsSchema: boolean;
  /** The `name` arguments of `__type` selections. */
  readonly introspectedTypes: readonly ValueNode[];
  /** Default values of the operation's variables. */
  readonly variableDefaults: ReadonlyMap<string, ValueNode>;
}

function pickOperation(document: DocumentNode, operationName: string | undefined | null): OperationDefinitionNode {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) {
    const found = operations.find((o) => o.name?.value === operationName);
    if (!found) throw new HubError(HubErrorCode.BAD_USER_INPUT, `Unknown operation named "${operationName}".`);
    return found;
  }
  if (operations.length !== 1) {
    throw new HubError(HubErrorCode.BAD_USER_INPUT, operations.length === 0 ? 'The document has no operation.' : 'Must provide operation name if query contains multiple operations.');
  }
  return operations[0]!;
}

function newNode(type: string): ResponseNode {
  return { type, fields: new Map(), walked: new Set() };
}

/** Walks one operation of a document over the schema: every field under every fragment, alias and directive, as if all were selected. */
export function analyseOperation(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): OperationAnalysis {
  const operation = pickOperation(document, operationName);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

  const rootType =
    operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const rootName = rootType?.name ?? (operation.operation === 'query' ? 'Query' : operation.operation === 'mutation' ? 'Mutation' : 'Subscription');

  const reads = new Set<string>();
  const subjects: SubjectArgument[] = [];
  const introspectedTypes: ValueNode[] = [];
  let introspectsSchema = false;
  let budget = MAX_FIELD_SELECTIONS;

  const coordinatesOf = (parent: GraphQLNamedType | undefined, parentName: string, fieldName: string): string[] => {
    if (parent !== undefined && isObjectType(parent)) return [`${parentName}.${fieldName}`];
    if (parent !== undefined && isInterfaceType(parent) && parent.getFields()[fieldName] !== undefined) {
      const impls = schema.getPossibleTypes(parent);
      return impls.length > 0 ? impls.map((t) => `${t.name}.${fieldName}`) : [`${parentName}.${fieldName}`];
    }
    return [`${parentName}.${fieldName}`];
  };

  const walk = (selectionSet: SelectionSetNode, parentName: string, node: ResponseNode, atRoot: boolean, active: ReadonlySet<string>): void => {
    const parent = schema.getType(parentName);
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (--budget < 0) throw new HubError(HubErrorCode.BAD_USER_INPUT, `The operation selects more than ${MAX_FIELD_SELECTIONS} fields.`);
        const name = selection.name.value;
        const key = selection.alias?.value ?? name;
        if (name === '__typename') continue;
        if (name === '__schema') {
          introspectsSchema = true;
          continue;
        }
        if (name === '__type') {
          const arg = selection.arguments?.find((a) => a.name.value === 'name');
          introspectedTypes.push(arg?.value ?? { kind: Kind.NULL });
          continue;
        }
        for (const c of coordinatesOf(parent, parentName, name)) reads.add(c);
        if (atRoot) {
          for (const arg of selection.arguments ?? []) {
            const kind = SUBJECT_ARGUMENTS[arg.name.value];
            if (kind !== undefined) subjects.push({ kind, responseKey: key, argument: arg.name.value, value: arg.value });
          }
        }
        const fieldDef = parent !== undefined && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
        let entries = node.fields.get(key);
        if (entries === undefined) node.fields.set(key, (entries = []));
        let entry = entries.find((e) => e.parentType === parentName && e.fieldName === name);
        if (entry === undefined) entries.push((entry = { parentType: parentName, fieldName: name, child: undefined }));
        if (selection.selectionSet) {
          const childType = fieldDef ? getNamedType(fieldDef.type).name : `${parentName}.${name}`;
          entry.child ??= newNode(childType);
          walk(selection.selectionSet, childType, entry.child, false, active);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, selection.typeCondition?.name.value ?? parentName, node, atRoot, active);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment === undefined || active.has(name)) continue; // unknown or cyclic: execution reads nothing there
        const condition = fragment.typeCondition.name.value;
        const mark = `${name}@${parentName}`;
        if (node.walked.has(mark)) continue;
        node.walked.add(mark);
        walk(fragment.selectionSet, condition, node, atRoot, new Set([...active, name]));
      }
    }
  };

  const tree = newNode(rootName);
  walk(operation.selectionSet, rootName, tree, true, new Set());
  const variableDefaults = new Map<string, ValueNode>();
  for (const v of operation.variableDefinitions ?? []) if (v.defaultValue) variableDefaults.set(v.variable.name.value, v.defaultValue);
  return {
    operationType: operation.operation,
    operationName: operation.name?.value,
    reads: [...reads].sort(),
    subjects,
    introspectsSchema,
    introspectedTypes,
    variableDefaults,
  };
}
