/**
 * Cost limits of a query, checked before any department is called: the document's size and
 * tokens while it is parsed, then its depth, aliases, root fields and estimated result size by
 * validation rules. The estimate multiplies the `@listSize` bounds of the schema's list fields
 * along each path, so a cyclic grant (person → properties → owners → person …) cannot turn a
 * one-kilobyte query into megabytes of reply. graphql-js only: no transport here.
 */
import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  SchemaMetaFieldDef,
  TokenKind,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isIntrospectionType,
  isListType,
  isObjectType,
  parse,
  valueFromASTUntyped,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'graphql';
import type { QueryLimitOverrides } from '../policy';
import { HubError, HubErrorCode } from '../sdk';

/** The cost limits of one query; each is a positive integer. */
export interface QueryLimits {
  /** UTF-8 bytes of the query document, checked before parsing. */
  maxDocumentBytes: number;
  /** Lexical tokens of the document (punctuation, names, values), checked while parsing. */
  maxTokens: number;
  /** Nesting of fields: `{ person { properties { owners { share } } } }` is 4; fragments expanded, introspection counted. */
  maxDepth: number;
  /** Aliased fields of an operation and the fragments it uses. */
  maxAliases: number;
  /** Distinct root fields (response keys) of an operation. */
  maxRootFields: number;
  /** List items the reply can hold at most: the product of the `@listSize` bounds along each path, summed over the operation. */
  maxEstimatedResults: number;
}

/**
 * Limits for every consumer without its own: an order of magnitude above the largest worked
 * queries (README, examples, tests, benchmarks), far below the depth-16 cyclic query.
 */
export const DEFAULT_LIMITS: Readonly<QueryLimits> = Object.freeze({
  maxDocumentBytes: 64 * 1024,
  maxTokens: 5000,
  maxDepth: 15,
  maxAliases: 30,
  maxRootFields: 20,
  maxEstimatedResults: 50_000,
});

// The policy's per-consumer overrides name exactly these limits (src/policy may not import the gateway).
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : never) : never;
const OVERRIDES_MATCH_LIMITS: SameKeys<QueryLimits, QueryLimitOverrides> = true;
void OVERRIDES_MATCH_LIMITS;

/** The limits of one consumer: its policy's overrides over the defaults. */
export function resolveLimits(overrides: Readonly<QueryLimitOverrides> = {}, defaults: Readonly<QueryLimits> = DEFAULT_LIMITS): QueryLimits {
  const limits: QueryLimits = { ...defaults };
  for (const key of Object.keys(limits) as (keyof QueryLimits)[]) {
    const value = overrides[key];
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

/** The name of the `@listSize` directive in the SDL (schema/shared.graphql). */
export const LIST_SIZE_DIRECTIVE = 'listSize';

/** Items assumed for a list field that declares no `@listSize` (the hub's schema has none: test/unit/gateway/limits.test.ts). */
export const UNDECLARED_LIST_SIZE = 100;

const LABELS: Readonly<Record<keyof QueryLimits, string>> = {
  maxDocumentBytes: 'Query document size in bytes',
  maxTokens: 'Query token count',
  maxDepth: 'Query depth',
  maxAliases: 'Number of aliases',
  maxRootFields: 'Number of root fields',
  maxEstimatedResults: 'Estimated result size',
};

/** A query over one of the cost limits; refused before any department is called. */
export class QueryTooComplexError extends HubError {
  declare readonly code: 'QUERY_TOO_COMPLEX';
  /** The limit that was exceeded. */
  readonly limit: keyof QueryLimits;
  /** What the query measured (for maxTokens: the token at which parsing stopped). */
  readonly value: number;
  /** The limit's value. */
  readonly max: number;

  constructor(limit: keyof QueryLimits, value: number, max: number) {
    super(HubErrorCode.QUERY_TOO_COMPLEX, `${LABELS[limit]} ${value} exceeds the limit of ${max} (${limit}).`, { limit, value, max });
    this.limit = limit;
    this.value = value;
    this.max = max;
  }
}

// graphql-js 16: "Syntax Error: Document contains more that N tokens. Parsing aborted." (sic), or "than" once fixed.
const TOKEN_LIMIT_MESSAGE = /Document contains more tha[nt] \d+ tokens/;

/** Deepest nesting of `{`, `[` and `(` in the document, read by the lexer (no recursion); -1 when it does not lex. */
function bracketNesting(source: string): number {
  const lexer = new Lexer(new Source(source));
  let depth = 0;
  let deepest = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (token.kind === TokenKind.BRACE_L || token.kind === TokenKind.BRACKET_L || token.kind === TokenKind.PAREN_L) deepest = Math.max(deepest, ++depth);
      else if (token.kind === TokenKind.BRACE_R || token.kind === TokenKind.BRACKET_R || token.kind === TokenKind.PAREN_R) depth--;
    }
  } catch {
    return -1;
  }
  return deepest;
}

/**
 * Parses a query document within the limits: over `maxDocumentBytes` it is refused unread, over
 * `maxTokens` the parser stops, and nesting too deep for the parser's recursion ends as a
 * QueryTooComplexError, never a RangeError. Other syntax errors are graphql-js's GraphQLError.
 */
export function parseBounded(source: string, limits: QueryLimits): DocumentNode {
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > limits.maxDocumentBytes) throw new QueryTooComplexError('maxDocumentBytes', bytes, limits.maxDocumentBytes);
  try {
    return parse(source, { maxTokens: limits.maxTokens, noLocation: false });
  } catch (error) {
    if (error instanceof GraphQLError && TOKEN_LIMIT_MESSAGE.test(error.message)) {
      throw new QueryTooComplexError('maxTokens', limits.maxTokens + 1, limits.maxTokens);
    }
    if (error instanceof RangeError) {
      const nesting = bracketNesting(source);
      throw nesting > limits.maxDepth ? new QueryTooComplexError('maxDepth', nesting, limits.maxDepth) : new QueryTooComplexError('maxTokens', limits.maxTokens + 1, limits.maxTokens);
    }
    throw error;
  }
}

/** How one list field is bounded, as its `@listSize` states it. */
interface ListSize {
  readonly max: number;
  /** An argument (of the field, else of the field that returned its parent) whose value bounds the items. */
  readonly sizedBy: string | null;
  /** Items per unit of `sizedBy`. */
  readonly perUnit: number;
}

const listSizeCache = new WeakMap<GraphQLSchema, ReadonlyMap<string, ListSize>>();
const boundsCache = new WeakMap<GraphQLSchema, ReadonlyMap<string, number>>();

function isList(field: GraphQLField<unknown, unknown>): boolean {
  return isListType(getNullableType(field.type));
}

/** A `@listSize` the SDL declares wrongly: a schema error, found when the schema is first checked. */
function listSizeInvalid(message: string): HubError {
  return new HubError('SCHEMA_CLASSIFICATION_INVALID', message);
}

function listSizesOf(schema: GraphQLSchema): ReadonlyMap<string, ListSize> {
  const cached = listSizeCache.get(schema);
  if (cached) return cached;
  const sizes = new Map<string, ListSize>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || !(isObjectType(type) || isInterfaceType(type))) continue;
    for (const field of Object.values(type.getFields())) {
      const directive = field.astNode?.directives?.find((d) => d.name.value === LIST_SIZE_DIRECTIVE);
      if (!directive) continue;
      const coordinate = `${type.name}.${field.name}`;
      const args = new Map((directive.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)] as const));
      const max = args.get('max');
      const sizedBy = args.get('sizedBy') ?? null;
      const perUnit = args.get('perUnit') ?? 1;
      if (!isList(field)) throw listSizeInvalid(`${coordinate}: @${LIST_SIZE_DIRECTIVE} is only for list fields`);
      if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) throw listSizeInvalid(`${coordinate}: @${LIST_SIZE_DIRECTIVE}(max:) must be a positive integer`);
      if (sizedBy !== null && typeof sizedBy !== 'string') throw listSizeInvalid(`${coordinate}: @${LIST_SIZE_DIRECTIVE}(sizedBy:) must be an argument name`);
      if (typeof perUnit !== 'number' || !Number.isSafeInteger(perUnit) || perUnit < 1) throw listSizeInvalid(`${coordinate}: @${LIST_SIZE_DIRECTIVE}(perUnit:) must be a positive integer`);
      sizes.set(coordinate, Object.freeze({ max, sizedBy, perUnit }));
    }
  }
  listSizeCache.set(schema, sizes);
  return sizes;
}

/** The `@listSize(max:)` of every list field that declares one, by coordinate (`Type.field`); read once per schema. */
export function listBoundsOf(schema: GraphQLSchema): Map<string, number> {
  let bounds = boundsCache.get(schema);
  if (!bounds) {
    bounds = new Map([...listSizesOf(schema)].map(([coordinate, size]) => [coordinate, size.max]));
    boundsCache.set(schema, bounds);
  }
  return new Map(bounds);
}

/** The list fields that declare no `@listSize` (introspection types excluded), sorted by coordinate. */
export function unboundedLists(schema: GraphQLSchema): string[] {
  const sizes = listSizesOf(schema);
  const out: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || !(isObjectType(type) || isInterfaceType(type))) continue;
    for (const field of Object.values(type.getFields())) {
      if (isList(field) && !sizes.has(`${type.name}.${field.name}`)) out.push(`${type.name}.${field.name}`);
    }
  }
  return out.sort();
}

/** Options of `limitRules`. */
export interface LimitRuleOptions {
  /** The request's variables, when known: a list argument given as a variable then counts by its length. */
  variables?: Readonly<Record<string, unknown>> | null;
}

/** The field definition a selection names, including the introspection meta-fields; undefined when unknown. */
function fieldDef(schema: GraphQLSchema, parent: GraphQLNamedType | undefined, node: FieldNode): GraphQLField<unknown, unknown> | undefined {
  const name = node.name.value;
  if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
  if (parent !== undefined && parent === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return parent !== undefined && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
}

function rootTypeOf(schema: GraphQLSchema, operation: OperationDefinitionNode): GraphQLNamedType | undefined {
  return schema.getRootType(operation.operation) ?? undefined;
}

/** Depth of a selection set: fields nest, fragments do not; each fragment's depth is computed once, a cycle counts as 0. */
function depthOf(context: ValidationContext, selectionSet: SelectionSetNode): number {
  const memo = new Map<string, number>();
  const inProgress = new Set<string>();
  const depth = (set: SelectionSetNode): number => {
    let deepest = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) deepest = Math.max(deepest, 1 + (selection.selectionSet ? depth(selection.selectionSet) : 0));
      else if (selection.kind === Kind.INLINE_FRAGMENT) deepest = Math.max(deepest, depth(selection.selectionSet));
      else {
        const name = selection.name.value;
        let d = memo.get(name);
        if (d === undefined) {
          const fragment = context.getFragment(name);
          if (!fragment || inProgress.has(name)) continue;
          inProgress.add(name);
          d = depth(fragment.selectionSet);
          inProgress.delete(name);
          memo.set(name, d);
        }
        deepest = Math.max(deepest, d);
      }
    }
    return deepest;
  };
  return depth(selectionSet);
}

/** Aliases of an operation's selections and of every fragment it reaches (each fragment once). */
function aliasesOf(context: ValidationContext, operation: OperationDefinitionNode): number {
  let count = 0;
  const seen = new Set<string>();
  const stack: SelectionSetNode[] = [operation.selectionSet];
  for (let set = stack.pop(); set !== undefined; set = stack.pop()) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.alias) count++;
        if (selection.selectionSet) stack.push(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        stack.push(selection.selectionSet);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = context.getFragment(selection.name.value);
        if (fragment) stack.push(fragment.selectionSet);
      }
    }
  }
  return count;
}

/** Distinct response keys at the root of an operation, through its fragments. */
function rootFieldsOf(context: ValidationContext, operation: OperationDefinitionNode): number {
  const keys = new Set<string>();
  const seen = new Set<string>();
  const stack: SelectionSetNode[] = [operation.selectionSet];
  for (let set = stack.pop(); set !== undefined; set = stack.pop()) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) keys.add((selection.alias ?? selection.name).value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) stack.push(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = context.getFragment(selection.name.value);
        if (fragment) stack.push(fragment.selectionSet);
      }
    }
  }
  return keys.size;
}

/** The number of items an argument value stands for: a list's length, an integer itself; undefined when unknown. */
function sizeOfValue(value: ValueNode, variables: Readonly<Record<string, unknown>> | null | undefined): number | undefined {
  if (value.kind === Kind.VARIABLE) {
    if (!variables || !Object.prototype.hasOwnProperty.call(variables, value.name.value)) return undefined;
    const given = variables[value.name.value];
    if (Array.isArray(given)) return given.length;
    if (typeof given === 'number' && Number.isFinite(given)) return Math.max(0, Math.ceil(given));
    return given === null || given === undefined ? undefined : 1;
  }
  if (value.kind === Kind.LIST) return value.values.length;
  if (value.kind === Kind.INT) return Math.max(0, Number(value.value));
  if (value.kind === Kind.NULL) return undefined;
  return 1; // A single value where a list is expected is a list of one.
}

/** Items one occurrence of a list field can return, from its `@listSize` and the arguments it names. */
function itemsOf(
  field: GraphQLField<unknown, unknown>,
  size: ListSize | undefined,
  node: FieldNode,
  parentField: { def: GraphQLField<unknown, unknown>; node: FieldNode } | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
): number {
  if (!size) return UNDECLARED_LIST_SIZE;
  if (size.sizedBy === null) return size.max;
  // The argument of the field itself, else of the field that returned its parent (a connection's `first` for its `edges`).
  const owner = field.args.some((a) => a.name === size.sizedBy) ? { def: field, node } : parentField?.def.args.some((a) => a.name === size.sizedBy) ? parentField : undefined;
  if (!owner) return size.max;
  const given = owner.node.arguments?.find((a) => a.name.value === size.sizedBy);
  let units = given ? sizeOfValue(given.value, variables) : undefined;
  if (units === undefined && !given) {
    const fallback = owner.def.args.find((a) => a.name === size.sizedBy)?.defaultValue;
    if (typeof fallback === 'number') units = fallback;
    else if (Array.isArray(fallback)) units = fallback.length;
  }
  return units === undefined ? size.max : Math.min(size.max, units * size.perUnit);
}

/**
 * Estimated list items of an operation: for each list field, the product of the items of every
 * list field on its path including itself, summed. Introspection lists (the caller's view of the
 * schema, no department data) count as one. A fragment's estimate is computed once per parent
 * field, so spreading fragments into each other cannot make this check itself expensive.
 */
function estimateOf(context: ValidationContext, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | null | undefined): number {
  const schema = context.getSchema();
  const sizes = listSizesOf(schema);
  type Parent = { def: GraphQLField<unknown, unknown>; node: FieldNode } | undefined;
  const fragmentMemo = new Map<string, Map<FieldNode | undefined, number>>();
  const inProgress = new Set<string>();
  // Items under one selection set, per one instance of its parent object.
  const itemsUnder = (set: SelectionSetNode, parentType: GraphQLNamedType | undefined, parentField: Parent): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const def = fieldDef(schema, parentType, selection);
        if (!def) continue;
        const introspection = parentType !== undefined && isIntrospectionType(parentType);
        const list = isList(def) && !introspection && def !== SchemaMetaFieldDef && def !== TypeMetaFieldDef;
        const coordinate = parentType ? `${parentType.name}.${def.name}` : def.name;
        const items = list ? itemsOf(def, sizes.get(coordinate), selection, parentField, variables) : 1;
        const below = selection.selectionSet ? itemsUnder(selection.selectionSet, getNamedType(def.type), { def, node: selection }) : 0;
        total += (list ? items : 0) + items * below;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parentType;
        total += itemsUnder(selection.selectionSet, type ?? undefined, parentField);
      } else {
        const name = selection.name.value;
        const fragment = context.getFragment(name);
        if (!fragment || inProgress.has(name)) continue;
        const byParent = fragmentMemo.get(name) ?? new Map<FieldNode | undefined, number>();
        fragmentMemo.set(name, byParent);
        let items = byParent.get(parentField?.node);
        if (items === undefined) {
          inProgress.add(name);
          items = itemsUnder(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? undefined, parentField);
          inProgress.delete(name);
          byParent.set(parentField?.node, items);
        }
        total += items;
      }
    }
    return total;
  };
  return itemsUnder(operation.selectionSet, rootTypeOf(schema, operation), undefined);
}

type Measure = (context: ValidationContext, operation: OperationDefinitionNode) => number;

function operationRule(limit: keyof QueryLimits, max: number, measure: Measure): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const value = measure(context, operation);
      if (value > max) context.reportError(new QueryTooComplexError(limit, Number.isSafeInteger(value) ? value : Number.MAX_SAFE_INTEGER, max));
      return false;
    },
  });
}

/**
 * Validation rules for the limits checked on the parsed document: depth, aliases, root fields
 * and estimated result size, each reporting a QueryTooComplexError per operation. They run before
 * graphql-js's own rules, so they take unknown fields and fragments, and fragment cycles, in stride.
 */
export function limitRules(limits: QueryLimits, options: LimitRuleOptions = {}): ValidationRule[] {
  return [
    operationRule('maxDepth', limits.maxDepth, (context, operation) => depthOf(context, operation.selectionSet)),
    operationRule('maxAliases', limits.maxAliases, aliasesOf),
    operationRule('maxRootFields', limits.maxRootFields, rootFieldsOf),
    operationRule('maxEstimatedResults', limits.maxEstimatedResults, (context, operation) => estimateOf(context, operation, options.variables)),
  ];
}
