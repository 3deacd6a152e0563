/**
 * Checks a department's reply against the plan and copies it into the hub's record shape: every
 * selected field present with a value of its declared type, entities reduced to references
 * (`{ idNumber }`), keyed records found on the way collected (to prime their loaders). A reply
 * that does not fit is UPSTREAM_INVALID_RESPONSE naming the field coordinate, never a value.
 */
import { Kind, type TypeNode } from 'graphql';
import { UpstreamInvalidResponseError } from '../errors';
import type { FieldPlan, GraphqlPlan } from './plan';

/** A record of the connector: a JSON object under the remote field names. */
export type GraphqlRecord = Record<string, unknown>;

/** A keyed record found inside a reply. */
export interface FoundRecord {
  readonly typeName: string;
  readonly key: string;
  readonly record: GraphqlRecord;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The string form of a key value (an ID may come as a number). */
export function keyString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return undefined;
}

/** Copies and checks reply values against the plan. */
export class ReplyReader {
  /** Keyed records met while reading (nested ones included). */
  readonly found: FoundRecord[] = [];

  constructor(
    private readonly plan: GraphqlPlan,
    private readonly connector: string,
  ) {}

  private invalid(reason: string): never {
    throw new UpstreamInvalidResponseError(this.connector, reason);
  }

  /** A value of the given (remote) type at `where` (a field coordinate). */
  value(type: TypeNode, value: unknown, where: string): unknown {
    if (type.kind === Kind.NON_NULL_TYPE) {
      if (value === null || value === undefined) this.invalid(`${where} is ${value === null ? 'null' : 'missing'}, but its type is non-null`);
      return this.value(type.type, value, where);
    }
    if (value === undefined) this.invalid(`${where} is missing`);
    if (value === null) return null;
    if (type.kind === Kind.LIST_TYPE) {
      if (!Array.isArray(value)) this.invalid(`${where} is not a list`);
      return (value as unknown[]).map((item) => this.value(type.type, item, `${where}[]`));
    }
    const name = type.name.value;
    switch (name) {
      case 'String':
        return typeof value === 'string' ? value : this.invalid(`${where} is not a String`);
      case 'ID':
        return keyString(value) ?? this.invalid(`${where} is not an ID`);
      case 'Int':
        return typeof value === 'number' && Number.isInteger(value) ? value : this.invalid(`${where} is not an Int`);
      case 'Float':
        return typeof value === 'number' && Number.isFinite(value) ? value : this.invalid(`${where} is not a Float`);
      case 'Boolean':
        return typeof value === 'boolean' ? value : this.invalid(`${where} is not a Boolean`);
    }
    const values = this.plan.enums.get(name);
    if (values) return typeof value === 'string' && values.has(value) ? value : this.invalid(`${where} is not a value of the enum ${name}`);
    const typePlan = this.plan.types.get(name);
    // A custom scalar: any JSON value.
    if (!typePlan) return value;
    if (!isObject(value)) return this.invalid(`${where} is not a ${name} object`);
    return this.record(name, value, where);
  }

  /**
   * A record of type `typeName`: every planned field, nothing else. A field typed as an entity is
   * a reference (`{ key }`); a keyed record read whole is collected in `found`.
   */
  record(typeName: string, value: unknown, where: string = typeName): GraphqlRecord {
    const type = this.plan.types.get(typeName);
    if (!type) return this.invalid(`${where} has an unknown type`);
    if (!isObject(value)) return this.invalid(`${where} is not a ${typeName} object`);
    const out: GraphqlRecord = {};
    for (const field of type.fields) out[field.name] = this.field(typeName, field, value[field.name]);
    if (type.kind === 'keyed') {
      const key = keyString(out[type.key!]);
      if (key === undefined) this.invalid(`${typeName}.${type.key} (its key) is missing`);
      this.found.push({ typeName, key: key!, record: out });
    }
    return out;
  }

  private field(typeName: string, field: FieldPlan, value: unknown): unknown {
    const where = `${typeName}.${field.name}`;
    if (field.target !== 'ref') return this.value(field.type, value, where);
    return this.refs(field.type, value, where, field.named);
  }

  /** References to an entity type, in the field's list shape. */
  private refs(type: TypeNode, value: unknown, where: string, named: string): unknown {
    if (type.kind === Kind.NON_NULL_TYPE) {
      if (value === null || value === undefined) this.invalid(`${where} is ${value === null ? 'null' : 'missing'}, but its type is non-null`);
      return this.refs(type.type, value, where, named);
    }
    if (value === undefined) this.invalid(`${where} is missing`);
    if (value === null) return null;
    if (type.kind === Kind.LIST_TYPE) {
      if (!Array.isArray(value)) this.invalid(`${where} is not a list`);
      return (value as unknown[]).map((item) => this.refs(type.type, item, `${where}[]`, named));
    }
    const keyField = this.plan.types.get(named)!.key!;
    if (!isObject(value)) return this.invalid(`${where} is not a ${named} reference`);
    const key = keyString(value[keyField]);
    if (key === undefined) return this.invalid(`${where}.${keyField} (the key of ${named}) is missing or not an identifier`);
    return { [keyField]: key };
  }
}
