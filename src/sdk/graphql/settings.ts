/**
 * The settings of a GraphQL connector (`connectors.<id>.*` in the hub's configuration) and the
 * classification file that says how each remote field is shared, both as zod schemas whose
 * messages name the setting or the field coordinate at fault.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConnectorDefinitionError } from '../errors';

/** How the hub talks to the department's GraphQL service. */
export type GraphqlMode = 'federation' | 'plain';

/** JSON text (from an environment variable) is parsed; anything else is left to the schema. */
function jsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** How the records of one type are fetched in plain mode (`batch.<Type>`). */
export const plainBatchSchema = z.strictObject({
  rootField: z.string().regex(NAME, 'rootField must be a GraphQL field name of the remote Query type'),
  argument: z.string().regex(NAME, 'argument must be a GraphQL argument name of rootField'),
  /** One single-key root field called under aliases k0..kN in one document, instead of a list argument. */
  aliased: z.boolean({ error: 'aliased must be true or false' }).optional(),
  /** The field of the returned objects that holds the key (a shared entity's key by default, else `argument` when the type has such a field). */
  key: z.string().regex(NAME, 'key must be a GraphQL field name').optional(),
});

/** One `batch` entry of the plain mode. */
export type PlainBatch = z.output<typeof plainBatchSchema>;

const positiveInt = (name: string) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`).positive(`${name} must be a positive whole number`);

/** The settings of a GraphQL connector, `z.strictObject` (an unknown setting is refused by name). */
export const graphqlSettingsSchema = z
  .strictObject({
    /** The connector kind, when the configuration names it (`connectors.<id>.type: "graphql"` without a folder). */
    type: z.literal('graphql', { error: 'type must be "graphql" for a GraphQL connector' }).optional(),
    /** The department's GraphQL endpoint, `https://fund.example.gov.cn/graphql`. */
    url: z.url({ protocol: /^https?$/, error: 'url must be an absolute http(s) URL of the GraphQL endpoint' }),
    /** Per-call timeout in milliseconds. @default the hub's default */
    timeoutMs: positiveInt('timeoutMs').optional(),
    /** Keep-alive connections to the service. @default 16 */
    connections: positiveInt('connections').optional(),
    /** Static headers sent with every call (an authorization, say); never echoed in an error. */
    headers: z.preprocess(jsonText, z.record(z.string(), z.string(), { error: 'headers must be an object of header names to string values' })).optional(),
    /** `federation` (an Apollo Federation subgraph: `_service`, `_entities`) or `plain` (any GraphQL service). */
    mode: z.enum(['federation', 'plain'], { error: 'mode must be "federation" or "plain"' }).default('federation'),
    /** The remote SDL snapshot; when absent, `typeDefs()` fetches it from the service. */
    schemaFile: z.string().min(1, 'schemaFile must be a file path').optional(),
    /** The classification JSON file (how each remote field is shared). */
    classificationFile: z.string().min(1, 'classificationFile must be a file path').optional(),
    /** Plain mode: how the records of each entity type are fetched in one call, by type name. */
    batch: z.preprocess(jsonText, z.record(z.string().regex(NAME, 'batch keys must be GraphQL type names'), plainBatchSchema, { error: 'batch must be an object of type names to { rootField, argument }' })).optional(),
  })
  .superRefine((settings, ctx) => {
    if (settings.batch !== undefined && settings.mode !== 'plain') {
      ctx.addIssue({ code: 'custom', path: ['batch'], message: 'batch applies only to mode "plain" (federation fetches through _entities)' });
    }
  });

/** Validated settings of a GraphQL connector. */
export type GraphqlSettings = z.output<typeof graphqlSettingsSchema>;

const SHARING_CLASS = z.enum(['UNCONDITIONAL', 'CONDITIONAL', 'NOT_SHARED'], { error: 'class must be UNCONDITIONAL, CONDITIONAL or NOT_SHARED' });
const UPDATE_CYCLE = z.enum(['REAL_TIME', 'DAILY', 'WEEKLY', 'MONTHLY', 'QUARTERLY', 'YEARLY'], {
  error: 'updateCycle must be REAL_TIME, DAILY, WEEKLY, MONTHLY, QUARTERLY or YEARLY',
});
const SENSITIVITY = z.enum(['ID_NUMBER', 'PHONE', 'NAME', 'ADDRESS'], { error: 'sensitivity must be ID_NUMBER, PHONE, NAME or ADDRESS' });
const PURPOSE = z.string().regex(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, 'purposes must be SCREAMING_SNAKE_CASE purpose codes');
const LIST_SIZE = z.number().int('listSize must be a whole number').positive('listSize must be a positive whole number');

/** How one remote field is shared (`fields["Type.field"]` of the classification). */
export const fieldClassificationSchema = z
  .strictObject({
    class: SHARING_CLASS,
    purposes: z.array(PURPOSE).optional(),
    sensitivity: SENSITIVITY.optional(),
    updateCycle: UPDATE_CYCLE.optional(),
    /** For a list field: the most items it returns (`@listSize(max:)`). */
    listSize: LIST_SIZE.optional(),
  })
  .superRefine((field, ctx) => {
    if (field.class === 'CONDITIONAL' && (field.purposes ?? []).length === 0) ctx.addIssue({ code: 'custom', path: ['purposes'], message: 'a CONDITIONAL field names the purposes that unlock it' });
    if (field.class !== 'CONDITIONAL' && field.purposes !== undefined) ctx.addIssue({ code: 'custom', path: ['purposes'], message: `only a CONDITIONAL field names purposes, this one is ${field.class}` });
  });

/** The classification of a GraphQL connector's fields: defaults and one entry per `Type.field` coordinate. */
export const classificationSchema = z.strictObject({
  defaults: z
    .strictObject({
      /** Update cycle of fields that name none. @default DAILY */
      updateCycle: UPDATE_CYCLE.optional(),
      /** `@listSize(max:)` of list fields that name none. @default 100 */
      listSize: LIST_SIZE.optional(),
    })
    .optional(),
  fields: z.record(z.string().regex(/^[_A-Za-z]\w*\.[_A-Za-z]\w*$/, 'fields keys must be Type.field coordinates'), fieldClassificationSchema).optional(),
});

/** A classification, as written in the JSON file or given in code. */
export type ClassificationInput = z.input<typeof classificationSchema>;
/** A validated classification. */
export type GraphqlClassification = z.output<typeof classificationSchema>;
/** The validated classification of one field. */
export type FieldClassificationEntry = z.output<typeof fieldClassificationSchema>;

/** Defaults of the classification. */
export const DEFAULT_CLASSIFICATION = Object.freeze({ updateCycle: 'DAILY', listSize: 100 } as const);

/** One readable line per zod issue, each naming the setting or entry at fault (its path, unless the message starts with it). */
export function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .map((issue) => {
      // A record key's issue carries the key schema's own message inside it.
      const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
      const message = inner ?? issue.message;
      const path = issue.path.map(String).join('.');
      const last = String(issue.path[issue.path.length - 1] ?? '');
      const named = path === '' || (last !== '' && message.startsWith(last) && issue.path.length === 1);
      return named ? `${prefix}: ${message}` : `${prefix} ${JSON.stringify(path)}: ${message}`;
    })
    .join('; ');
}

/** Validates a classification (an object), naming the connector and every problem. */
export function parseClassification(connector: string, input: unknown): GraphqlClassification {
  const parsed = classificationSchema.safeParse(input);
  if (!parsed.success) throw new ConnectorDefinitionError(`GraphQL connector "${connector}": the classification is invalid: ${describeIssues(parsed.error, 'classification')}`);
  return parsed.data;
}

/** Reads a text file a setting names; a file that cannot be read is named with the setting. */
export function readSettingFile(connector: string, setting: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw new ConnectorDefinitionError(`GraphQL connector "${connector}": ${setting} ${JSON.stringify(file)} cannot be read (${code})`);
  }
}

/** Reads and validates a classification file (JSON). */
export function readClassificationFile(connector: string, file: string): GraphqlClassification {
  const text = readSettingFile(connector, 'classificationFile', file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConnectorDefinitionError(`GraphQL connector "${connector}": classificationFile ${JSON.stringify(file)} is not valid JSON`);
  }
  return parseClassification(connector, json);
}
