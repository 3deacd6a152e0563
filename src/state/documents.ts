/**
 * Versioned documents the instances share: a string value per id in a namespace, a version that
 * grows by one on every write, and named index sets of ids. A document is created only if absent
 * and replaced only at the version its writer read (compare and set), each in one atomic step, so
 * two instances changing one document at once cannot both succeed. In Redis a namespace is one
 * hash (`docs:{<namespace>}`, `<version>|<value>` per id) and its index sets
 * (`docs:{<namespace>}:ix:<index>`), all in one cluster slot through the hash tag, written by
 * Lua scripts; in memory, maps of this process. The pushed cases (src/cases) are built on them.
 */
import { RedisSettingsError, RedisUnavailableError } from './errors';
import type { RedisConnection } from './redis-connection';

/** One document as stored: its value and version (1 when created). */
export interface SharedDocument {
  readonly version: number;
  readonly value: string;
}

/** What a replacement does to the index sets besides the value. */
export interface IndexChange {
  /** Index sets the id joins. */
  readonly add?: readonly string[];
  /** Index sets the id leaves. */
  readonly remove?: readonly string[];
}

/** A namespace of versioned documents shared by the instances. */
export interface SharedDocuments {
  get(id: string): Promise<SharedDocument | undefined>;
  /** The documents of `ids`, in order (undefined where absent). */
  getMany(ids: readonly string[]): Promise<(SharedDocument | undefined)[]>;
  /**
   * Stores `value` as version 1 and adds `id` to the `indexes`, unless a document with that id
   * exists: then nothing changes. Resolves to the document stored, and whether this call created it.
   */
  create(id: string, value: string, indexes: readonly string[]): Promise<{ created: boolean; document: SharedDocument }>;
  /**
   * Replaces the document if it is still at `version` (it becomes `version + 1`) and applies
   * `indexes`, all at once; resolves false (and changes nothing) when it is at another version
   * or absent.
   */
  replace(id: string, version: number, value: string, indexes?: IndexChange): Promise<boolean>;
  /** The ids in an index set (in no particular order). */
  members(index: string): Promise<string[]>;
}

const NAMESPACE = /^[a-z][a-z0-9-]{0,31}$/;

function checkNamespace(namespace: string): void {
  if (!NAMESPACE.test(namespace)) throw new RedisSettingsError('documents namespace', `lower-case letters, digits and hyphens (at most 32), but got: ${JSON.stringify(namespace)}`);
}

/** Documents in this process only (one instance). */
export function createMemoryDocuments(namespace = 'documents'): SharedDocuments {
  checkNamespace(namespace);
  const docs = new Map<string, SharedDocument>();
  const indexes = new Map<string, Set<string>>();
  const index = (name: string): Set<string> => {
    let set = indexes.get(name);
    if (!set) indexes.set(name, (set = new Set()));
    return set;
  };
  return {
    get: async (id) => docs.get(id),
    getMany: async (ids) => ids.map((id) => docs.get(id)),
    async create(id, value, names) {
      const existing = docs.get(id);
      if (existing) return { created: false, document: existing };
      const document = { version: 1, value };
      docs.set(id, document);
      for (const name of names) index(name).add(id);
      return { created: true, document };
    },
    async replace(id, version, value, change = {}) {
      const existing = docs.get(id);
      if (!existing || existing.version !== version) return false;
      docs.set(id, { version: version + 1, value });
      for (const name of change.add ?? []) index(name).add(id);
      for (const name of change.remove ?? []) indexes.get(name)?.delete(id);
      return true;
    },
    members: async (name) => [...(indexes.get(name) ?? [])],
  };
}

// KEYS[1]: the hash; KEYS[2..]: index sets. ARGV: id, value.
const CREATE_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then return {0, cur} end
local doc = '1|' .. ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], doc)
for i = 2, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
return {1, doc}
`;

// KEYS[1]: the hash; KEYS[2..1+nAdd]: sets joined; the rest: sets left. ARGV: id, version, value, nAdd.
const REPLACE_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local v = string.match(cur, '^(%d+)|')
if v ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], (tonumber(v) + 1) .. '|' .. ARGV[3])
local nAdd = tonumber(ARGV[4])
for i = 2, 1 + nAdd do redis.call('SADD', KEYS[i], ARGV[1]) end
for i = 2 + nAdd, #KEYS do redis.call('SREM', KEYS[i], ARGV[1]) end
return 1
`;

type WithDocuments = {
  datarunDocCreate(numKeys: number, ...args: string[]): Promise<[number, string]>;
  datarunDocReplace(numKeys: number, ...args: string[]): Promise<number>;
};

function parseStored(raw: string | null | undefined): SharedDocument | undefined {
  if (raw === null || raw === undefined) return undefined;
  const bar = raw.indexOf('|');
  return { version: Number(raw.slice(0, bar)), value: raw.slice(bar + 1) };
}

/** Documents in Redis under the hub's prefix (`<prefix>docs:{<namespace>}`). */
export function createRedisDocuments(connection: RedisConnection, namespace: string): SharedDocuments {
  checkNamespace(namespace);
  const client = connection.client as RedisConnection['client'] & WithDocuments;
  if (typeof client.datarunDocCreate !== 'function') {
    client.defineCommand('datarunDocCreate', { lua: CREATE_SCRIPT });
    client.defineCommand('datarunDocReplace', { lua: REPLACE_SCRIPT });
  }
  const hash = `${connection.prefix}docs:{${namespace}}`;
  const setKey = (index: string): string => `${hash}:ix:${index}`;

  async function run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new RedisUnavailableError(what, error);
    }
  }

  return {
    get: (id) => run('reading a document', async () => parseStored(await client.hget(hash, id))),
    getMany: (ids) => run('reading documents', async () => (ids.length === 0 ? [] : (await client.hmget(hash, ...ids)).map(parseStored))),
    create: (id, value, indexes) =>
      run('creating a document', async () => {
        const [created, stored] = await client.datarunDocCreate(1 + indexes.length, hash, ...indexes.map(setKey), id, value);
        return { created: created === 1, document: parseStored(stored)! };
      }),
    replace: (id, version, value, change = {}) =>
      run('replacing a document', async () => {
        const add = (change.add ?? []).map(setKey);
        const remove = (change.remove ?? []).map(setKey);
        return (await client.datarunDocReplace(1 + add.length + remove.length, hash, ...add, ...remove, id, String(version), value, String(add.length))) === 1;
      }),
    members: (index) => run('reading an index set', () => client.smembers(setKey(index))),
  };
}
