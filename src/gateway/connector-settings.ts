/**
 * Connector settings, one pattern for every connector: `connectors.<id>.<key>` in the
 * configuration file, `DATARUN_CONNECTORS__<ID>__<KEY>` in the environment (`__` separates; the id
 * and the key upper-snake-cased: `DATARUN_CONNECTORS__SOCIAL_SECURITY__BASE_URL`). The variables
 * are derived from each module's settings schema, never written per connector, and every setting
 * is validated once, by that schema, with errors naming the setting.
 */
import type { z } from 'zod';
import { graphqlModuleFromSettings, type ConnectorModule } from '../sdk';
import { connectorDirsOf, discoverConnectorModules, modulesOfConfig } from './connector-modules';
import { DECIMAL_EXPECTED, readDecimal, readSwitch, SWITCH_EXPECTED } from './env-values';

/** The prefix of every connector setting in the environment. */
export const CONNECTOR_ENV_PREFIX = 'DATARUN_CONNECTORS__';

/** Settings every connector has besides its module's own: `enabled: false` leaves it out of the hub. */
const COMMON_KEYS = new Set(['enabled']);

/** A setting's key as the environment spells it: `baseUrl` → `BASE_URL`, `land-registry` → `LAND_REGISTRY`. */
export function upperSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toUpperCase();
}

/** The environment variable of one connector setting. */
export function connectorEnvName(id: string, key: string): string {
  return `${CONNECTOR_ENV_PREFIX}${upperSnake(id)}__${upperSnake(key)}`;
}

class SettingsError extends Error {}

/** The kind of value a schema member holds, under optional/default/nullable wrappers. */
function baseType(schema: z.ZodType | undefined): string | undefined {
  let current = schema as { _zod?: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } } | undefined;
  for (let i = 0; i < 16 && current?._zod; i++) {
    const def = current._zod.def;
    if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type) && def.innerType) current = def.innerType as never;
    else if (def.type === 'pipe' && def.in) current = def.in as never;
    else return def.type;
  }
  return undefined;
}

/** An environment string as the value the setting's schema expects (numbers, booleans, lists, JSON objects). */
function fromEnvironment(variable: string, raw: string, type: string | undefined): unknown {
  switch (type) {
    case 'number':
    case 'int':
    case 'bigint': {
      const n = readDecimal(raw);
      if (n === undefined) throw new SettingsError(`${variable} must be ${DECIMAL_EXPECTED}, but got: ${JSON.stringify(raw)}`);
      return n;
    }
    case 'boolean': {
      const on = readSwitch(raw);
      if (on === undefined) throw new SettingsError(`${variable} must be ${SWITCH_EXPECTED}, but got: ${JSON.stringify(raw)}`);
      return on;
    }
    case 'array':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'object':
    case 'record':
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        throw new SettingsError(`${variable} must be a JSON object`);
      }
    default:
      return raw;
  }
}

function modulesById(dirs: readonly string[]): Map<string, ConnectorModule> {
  return new Map(discoverConnectorModules(connectorDirsOf({ connectorDirs: dirs })).map((f) => [f.module.id, f.module]));
}

function settingType(module: ConnectorModule, key: string): string | undefined {
  if (key === 'enabled') return 'boolean';
  return baseType((module.settings.shape as Record<string, z.ZodType>)[key]);
}

/**
 * The connector settings of the environment, by connector id: every `DATARUN_CONNECTORS__<ID>__<KEY>`
 * variable, converted to the type the module's schema expects. A variable naming no connector or
 * no setting of it is an error naming the variable (a typo must not be ignored).
 */
export function connectorEnvironment(env: NodeJS.ProcessEnv, dirs: readonly string[]): Record<string, Record<string, unknown>> {
  const names = Object.keys(env).filter((name) => name.startsWith(CONNECTOR_ENV_PREFIX) && env[name] !== undefined);
  if (names.length === 0) return {};
  const modules = modulesById(dirs);
  const settings: Record<string, Record<string, unknown>> = {};
  const problems: string[] = [];
  for (const name of names.sort()) {
    const parts = name.slice(CONNECTOR_ENV_PREFIX.length).split('__');
    if (parts.length !== 2 || !/^[A-Z][A-Z0-9_]*$/.test(parts[0]!) || !/^[A-Z][A-Z0-9_]*$/.test(parts[1]!)) {
      problems.push(`${name}: expected ${CONNECTOR_ENV_PREFIX}<ID>__<KEY>, upper-snake-cased (e.g. ${connectorEnvName('land-registry', 'baseUrl')})`);
      continue;
    }
    // A GraphQL department configured by settings alone has no folder: its TYPE variable says so.
    const module =
      [...modules.values()].find((m) => upperSnake(m.id) === parts[0]) ??
      (env[`${CONNECTOR_ENV_PREFIX}${parts[0]}__TYPE`] === 'graphql' ? graphqlModuleFromSettings(parts[0]!.toLowerCase().replace(/_/g, '-')) : undefined);
    if (!module) {
      problems.push(`${name}: there is no connector "${parts[0]!.toLowerCase().replace(/_/g, '-')}" (connectors: ${[...modules.keys()].join(', ')})`);
      continue;
    }
    const keys = [...Object.keys(module.settings.shape), ...COMMON_KEYS];
    const key = keys.find((k) => upperSnake(k) === parts[1]);
    if (!key) {
      problems.push(`${name}: connector "${module.id}" has no setting ${parts[1]} (its settings: ${keys.map(upperSnake).join(', ')})`);
      continue;
    }
    try {
      (settings[module.id] ??= {})[key] = fromEnvironment(name, env[name]!, settingType(module, key));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new SettingsError(`Invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return settings;
}

/**
 * Settings from the variables of earlier releases (`DATARUN_TAX_URL`…), each module listing its
 * own, read only when the new variable is not set, each with a deprecation warning naming its successor.
 */
export function legacyConnectorEnvironment(env: NodeJS.ProcessEnv, dirs: readonly string[], warn: (message: string) => void): Record<string, Record<string, unknown>> {
  const settings: Record<string, Record<string, unknown>> = {};
  for (const module of modulesById(dirs).values()) {
    for (const [variable, key] of Object.entries(module.legacyEnvironment ?? {})) {
      const raw = env[variable];
      if (raw === undefined || raw === '') continue;
      const successor = connectorEnvName(module.id, key);
      if (env[successor] !== undefined) continue;
      warn(`${variable} is deprecated: set ${successor} instead (or connectors.${module.id}.${key} in the configuration file)`);
      (settings[module.id] ??= {})[key] = fromEnvironment(variable, raw, settingType(module, key));
    }
  }
  return settings;
}

/** True for the error `connectorEnvironment` throws on a bad variable (the caller words it as a configuration error). */
export function isSettingsError(error: unknown): error is Error {
  return error instanceof SettingsError;
}

/**
 * One connector's own settings (without `enabled`) checked by its module's schema: the settings with
 * their defaults, or one line per problem naming the setting (`connectors.tax.url: …`).
 */
export function parseConnectorSettings(module: ConnectorModule, settings: Readonly<Record<string, unknown>>): { settings: Record<string, unknown> } | { problems: string[] } {
  const parsed = module.settings.safeParse(settings);
  if (parsed.success) return { settings: parsed.data as Record<string, unknown> };
  return {
    problems: parsed.error.issues.map((issue) => {
      const where = ['connectors', module.id, ...issue.path.map(String)].join('.');
      const keys = issue.code === 'unrecognized_keys' ? ` (its settings: ${Object.keys(module.settings.shape).join(', ')})` : '';
      return `${where}: ${issue.message}${keys}`;
    }),
  };
}

/** What the configuration says about one connector, once validated. */
export interface ConnectorSettingsEntry {
  /** False: the connector is found but left out of the hub. */
  readonly enabled: boolean;
  /** Its settings as its module's schema returned them (defaults filled in). */
  readonly settings: Record<string, unknown>;
}

/**
 * Checks every `connectors.<id>` of a parsed configuration against its module's schema, and
 * `cache.ttlSeconds` against the known connectors; returns the validated settings and one line
 * per problem, each naming the setting (`connectors.tax.url: expected an absolute http(s) URL`).
 */
export function connectorSettingsProblems(config: {
  readonly connectors: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly connectorDirs?: readonly string[];
  readonly cache?: { readonly ttlSeconds?: Readonly<Record<string, number>> };
  readonly sandbox?: { readonly enabled: boolean };
}): { connectors: Record<string, Record<string, unknown>>; problems: string[] } {
  const problems: string[] = [];
  let modules: Map<string, ConnectorModule>;
  try {
    modules = new Map(modulesOfConfig(config).map((m) => [m.id, m]));
  } catch (error) {
    return { connectors: {}, problems: [`connectorDirs: ${(error as Error).message}`] };
  }
  const connectors: Record<string, Record<string, unknown>> = {};
  for (const [id, raw] of Object.entries(config.connectors)) {
    const module = modules.get(id);
    if (!module) {
      problems.push(`connectors.${id}: there is no connector "${id}" (connectors: ${[...modules.keys()].join(', ')}; folders are searched in ${connectorDirsOf(config).join(', ')})`);
      continue;
    }
    const { enabled, ...own } = raw;
    if (enabled !== undefined && typeof enabled !== 'boolean') {
      problems.push(`connectors.${id}.enabled: expected true or false`);
      continue;
    }
    if (enabled === false) {
      connectors[id] = { enabled: false };
      continue;
    }
    const parsed = parseConnectorSettings(module, own);
    if ('problems' in parsed) problems.push(...parsed.problems);
    else connectors[id] = parsed.settings;
  }
  for (const id of Object.keys(config.cache?.ttlSeconds ?? {})) {
    if (!modules.has(id)) problems.push(`cache.ttlSeconds.${id}: there is no connector "${id}" (connectors: ${[...modules.keys()].join(', ')})`);
  }
  if (config.sandbox && !config.sandbox.enabled) {
    const missing = [...modules.keys()].filter((id) => !config.connectors[id]);
    for (const id of missing) {
      const first = Object.keys(modules.get(id)!.settings.shape)[0];
      problems.push(`connectors.${id}: not configured, and sandbox.enabled is false: set its settings (e.g. ${first ? connectorEnvName(id, first) : `connectors.${id}`}) or connectors.${id}.enabled: false`);
    }
  }
  return { connectors, problems };
}
