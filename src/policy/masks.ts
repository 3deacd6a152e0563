import { isObjectType, type GraphQLSchema } from 'graphql';
import type { Sensitivity } from '../sdk';
import { concreteTypesOf, type ResponseNode } from './analysis';

/** A response path, as in `errors[].path`: keys and list indexes. */
export type ResponsePath = readonly (string | number)[];

/** One field selection in the mask plan: the concrete types it applies to and how each masks it. */
interface MaskEntry {
  readonly concrete: ReadonlySet<string>;
  /** Concrete type → how its value is masked, for the masked coordinates only. */
  readonly masks: ReadonlyMap<string, Sensitivity>;
  readonly child: MaskNode | undefined;
}

/** The part of an operation's response tree that leads to masked values. */
export interface MaskNode {
  /** The object type of this response object, when the schema fixes it; undefined for a union or interface. */
  readonly objectType: string | undefined;
  readonly typenameKeys: readonly string[];
  readonly fields: ReadonlyMap<string, readonly MaskEntry[]>;
}

const keep = (value: string, head: number, tail: number): string => {
  const chars = Array.from(value);
  if (chars.length <= head + tail) return '*'.repeat(chars.length);
  return chars.slice(0, head).join('') + '*'.repeat(chars.length - head - tail) + chars.slice(chars.length - tail).join('');
};

// Province (省/自治区), then city (市/州/盟/地区), then the district (区/县/旗/县级市): kept; the rest is dropped.
const DISTRICT = /^((?:.+?(?:省|自治区))?(?:.+?(?:自治州|地区|市|州|盟))?.+?(?:区|县|旗|市))/u;

/**
 * Masks one value by its sensitivity kind: ID numbers keep the first 6 and last 4 characters
 * (`371702********1234`), phone numbers the first 3 and last 4 (`138****5678`), names the first
 * and last character (`王*明`, `王*`), addresses end after the district.
 */
export function maskValue(kind: Sensitivity, value: string): string {
  switch (kind) {
    case 'ID_NUMBER':
      return keep(value, 6, 4);
    case 'PHONE':
      return keep(value, 3, 4);
    case 'NAME': {
      const chars = Array.from(value);
      if (chars.length <= 1) return '*';
      if (chars.length === 2) return `${chars[0]}*`;
      return keep(value, 1, 1);
    }
    case 'ADDRESS': {
      const match = DISTRICT.exec(value);
      return match ? match[1]! : '*'.repeat(Math.min(Array.from(value).length, 4));
    }
  }
}

/** Compiles the mask plan of an operation: only the branches of its response tree that lead to a masked coordinate. */
export function compileMaskPlan(schema: GraphQLSchema, tree: ResponseNode, masked: ReadonlyMap<string, Sensitivity>): MaskNode | undefined {
  if (masked.size === 0) return undefined;
  const compile = (node: ResponseNode): MaskNode | undefined => {
    const fields = new Map<string, MaskEntry[]>();
    for (const [key, entries] of node.fields) {
      const kept: MaskEntry[] = [];
      for (const e of entries) {
        const concrete = new Set(concreteTypesOf(schema, e.parentType));
        const masks = new Map<string, Sensitivity>();
        for (const t of concrete) {
          const kind = masked.get(`${t}.${e.fieldName}`);
          if (kind !== undefined) masks.set(t, kind);
        }
        const child = e.child ? compile(e.child) : undefined;
        if (masks.size > 0 || child !== undefined) kept.push({ concrete, masks, child });
      }
      if (kept.length > 0) fields.set(key, kept);
    }
    if (fields.size === 0) return undefined;
    const type = schema.getType(node.type);
    return { objectType: type !== undefined && isObjectType(type) ? type.name : undefined, typenameKeys: [...node.typenameKeys], fields };
  };
  return compile(tree);
}

function maskLeaf(value: unknown, kind: Sensitivity): unknown {
  if (typeof value === 'string') return maskValue(kind, value);
  if (Array.isArray(value)) return value.map((v) => maskLeaf(v, kind));
  return value;
}

/**
 * Masks, in place, the values of a result's data that the plan masks, following the response
 * keys of the operation (aliases honoured); returns the masked response paths. Where a union or
 * interface hides the concrete type and `__typename` was not selected, a key is masked when any
 * of its possible fields is (never less than the plan).
 */
export function applyMaskPlan(data: Record<string, unknown> | null | undefined, plan: MaskNode | undefined): ResponsePath[] {
  const maskedPaths: ResponsePath[] = [];
  if (plan === undefined || data === null || data === undefined) return maskedPaths;
  const visit = (value: unknown, node: MaskNode, path: (string | number)[]): void => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, node, [...path, i]));
      return;
    }
    if (typeof value !== 'object') return;
    const object = value as Record<string, unknown>;
    let type = node.objectType;
    if (type === undefined) {
      for (const k of node.typenameKeys) {
        if (typeof object[k] === 'string') {
          type = object[k] as string;
          break;
        }
      }
    }
    for (const [key, entries] of node.fields) {
      if (!(key in object)) continue;
      const applicable = type === undefined ? entries : entries.filter((e) => e.concrete.has(type));
      let kind: Sensitivity | undefined;
      for (const e of applicable) {
        kind = type === undefined ? e.masks.values().next().value : e.masks.get(type);
        if (kind !== undefined) break;
      }
      const here = [...path, key];
      if (kind !== undefined && object[key] !== null && object[key] !== undefined) {
        object[key] = maskLeaf(object[key], kind);
        maskedPaths.push(here);
      }
      for (const e of applicable) if (e.child !== undefined) visit(object[key], e.child, here);
    }
  };
  visit(data, plan, []);
  return maskedPaths;
}
