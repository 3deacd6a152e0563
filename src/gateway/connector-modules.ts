/**
 * Where the hub finds its connectors: every folder of the project's `connectors/` and of the
 * directories the configuration adds (`connectorDirs`) whose `index` exports a connector module.
 * The hub is composed from what it finds here; no file of the hub names a department.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ConnectorDefinitionError, defineConnectorModule, graphqlModuleFromSettings, type ConnectorModule } from '../sdk';
import { peerHubModuleFromSettings } from './federation/peer-connector';

/** The project's own connectors (also from dist/, where they are compiled). */
export const BUILTIN_CONNECTORS_DIR = path.resolve(__dirname, '../../connectors');

/** A connector module and the folder it was loaded from. */
export interface FoundConnectorModule {
  readonly module: ConnectorModule;
  readonly folder: string;
}

const found = new Map<string, FoundConnectorModule[]>();

/** The entry file of a connector folder: compiled JavaScript first, else the TypeScript source (tests, ts runners). */
function entryOf(folder: string): string | undefined {
  for (const name of ['index.js', 'index.ts']) {
    const file = path.join(folder, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

function load(folder: string): ConnectorModule {
  const entry = entryOf(folder);
  if (!entry) throw new ConnectorDefinitionError(`connector folder ${folder} has no index.js or index.ts`);
  let exported: Record<string, unknown>;
  try {
    exported = require(entry) as Record<string, unknown>;
  } catch (error) {
    throw new ConnectorDefinitionError(`connector folder ${folder} could not be loaded: ${error instanceof Error ? error.message : String(error)}`);
  }
  const candidate = exported.connectorModule ?? exported.default;
  if (!candidate) throw new ConnectorDefinitionError(`${entry} exports no connector module (export const connectorModule = defineConnectorModule({...}))`);
  const module = defineConnectorModule(candidate as ConnectorModule);
  if (module.id !== path.basename(folder)) throw new ConnectorDefinitionError(`${entry} defines connector "${module.id}", but its folder is named "${path.basename(folder)}": they must match`);
  return module;
}

/**
 * Every connector module in the given directories, sorted by id. A folder whose name starts with
 * `.` or `_` is skipped; any other folder must hold a module, and an id found twice is an error
 * naming both folders. Loaded once per set of directories.
 */
export function discoverConnectorModules(dirs: readonly string[] = [BUILTIN_CONNECTORS_DIR]): FoundConnectorModule[] {
  const resolved = [...new Set(dirs.map((d) => path.resolve(d)))];
  const key = resolved.join('\u0000');
  const cached = found.get(key);
  if (cached) return cached;
  const byId = new Map<string, FoundConnectorModule>();
  for (const dir of resolved) {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      throw new ConnectorDefinitionError(`connector directory ${dir} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
      const folder = path.join(dir, entry.name);
      const module = load(folder);
      const twin = byId.get(module.id);
      if (twin) throw new ConnectorDefinitionError(`connector "${module.id}" is defined twice: in ${twin.folder} and in ${folder}`);
      byId.set(module.id, { module, folder });
    }
  }
  const list = [...byId.values()].sort((a, b) => (a.module.id < b.module.id ? -1 : 1));
  found.set(key, list);
  return list;
}

/** The directories the hub searches: its own connectors, then the configured ones. */
export function connectorDirsOf(config: { readonly connectorDirs?: readonly string[] | undefined }): string[] {
  return [BUILTIN_CONNECTORS_DIR, ...(config.connectorDirs ?? [])];
}

/**
 * The modules of a configuration: every one found in its directories, plus one generic GraphQL
 * connector per `connectors.<id>` that has no folder and says `type: "graphql"` (a department that
 * already runs GraphQL, put behind the hub by configuration alone).
 */
export function modulesOfConfig(config: { readonly connectorDirs?: readonly string[] | undefined; readonly connectors?: Readonly<Record<string, Readonly<Record<string, unknown>>>> }): ConnectorModule[] {
  const found = discoverConnectorModules(connectorDirsOf(config)).map((f) => f.module);
  const ids = new Set(found.map((m) => m.id));
  const generic = Object.entries(config.connectors ?? {})
    .filter(([id, settings]) => !ids.has(id) && (settings.type === 'graphql' || settings.type === 'hub'))
    .map(([id, settings]) => (settings.type === 'hub' ? peerHubModuleFromSettings(id) : graphqlModuleFromSettings(id)));
  return [...found, ...generic].sort((a, b) => (a.id < b.id ? -1 : 1));
}
