import { getDirective } from '@graphql-tools/utils';
import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import type { Sensitivity, SharingClass, UpdateCycle } from '../sdk';
import { SchemaClassificationError } from './errors';

/** The name of the classification directive, `@share`. */
export const SHARE_DIRECTIVE = 'share';

/** Pseudo-department of the fields answered by the hub itself from the identifier the caller gave (schema/shared.graphql). */
export const SHARED_DEPARTMENT = 'shared';

/** Pseudo-department of the catalogue fields (schema/catalog.graphql): hub metadata, open to every consumer without a grant. */
export const CATALOG_DEPARTMENT = 'catalog';

/** Pseudo-department of the seal fields (schema/seal.graphql): a seal discloses only what the reply shows, so it is open to every consumer. */
export const SEAL_DEPARTMENT = 'seal';

/** Pseudo-department of the access-log fields (schema/audit.graphql): granted to auditors, and the citizen's view to the one-window hall. */
export const AUDIT_DEPARTMENT = 'audit';

/** Pseudo-departments whose fields are open to every authenticated consumer without a grant (and cannot be granted). */
export const OPEN_DEPARTMENTS: ReadonlySet<string> = new Set([CATALOG_DEPARTMENT, SEAL_DEPARTMENT]);

const CLASSES: readonly SharingClass[] = ['UNCONDITIONAL', 'CONDITIONAL', 'NOT_SHARED'];
const SENSITIVITIES: readonly Sensitivity[] = ['ID_NUMBER', 'PHONE', 'NAME', 'ADDRESS'];
const CYCLES: readonly UpdateCycle[] = ['REAL_TIME', 'DAILY', 'WEEKLY', 'MONTHLY', 'QUARTERLY', 'YEARLY'];
const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The classification of one field, read from its @share directive. */
export interface FieldClassification {
  /** `Type.field`. */
  readonly coordinate: string;
  readonly typeName: string;
  readonly fieldName: string;
  /** The providing department (`shared` and `catalog` are the hub's own). */
  readonly department: string;
  readonly class: SharingClass;
  readonly purposes: readonly string[];
  readonly sensitivity: Sensitivity | null;
  readonly updateCycle: UpdateCycle;
  /** The field's SDL description, or its coordinate. */
  readonly description: string;
}

/** The classifications of a schema, by field coordinate, plus the fields of each type. */
export interface Classification {
  readonly byCoordinate: ReadonlyMap<string, FieldClassification>;
  /** Coordinates of each object type's fields, in schema order. */
  readonly fieldsOf: ReadonlyMap<string, readonly string[]>;
}

type ClassifiedType = GraphQLObjectType | GraphQLInterfaceType;

function classifiedTypes(schema: GraphQLSchema): ClassifiedType[] {
  return Object.values(schema.getTypeMap()).filter(
    (t): t is ClassifiedType => !t.name.startsWith('__') && (isObjectType(t) || isInterfaceType(t)),
  );
}

function readField(schema: GraphQLSchema, type: ClassifiedType, field: GraphQLField<unknown, unknown>, problems: string[]): FieldClassification | undefined {
  const coordinate = `${type.name}.${field.name}`;
  const found = getDirective(schema, field, SHARE_DIRECTIVE);
  if (found === undefined || found.length === 0) {
    problems.push(`${coordinate} is not classified: add @share(class: ..., department: ..., updateCycle: ...)`);
    return undefined;
  }
  const args = found[0] as Record<string, unknown>;
  const before = problems.length;
  const cls = args['class'] as SharingClass;
  const purposes = (args['purposes'] as string[] | undefined) ?? [];
  const sensitivity = (args['sensitivity'] as Sensitivity | undefined) ?? null;
  const department = args['department'] as string;
  const updateCycle = args['updateCycle'] as UpdateCycle;
  if (!CLASSES.includes(cls)) problems.push(`${coordinate} has an unknown class ${JSON.stringify(cls)}`);
  if (typeof department !== 'string' || !KEBAB.test(department)) problems.push(`${coordinate} needs a kebab-case department, but got: ${JSON.stringify(department)}`);
  if (!CYCLES.includes(updateCycle)) problems.push(`${coordinate} has an unknown update cycle ${JSON.stringify(updateCycle)}`);
  if (cls === 'CONDITIONAL' && purposes.length === 0) problems.push(`${coordinate} is CONDITIONAL but names no purpose that unlocks it`);
  if (cls !== 'CONDITIONAL' && purposes.length > 0) problems.push(`${coordinate} is ${cls}: only a CONDITIONAL field names purposes`);
  if (sensitivity !== null) {
    const named = getNamedType(field.type);
    if (!SENSITIVITIES.includes(sensitivity)) problems.push(`${coordinate} has an unknown sensitivity ${JSON.stringify(sensitivity)}`);
    else if (!isScalarType(named) || (named.name !== 'String' && named.name !== 'ID')) {
      problems.push(`${coordinate} is masked as ${sensitivity} but is not a String or ID`);
    }
  }
  if (problems.length > before) return undefined;
  return Object.freeze({
    coordinate,
    typeName: type.name,
    fieldName: field.name,
    department,
    class: cls,
    purposes: Object.freeze([...purposes]),
    sensitivity,
    updateCycle,
    description: field.description ?? coordinate,
  });
}

function classify(schema: GraphQLSchema): { classification: Classification; problems: string[] } {
  const problems: string[] = [];
  const byCoordinate = new Map<string, FieldClassification>();
  const fieldsOf = new Map<string, string[]>();
  for (const type of classifiedTypes(schema)) {
    const coordinates: string[] = [];
    for (const field of Object.values(type.getFields())) {
      const entry = readField(schema, type, field, problems);
      if (entry !== undefined) byCoordinate.set(entry.coordinate, entry);
      coordinates.push(`${type.name}.${field.name}`);
    }
    if (isObjectType(type)) fieldsOf.set(type.name, coordinates);
  }
  return { classification: { byCoordinate, fieldsOf }, problems };
}

/**
 * Throws a SchemaClassificationError naming every field of an object or interface type (root
 * fields and identifiers included) that lacks a consistent @share classification.
 */
export function assertFullyClassified(schema: GraphQLSchema): void {
  const { problems } = classify(schema);
  if (problems.length > 0) throw new SchemaClassificationError(problems);
}

/** Reads the @share classification of every field; throws like `assertFullyClassified` when one is missing. */
export function readClassification(schema: GraphQLSchema): Classification {
  const { classification, problems } = classify(schema);
  if (problems.length > 0) throw new SchemaClassificationError(problems);
  return classification;
}
