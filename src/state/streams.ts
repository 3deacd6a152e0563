/**
 * Stream and consumer-group primitives over Redis streams, for logs that live in Redis (the
 * audit log's Redis sink and its archiver, in src/audit). Keys are given without the hub's key
 * prefix; this module adds it. A *sequenced* stream has entry ids `<seq>-0` and a head hash beside
 * it (`headSeq` and whatever else its owner keeps there), so the stream order is the owner's
 * sequence order and an entry can be found by its number. Every failure of Redis is a
 * RedisUnavailableError naming the operation (never a key or a value).
 */
import { RedisUnavailableError, StreamSequenceConflictError } from './errors';
import type { RedisConnection } from './redis-connection';

/** One stream entry: its id and its fields by name. */
export interface StreamEntry {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** Stream, hash, set and consumer-group operations on the hub's Redis, keys relative to its prefix. */
export interface RedisStreams {
  /** True while commands can be sent. */
  isReady(): boolean;
  /**
   * Appends `values` (field `field` of each entry) with ids `<first>-0`, `<first + 1>-0`… to
   * `stream` and sets `headFields` on the hash `head`, all in one script, and only if the hash's
   * `headSeq` is `first - 1`: all of the batch or none of it. A stream that does not continue
   * there (a second writer, a rewound stream) rejects with StreamSequenceConflictError, and so
   * does a hash whose fields differ from `expected` (say the chain id: after Redis lost its data
   * the hash is empty, and a writer must not start filling a stream that no longer names its chain).
   */
  appendSequenced(
    stream: string,
    head: string,
    first: number,
    field: string,
    values: readonly string[],
    headFields: Readonly<Record<string, string>>,
    expected?: Readonly<Record<string, string>>,
  ): Promise<void>;
  /**
   * Adds an entry with a Redis-chosen id and, in the same script, raises the numeric `raise.field`
   * of hash `raise.hash` to `raise.value` if it is lower and sets the fields `raise.set` of that
   * hash: the entry and what the hash says about it are written together or not at all.
   */
  add(stream: string, fields: Readonly<Record<string, string>>, raise?: { hash: string; field: string; value: number; set?: Readonly<Record<string, string>> }): Promise<void>;
  /** Entries from `from` to `to` (ids, `-`, `+`, or `(id` for exclusive), at most `count`. */
  range(stream: string, from: string, to: string, count?: number): Promise<StreamEntry[]>;
  /** Removes the entries whose ids are below `minId`. */
  trimBefore(stream: string, minId: string): Promise<void>;
  hashGetAll(key: string): Promise<Record<string, string>>;
  hashGet(key: string, field: string): Promise<string | undefined>;
  hashSet(key: string, field: string, value: string): Promise<void>;
  /** Sets the field only if the hash has none of that name. */
  hashSetIfAbsent(key: string, field: string, value: string): Promise<void>;
  setAdd(key: string, member: string): Promise<void>;
  setMembers(key: string): Promise<string[]>;
  /** Waits until `replicas` replicas of the node holding `key` acknowledged every write so far, or `timeoutMs`; resolves to how many did. */
  waitForReplicas(key: string, replicas: number, timeoutMs: number): Promise<number>;
  /** Creates consumer group `group` on `stream` (and the stream) if absent, and sets its cursor to `id`: it delivers what comes after. */
  setGroupCursor(stream: string, group: string, id: string): Promise<void>;
  /** Up to `count` entries the group has not delivered yet, delivered to `consumer`. */
  readGroup(stream: string, group: string, consumer: string, count: number): Promise<StreamEntry[]>;
  /** Acknowledges delivered entries. */
  ack(stream: string, group: string, ids: readonly string[]): Promise<void>;
}

/** The sequence number of a sequenced stream's entry id `<seq>-0`. */
export function seqOfEntryId(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

// ARGV: first seq, entry field, nHead, head field/value pairs, nExpect, expected field/value pairs, values.
const APPEND_SCRIPT = `
local head = tonumber(redis.call('HGET', KEYS[2], 'headSeq') or '0')
local first = tonumber(ARGV[1])
local nHead = tonumber(ARGV[3])
local nExpect = tonumber(ARGV[4 + 2 * nHead])
for i = 5 + 2 * nHead, 4 + 2 * nHead + 2 * nExpect, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) ~= ARGV[i + 1] then return redis.error_reply('DATARUN_HEAD_CONFLICT') end
end
if head + 1 ~= first then return redis.error_reply('DATARUN_SEQUENCE_CONFLICT') end
local values = 5 + 2 * nHead + 2 * nExpect
for i = values, #ARGV do
  redis.call('XADD', KEYS[1], string.format('%d-0', first + i - values), ARGV[2], ARGV[i])
end
for i = 4, 3 + 2 * nHead, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return head
`;

// ARGV: the raised field, its value, then the entry's fields; with one key only the entry is added.
const ADD_SCRIPT = `
local nset = tonumber(ARGV[3])
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4 + 2 * nset))
if KEYS[2] then
  local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  if tonumber(ARGV[2]) > held then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
  for i = 0, nset - 1 do redis.call('HSET', KEYS[2], ARGV[4 + 2 * i], ARGV[5 + 2 * i]) end
end
return 1
`;

type WithStreams = {
  datarunAppendSequenced(numKeys: number, ...args: string[]): Promise<number>;
  datarunAddRaise(numKeys: number, ...args: string[]): Promise<number>;
};

function toEntries(reply: [string, string[]][] | null | undefined): StreamEntry[] {
  return (reply ?? []).map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { id, fields };
  });
}

/** The stream primitives on a connection (its scripts defined once per client). */
export function createRedisStreams(connection: RedisConnection): RedisStreams {
  const client = connection.client as RedisConnection['client'] & WithStreams;
  if (typeof client.datarunAppendSequenced !== 'function') {
    // numberOfKeys is passed per call: `add` has one key or two.
    client.defineCommand('datarunAppendSequenced', { lua: APPEND_SCRIPT });
    client.defineCommand('datarunAddRaise', { lua: ADD_SCRIPT });
  }
  const p = connection.prefix;

  async function run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new RedisUnavailableError(what, error);
    }
  }

  return {
    isReady: () => connection.isReady(),

    async appendSequenced(stream, head, first, field, values, headFields, expected = {}) {
      if (values.length === 0) return;
      const flatHead = Object.entries(headFields).flat();
      const flatExpected = Object.entries(expected).flat();
      try {
        await client.datarunAppendSequenced(
          2,
          p + stream,
          p + head,
          String(first),
          field,
          String(flatHead.length / 2),
          ...flatHead,
          String(flatExpected.length / 2),
          ...flatExpected,
          ...values,
        );
      } catch (error) {
        if (/DATARUN_SEQUENCE_CONFLICT/.test((error as Error)?.message ?? '')) throw new StreamSequenceConflictError(first);
        if (/DATARUN_HEAD_CONFLICT/.test((error as Error)?.message ?? '')) throw new StreamSequenceConflictError(first, 'head');
        throw new RedisUnavailableError('appending to a stream', error);
      }
    },

    add: (stream, fields, raise) =>
      run('adding a stream entry', async () => {
        const flat = Object.entries(fields).flat();
        const set = Object.entries(raise?.set ?? {});
        if (raise) await client.datarunAddRaise(2, p + stream, p + raise.hash, raise.field, String(raise.value), String(set.length), ...set.flat(), ...flat);
        else await client.datarunAddRaise(1, p + stream, '', '', '0', ...flat);
      }),

    range: (stream, from, to, count) =>
      run('reading a stream', async () =>
        toEntries(count === undefined ? await client.xrange(p + stream, from, to) : await client.xrange(p + stream, from, to, 'COUNT', count)),
      ),

    trimBefore: (stream, minId) => run('trimming a stream', async () => void (await client.xtrim(p + stream, 'MINID', minId))),
    hashGetAll: (key) => run('reading a hash', () => client.hgetall(p + key)),
    hashGet: (key, field) => run('reading a hash', async () => (await client.hget(p + key, field)) ?? undefined),
    hashSet: (key, field, value) => run('writing a hash', async () => void (await client.hset(p + key, field, value))),
    hashSetIfAbsent: (key, field, value) => run('writing a hash', async () => void (await client.hsetnx(p + key, field, value))),
    setAdd: (key, member) => run('writing a set', async () => void (await client.sadd(p + key, member))),
    setMembers: (key) => run('reading a set', () => client.smembers(p + key)),

    waitForReplicas: (key, replicas, timeoutMs) =>
      run('waiting for replicas', async () => {
        // WAIT has no key: in a cluster it must go to the node that holds the key itself.
        const node = connection.nodeFor(p + key);
        return node ? Number(await node.wait(replicas, timeoutMs)) : 0;
      }),

    setGroupCursor: (stream, group, id) =>
      run('positioning a consumer group', async () => {
        try {
          await client.xgroup('CREATE', p + stream, group, '0', 'MKSTREAM');
        } catch (error) {
          if (!/BUSYGROUP/.test((error as Error).message)) throw error;
        }
        await client.xgroup('SETID', p + stream, group, id);
      }),

    readGroup: (stream, group, consumer, count) =>
      run('reading a consumer group', async () => {
        const reply = (await client.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', p + stream, '>')) as [string, [string, string[]][]][] | null;
        return toEntries(reply?.[0]?.[1]);
      }),

    ack: (stream, group, ids) =>
      run('acknowledging stream entries', async () => {
        if (ids.length > 0) await client.xack(p + stream, group, ...ids);
      }),
  };
}
