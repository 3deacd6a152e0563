/**
 * What a peer hub grants this hub, checked before asking it: the peer's `myGrants(purpose)` for
 * this hub's consumer id there, kept a short while per purpose, against every field a forwarded
 * root field selects (in the peer's names). A root field that reads something the peer does not
 * grant this hub for the purpose is refused here (POLICY_DENIED naming the peer and the fields),
 * without a call; the others go. The peer's own policy still decides every request (a grant may
 * end between the check and the call): this only spares the peer, and the caller, a request the
 * peer would refuse.
 */
import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/** The peer's grants for one purpose, in its coordinates (`Person.taxRecords`). */
export interface PeerGrants {
  /** Whether the peer lets this hub read `coordinate` for the purpose. */
  allows(coordinate: string): boolean;
}

/** Departments whose fields every consumer of the peer may read without a grant (its seals, its catalogue). */
const OPEN_DEPARTMENTS: ReadonlySet<string> = new Set(['seal', 'catalog']);

/** Grants from a `myGrants` answer: `fields { coordinate purpose }`, a null purpose meaning any. */
export function peerGrantsOf(fields: readonly { coordinate?: unknown; purpose?: unknown }[], purpose: string, open: ReadonlySet<string>): PeerGrants {
  const granted = new Set<string>();
  for (const f of fields) {
    if (typeof f?.coordinate === 'string' && (f.purpose === null || f.purpose === undefined || f.purpose === purpose)) granted.add(f.coordinate);
  }
  return { allows: (coordinate) => open.has(coordinate) || granted.has(coordinate) };
}

/** The peer's coordinates every consumer may read (fields of its open departments), from its schema's @share. */
export function openCoordinates(remote: GraphQLSchema): Set<string> {
  const open = new Set<string>();
  for (const type of Object.values(remote.getTypeMap())) {
    if (!(isObjectType(type) || isInterfaceType(type)) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const share = field.astNode?.directives?.find((d) => d.name.value === 'share');
      const department = share?.arguments?.find((a) => a.name.value === 'department')?.value;
      if (department?.kind === Kind.STRING && OPEN_DEPARTMENTS.has(department.value)) open.add(`${type.name}.${field.name}`);
    }
  }
  return open;
}

/**
 * The peer's coordinates a root field reads (itself as `Query.<field>`, then every field of its
 * selection, fragments followed), given this hub's schema and the prefixed → peer names.
 */
export function coordinatesRead(
  root: { readonly remoteField: string; readonly node: FieldNode; readonly typeName: string },
  schema: GraphQLSchema,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  remoteNames: ReadonlyMap<string, string>,
): Set<string> {
  const read = new Set<string>([`Query.${root.remoteField}`]);
  const walk = (set: SelectionSetNode, typeName: string, seen: ReadonlySet<string>): void => {
    const type = schema.getType(typeName);
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const owners = type && isInterfaceType(type) ? schema.getPossibleTypes(type).map((t) => t.name) : [typeName];
        for (const owner of owners) read.add(`${remoteNames.get(owner) ?? owner}.${name}`);
        const field = type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[name] : undefined;
        if (selection.selectionSet && field) walk(selection.selectionSet, getNamedType(field.type).name, seen);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, selection.typeCondition?.name.value ?? typeName, seen);
      } else {
        const fragment = fragments[selection.name.value];
        if (fragment && !seen.has(selection.name.value)) walk(fragment.selectionSet, fragment.typeCondition.name.value, new Set([...seen, selection.name.value]));
      }
    }
  };
  if (root.node.selectionSet) walk(root.node.selectionSet, root.typeName, new Set());
  return read;
}
