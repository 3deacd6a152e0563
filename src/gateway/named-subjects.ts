/**
 * The persons, enterprises and properties a refused request names, for its access record, so
 * that a citizen's view shows the refusals that concern them ("someone without a valid
 * signature asked for your record"). Read from the body only after the refusal, bounded (size,
 * tokens, number of subjects), and only from the root fields' identifier arguments
 * (`person(idNumber:)`, `enterprise(creditCode:)`, `property(unitNumber:)`…, as literals or
 * variables). Nothing of the body is trusted for anything else: a refusal before
 * authentication names what its sender claimed, which the citizen view says.
 */
import { Kind, parse, type ValueNode } from 'graphql';
import type { SubjectKind, SubjectRef } from '../audit';

const ARGUMENTS: Readonly<Record<string, SubjectKind>> = { idNumber: 'PERSON', creditCode: 'ENTERPRISE', unitNumber: 'PROPERTY' };
/** Bodies larger than this are not looked into. */
const MAX_BODY_BYTES = 64 * 1024;
const MAX_TOKENS = 4000;
/** At most this many subjects per refused request. */
export const MAX_NAMED_SUBJECTS = 10;
const MAX_ID_LENGTH = 64;

function valueOf(node: ValueNode, variables: Record<string, unknown>): string | undefined {
  if (node.kind === Kind.STRING) return node.value;
  if (node.kind === Kind.VARIABLE) {
    const value = variables[node.name.value];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

/** The subjects the body's operation names at its root; [] when it cannot be read. */
export function namedSubjects(body: Buffer | undefined): SubjectRef[] {
  if (!body || body.length === 0 || body.length > MAX_BODY_BYTES) return [];
  try {
    const json = JSON.parse(body.toString('utf8')) as { query?: unknown; variables?: unknown; operationName?: unknown };
    if (typeof json?.query !== 'string') return [];
    const variables = json.variables !== null && typeof json.variables === 'object' && !Array.isArray(json.variables) ? (json.variables as Record<string, unknown>) : {};
    const document = parse(json.query, { noLocation: true, maxTokens: MAX_TOKENS });
    const found = new Map<string, SubjectRef>();
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      if (typeof json.operationName === 'string' && definition.name?.value !== json.operationName) continue;
      for (const selection of definition.selectionSet.selections) {
        if (selection.kind !== Kind.FIELD) continue;
        for (const argument of selection.arguments ?? []) {
          const kind = ARGUMENTS[argument.name.value];
          const id = kind ? valueOf(argument.value, variables) : undefined;
          if (!kind || !id || id.length > MAX_ID_LENGTH) continue;
          found.set(`${kind}:${id}`, { kind, id });
          if (found.size >= MAX_NAMED_SUBJECTS) return [...found.values()];
        }
      }
    }
    return [...found.values()];
  } catch {
    return [];
  }
}
