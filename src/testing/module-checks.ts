/**
 * The checks of a connector module that need no upstream call: its settings schema is a strict
 * zod object, its SDL parses, every field it adds carries `@share` (and every list field
 * `@listSize`), and every sealed type of its connector has a `seal: Seal` field. Each problem is
 * one sentence naming the module and what is wrong.
 */
import { Kind, parse, type FieldDefinitionNode, type TypeNode } from 'graphql';
import { CONNECTOR_ID_PATTERN, type Connector, type ConnectorModule } from '../sdk';

/** A settings value that no connector has: a strict schema refuses it. */
const UNKNOWN_SETTING = '__datarunConformanceUnknownSetting';

const isList = (type: TypeNode): boolean => (type.kind === Kind.NON_NULL_TYPE ? isList(type.type) : type.kind === Kind.LIST_TYPE);
const namedType = (type: TypeNode): string => (type.kind === Kind.NAMED_TYPE ? type.name.value : namedType(type.type));

/** What is wrong with the settings schema (the settings input is what the test passes to `settings.parse`). */
export function settingsProblems(module: ConnectorModule, settingsInput: unknown): string[] {
  const where = `connector module "${String(module?.id)}"`;
  const schema = module?.settings as unknown as { shape?: unknown; safeParse?: (value: unknown) => { success: boolean; error?: { issues?: { path: PropertyKey[]; message: string }[] } } } | undefined;
  if (!schema || typeof schema.safeParse !== 'function' || !schema.shape || typeof schema.shape !== 'object') return [`${where}: settings must be a zod object schema (z.strictObject({ … }))`];
  const problems: string[] = [];
  const valid = schema.safeParse(settingsInput);
  if (!valid.success) {
    const issues = (valid.error?.issues ?? []).map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`).join('; ');
    problems.push(`${where}: the test's settings do not pass the module's settings schema (${issues})`);
  } else if (settingsInput && typeof settingsInput === 'object' && schema.safeParse({ ...settingsInput, [UNKNOWN_SETTING]: 1 }).success) {
    problems.push(`${where}: settings must refuse unknown keys (use z.strictObject), so that a misspelt setting fails at start instead of being ignored`);
  }
  return problems;
}

/** What is wrong with an SDL a connector adds; `sealedTypes` are the keys of `connector.seals`. */
export function sdlProblems(connectorId: string, sdl: string, sealedTypes: readonly string[]): string[] {
  const where = `connector "${connectorId}"`;
  if (typeof sdl !== 'string' || sdl.trim() === '') return [`${where}: typeDefs must return the SDL the connector adds, but it returned ${sdl === '' ? 'an empty string' : typeof sdl}`];
  let document;
  try {
    document = parse(sdl);
  } catch (error) {
    return [`${where}: typeDefs is not valid GraphQL: ${error instanceof Error ? error.message : String(error)}`];
  }
  const problems: string[] = [];
  const sealFields = new Map<string, FieldDefinitionNode>();
  for (const definition of document.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.OBJECT_TYPE_EXTENSION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_EXTENSION
    ) {
      continue;
    }
    const type = definition.name.value;
    for (const field of definition.fields ?? []) {
      const coordinate = `${type}.${field.name.value}`;
      const directives = new Set((field.directives ?? []).map((d) => d.name.value));
      if (!directives.has('share')) problems.push(`${where}: ${coordinate} has no @share directive (every field the graph shows is classified: UNCONDITIONAL, CONDITIONAL or NOT_SHARED)`);
      if (isList(field.type) && !directives.has('listSize')) problems.push(`${where}: ${coordinate} is a list without @listSize(max: …) (the hub's cost limits need a bound for every list)`);
      if (field.name.value === 'seal') sealFields.set(type, field);
    }
  }
  for (const type of sealedTypes) {
    const field = sealFields.get(type);
    if (!field) problems.push(`${where}: ${type} is sealed (connector.seals) but its SDL adds no "seal: Seal" field to ${type}`);
    else if (namedType(field.type) !== 'Seal' || field.type.kind === Kind.NON_NULL_TYPE) problems.push(`${where}: ${type}.seal must have the type Seal (nullable), not ${namedType(field.type)}`);
  }
  return problems;
}

/** Every problem of a module, given the settings input of a test and, if built, its connector. */
export async function connectorModuleProblems(module: ConnectorModule, settingsInput: unknown, connector?: Connector): Promise<string[]> {
  const id = String(module?.id);
  const problems: string[] = [];
  if (typeof module?.id !== 'string' || !CONNECTOR_ID_PATTERN.test(module.id)) problems.push(`connector module id must be kebab-case, but got: ${JSON.stringify(module?.id)}`);
  if (typeof module?.title !== 'string' || module.title.trim().length < 3) problems.push(`connector module "${id}": title must name the department`);
  const settings = settingsProblems(module, settingsInput);
  problems.push(...settings);
  if (settings.length > 0 || typeof module?.typeDefs !== 'function') return problems;
  const parsed = (module.settings as unknown as { parse(value: unknown): never }).parse(settingsInput);
  let sdl: string;
  try {
    sdl = await module.typeDefs(parsed);
  } catch (error) {
    problems.push(`connector module "${id}": typeDefs failed: ${error instanceof Error ? error.message : String(error)}`);
    return problems;
  }
  problems.push(...sdlProblems(id, sdl, connector ? Object.keys(connector.seals ?? {}) : []));
  if (connector && connector.id !== module.id) problems.push(`connector module "${id}": create() built a connector with id "${connector.id}"`);
  return problems;
}
