import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import type { Sensitivity } from '../sdk';

/** A response path, as in `errors[].path`: keys and list indexes. */
export type ResponsePath = readonly (string | number)[];

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

function maskLeaf(value: unknown, kind: Sensitivity): unknown {
  if (typeof value === 'string') return maskValue(kind, value);
  if (Array.isArray(value)) return value.map((v) => maskLeaf(v, kind));
  return value;
}

/** What the masking resolvers read of a request's context: the decision (its masked coordinates) and where to report masked paths. */
export interface MaskingContext {
  readonly decision?: { readonly maskedCoordinates: ReadonlySet<string> } | null;
  /** Masked response paths, in the order they were resolved (for `extensions.masked`). */
  readonly maskedPaths?: ResponsePath[];
}

function pathOf(info: GraphQLResolveInfo): ResponsePath {
  const path: (string | number)[] = [];
  for (let p: GraphQLResolveInfo['path'] | undefined = info.path; p; p = p.prev) path.unshift(p.key);
  return path;
}

/**
 * The schema requests execute against: every field that has a sensitivity (`@share(sensitivity:)`)
 * masks its value when the request's decision masks its coordinate (`Type.field`). Masking
 * happens where the value is resolved, by the object's schema type and field, so no alias,
 * fragment, directive or `__typename` in the operation can steer it; a value that is not masked
 * never passes through anything the operation controls.
 */
export function maskingSchema(schema: GraphQLSchema, sensitivityOf: (coordinate: string) => Sensitivity | null): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      const coordinate = `${typeName}.${fieldName}`;
      const kind = sensitivityOf(coordinate);
      if (kind === null) return config;
      const resolve = config.resolve ?? defaultFieldResolver;
      const masked = (value: unknown, context: MaskingContext, info: GraphQLResolveInfo): unknown => {
        if (value === null || value === undefined || !context?.decision?.maskedCoordinates.has(coordinate)) return value;
        context.maskedPaths?.push(pathOf(info));
        return maskLeaf(value, kind);
      };
      return {
        ...config,
        resolve: (source, args, context: MaskingContext, info) => {
          const value = resolve(source, args, context, info);
          return value instanceof Promise ? value.then((v) => masked(v, context, info)) : masked(value, context, info);
        },
      };
    },
  });
}
