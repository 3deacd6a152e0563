/**
 * Subjects from the reply: every person, enterprise and property whose data a reply carries is a
 * subject of the request's access record, not only the identifiers the operation names at its
 * root. The execution schema records each entity where it is resolved (any field whose type is
 * Person, Enterprise, Property, or a union of them: `property.owners.owner`, `transfers.to`,
 * `payments.payer` …), so a citizen's `dataAccesses` and an auditor's `accessLog(subject:)` find
 * an access however the person was reached.
 *
 * Consent follows the same path. Under a purpose that requires the consent of the persons
 * concerned, a person reached through a link (not named at the root, where the consent stage
 * checked it) is withheld unless the request carries a valid consent of theirs: the link field
 * resolves to null with MISSING_CONSENT, and no field of that person is fetched.
 */
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, getNamedType, isUnionType, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import type { SubjectKind, SubjectRef } from '../audit';
import { HubError, HubErrorCode } from '../sdk';

/** The entity types whose instances are subjects, and the key of their identifier. */
const ENTITIES: Readonly<Record<string, { kind: SubjectKind; key: string }>> = {
  Person: { kind: 'PERSON', key: 'idNumber' },
  Enterprise: { kind: 'ENTERPRISE', key: 'creditCode' },
  Property: { kind: 'PROPERTY', key: 'unitNumber' },
};

/** What the recording resolvers read of a request's context. */
export interface SubjectContext {
  /** The subjects resolved so far, by `KIND:id`. */
  readonly replySubjects?: Map<string, SubjectRef>;
  readonly decision?: {
    /** Set when the purpose requires the consent of the persons concerned: the persons with a valid consent in the request. */
    readonly consentedPersons?: ReadonlySet<string>;
  } | null;
}

/** The entity behind a resolved value (a reference such as `{ idNumber }`), when it is one. */
function entityOf(value: unknown, possible: readonly string[]): SubjectRef | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const object = value as Record<string, unknown>;
  for (const typeName of possible) {
    const entity = ENTITIES[typeName]!;
    const id = object[entity.key];
    if (typeof id === 'string' && id.length > 0) return { kind: entity.kind, id };
  }
  return undefined;
}

/** A person reached through a link, under a purpose that requires consent, without one. */
export class MissingConsentError extends HubError {
  constructor() {
    super(HubErrorCode.MISSING_CONSENT, 'This person is withheld: the purpose requires their consent, and the request carries none.');
  }
}

/**
 * The schema with subject recording (and the consent rule for linked persons) on every field that
 * returns an entity. Root fields record their subjects too; the consent stage has checked them.
 */
export function subjectRecordingSchema(schema: GraphQLSchema): GraphQLSchema {
  const rootName = schema.getQueryType()?.name ?? 'Query';
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, _fieldName, typeName) => {
      const named = getNamedType(config.type);
      const possible = isUnionType(named) ? named.getTypes().map((t) => t.name).filter((n) => n in ENTITIES) : named.name in ENTITIES ? [named.name] : [];
      if (possible.length === 0) return config;
      const atRoot = typeName === rootName;
      const resolve = config.resolve ?? defaultFieldResolver;
      const visit = (value: unknown, context: SubjectContext): unknown => {
        if (Array.isArray(value)) return value.map((item) => visit(item, context));
        const entity = entityOf(value, possible);
        if (entity === undefined) return value;
        context.replySubjects?.set(`${entity.kind}:${entity.id}`, entity);
        const consented = context.decision?.consentedPersons;
        if (!atRoot && entity.kind === 'PERSON' && consented !== undefined && !consented.has(entity.id)) return new MissingConsentError();
        return value;
      };
      return {
        ...config,
        resolve: (source, args, context: SubjectContext, info: GraphQLResolveInfo) => {
          const value = resolve(source, args, context, info);
          return value instanceof Promise ? value.then((v) => visit(v, context)) : visit(value, context);
        },
      };
    },
  });
}
