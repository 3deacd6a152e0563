/**
 * Ordered delivery lanes on Redis, for webhook delivery (src/push builds its Redis queue on
 * them). A *lane* is a list of items (one subscriber's events about one subject); only its head
 * is ever in the work stream, which a consumer group hands out, so the lane's items are delivered
 * one after another whichever instance delivers. Every move (enqueue, complete, retry later,
 * dead, replay, skip, release) is one Lua script, and every move of a claimed head starts with
 * XACK: of two instances holding the same head (one took it over from the other), only the first
 * to act moves the lane. Entries idle longer than a bound are taken over (XAUTOCLAIM); a live
 * holder keeps its entries fresh (XCLAIM JUSTID). All keys share one hash tag, so the scripts
 * run on one node of a cluster too (the promotion script reaches lane keys it is not given in
 * KEYS: they hash to the same slot, which Redis Cluster serves; tested on a three-master cluster). Items are strings `<id>\n<payload>`; this module never
 * looks inside a payload.
 */
import { RedisUnavailableError } from './errors';
import type { RedisConnection } from './redis-connection';

/** A lane head handed to a consumer. */
export interface LaneEntry {
  /** The stream entry id (the claim's handle). */
  readonly entryId: string;
  /** The lane (as given to `enqueue`). */
  readonly lane: string;
  readonly itemId: string;
  /** The item's payload. */
  readonly payload: string;
  /** Attempts recorded by `retryLater`. */
  readonly attempts: number;
}

/** A dead item: it holds its lane until replayed or skipped. */
export interface DeadLaneItem {
  readonly lane: string;
  readonly itemId: string;
  /** What `kill` stored beside it. */
  readonly note: string;
}

/** Ordered lanes with a consumer group; lane names and item ids are the caller's. */
export interface RedisDeliveryLanes {
  /** Appends an item to `lane` unless `dedupeKey` was seen within the retention; false if it was. */
  enqueue(lane: string, itemId: string, payload: string, dedupeKey: string, nowMs: number): Promise<boolean>;
  /** Moves due delayed heads to the work stream, takes over entries idle for `idleMs`, then reads new ones: up to `max`. */
  claim(max: number, nowMs: number, idleMs: number): Promise<LaneEntry[]>;
  /** The head is done: pops it, remembers `dedupeKey` as completed at `nowMs`, queues the next head. False if no longer held. */
  complete(entry: LaneEntry, dedupeKey: string, nowMs: number): Promise<boolean>;
  /** Takes the head out of the work stream until `dueAt`, with `attempts` recorded. */
  retryLater(entry: LaneEntry, attempts: number, dueAt: number): Promise<boolean>;
  /** The head is dead: it stays at the head of its lane, listed with `note`. */
  kill(entry: LaneEntry, note: string): Promise<boolean>;
  /** Puts the entry back for anyone to claim, attempts unchanged. */
  release(entry: LaneEntry): Promise<void>;
  /** Resets the idle time of held entries (a live holder's heartbeat). */
  touch(entryIds: readonly string[]): Promise<void>;
  dead(): Promise<DeadLaneItem[]>;
  /** Back to work with no attempts; false if it was not dead. */
  replay(lane: string, itemId: string): Promise<boolean>;
  /** Dropped, the lane moves on; false if it was not dead. */
  skip(lane: string, itemId: string, dedupeKey: string, nowMs: number): Promise<boolean>;
  /** Forgets dedupe keys completed (or enqueued) before `beforeMs`. */
  prune(beforeMs: number): Promise<void>;
  /** Items in all lanes (dead ones included). */
  size(): Promise<number>;
}

const GROUP = 'dispatch';

// KEYS: seen, lane, work, lanes(set); ARGV: dedupeKey, now, item, lane name, item id
const ENQUEUE = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[4])
if redis.call('RPUSH', KEYS[2], ARGV[3]) == 1 then
  redis.call('XADD', KEYS[3], '*', 'lane', ARGV[4], 'id', ARGV[5], 'n', '0', 'item', ARGV[3])
end
return 1
`;

// Queue the lane's head (if any) in the work stream. KEYS: work, att; lane key, lane name.
const PUSH_HEAD = `
local function pushHead(work, att, laneKey, lane)
  local head = redis.call('LINDEX', laneKey, 0)
  if not head then return end
  local id = string.match(head, '^([^\\n]*)')
  local n = redis.call('HGET', att, lane .. '\\n' .. id) or '0'
  redis.call('XADD', work, '*', 'lane', lane, 'id', id, 'n', n, 'item', head)
end
`;

// KEYS: work, lane, seen, att, lanes; ARGV: group, entry id, item, dedupeKey, now, lane name
const COMPLETE = `${PUSH_HEAD}
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('LINDEX', KEYS[2], 0) == ARGV[3] then redis.call('LPOP', KEYS[2]) end
local id = string.match(ARGV[3], '^([^\\n]*)')
redis.call('HDEL', KEYS[4], ARGV[6] .. '\\n' .. id)
redis.call('ZADD', KEYS[3], 'XX', ARGV[5], ARGV[4])
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[5], ARGV[6]) end
pushHead(KEYS[1], KEYS[4], KEYS[2], ARGV[6])
return 1
`;

// KEYS: work, delayed, att; ARGV: group, entry id, lane name, item id, attempts, due
const RETRY = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3] .. '\\n' .. ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
return 1
`;

// KEYS: work, dead; ARGV: group, entry id, lane name, item id, note
const KILL = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3] .. '\\n' .. ARGV[4], ARGV[5])
return 1
`;

// KEYS: work, att, lane; ARGV: group, entry id, lane name
const RELEASE = `${PUSH_HEAD}
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
pushHead(KEYS[1], KEYS[2], KEYS[3], ARGV[3])
return 1
`;

// KEYS: delayed, work, att; ARGV: now, max, lane key prefix
const PROMOTE = `${PUSH_HEAD}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, lane in ipairs(due) do
  redis.call('ZREM', KEYS[1], lane)
  pushHead(KEYS[2], KEYS[3], ARGV[3] .. lane, lane)
end
return #due
`;

// KEYS: dead, work, att, lane; ARGV: lane name, item id
const REPLAY = `${PUSH_HEAD}
if redis.call('HDEL', KEYS[1], ARGV[1] .. '\\n' .. ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1] .. '\\n' .. ARGV[2])
pushHead(KEYS[2], KEYS[3], KEYS[4], ARGV[1])
return 1
`;

// KEYS: dead, work, att, lane, seen, lanes; ARGV: lane name, item id, dedupeKey, now
const SKIP = `${PUSH_HEAD}
if redis.call('HDEL', KEYS[1], ARGV[1] .. '\\n' .. ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1] .. '\\n' .. ARGV[2])
local head = redis.call('LINDEX', KEYS[4], 0)
if head and string.match(head, '^([^\\n]*)') == ARGV[2] then redis.call('LPOP', KEYS[4]) end
redis.call('ZADD', KEYS[5], 'XX', ARGV[4], ARGV[3])
if redis.call('LLEN', KEYS[4]) == 0 then redis.call('SREM', KEYS[6], ARGV[1]) end
pushHead(KEYS[2], KEYS[3], KEYS[4], ARGV[1])
return 1
`;

type Scripted = Record<'datarunLaneEnqueue' | 'datarunLaneComplete' | 'datarunLaneRetry' | 'datarunLaneKill' | 'datarunLaneRelease' | 'datarunLanePromote' | 'datarunLaneReplay' | 'datarunLaneSkip', (...args: (string | number)[]) => Promise<number>>;

const SCRIPTS: [keyof Scripted, number, string][] = [
  ['datarunLaneEnqueue', 4, ENQUEUE],
  ['datarunLaneComplete', 5, COMPLETE],
  ['datarunLaneRetry', 3, RETRY],
  ['datarunLaneKill', 2, KILL],
  ['datarunLaneRelease', 3, RELEASE],
  ['datarunLanePromote', 3, PROMOTE],
  ['datarunLaneReplay', 4, REPLAY],
  ['datarunLaneSkip', 6, SKIP],
];

function toEntry(id: string, flat: string[] | null): LaneEntry | undefined {
  if (!flat) return undefined;
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  if (f.lane === undefined || f.id === undefined || f.item === undefined) return undefined;
  const nl = f.item.indexOf('\n');
  return { entryId: id, lane: f.lane, itemId: f.id, payload: f.item.slice(nl + 1), attempts: Number(f.n ?? 0) };
}

/**
 * Lanes named `name` on the connection, claimed as `consumer` (unique per process: a second
 * instance must use another name). Lane names and item ids must not contain a newline.
 */
export function createRedisDeliveryLanes(connection: RedisConnection, name: string, consumer: string): RedisDeliveryLanes {
  const client = connection.client as RedisConnection['client'] & Scripted;
  if (typeof client.datarunLaneEnqueue !== 'function') {
    for (const [command, numberOfKeys, lua] of SCRIPTS) client.defineCommand(command, { numberOfKeys, lua });
  }
  // One hash tag: every key of these lanes lives in one cluster slot.
  const base = `${connection.prefix}push:{${name}}:`;
  const work = `${base}work`;
  const delayed = `${base}delayed`;
  const att = `${base}attempts`;
  const dead = `${base}dead`;
  const seen = `${base}seen`;
  const lanes = `${base}lanes`;
  const lanePrefix = `${base}lane:`;
  let groupReady = false;

  async function run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new RedisUnavailableError(what, error);
    }
  }

  async function ensureGroup(): Promise<void> {
    if (groupReady) return;
    try {
      await client.xgroup('CREATE', work, GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
    }
    groupReady = true;
  }

  const item = (entry: LaneEntry): string => `${entry.itemId}\n${entry.payload}`;

  return {
    enqueue: (lane, itemId, payload, dedupeKey, nowMs) =>
      run('queueing a delivery', async () => {
        await ensureGroup();
        return (await client.datarunLaneEnqueue(seen, lanePrefix + lane, work, lanes, dedupeKey, nowMs, `${itemId}\n${payload}`, lane, itemId)) === 1;
      }),

    claim: (max, nowMs, idleMs) =>
      run('claiming deliveries', async () => {
        await ensureGroup();
        await client.datarunLanePromote(delayed, work, att, nowMs, Math.max(max, 100), lanePrefix);
        const out: LaneEntry[] = [];
        const taken = (await client.xautoclaim(work, GROUP, consumer, idleMs, '0-0', 'COUNT', max)) as [string, ([string, string[]] | null)[]];
        for (const raw of taken[1] ?? []) {
          const entry = raw ? toEntry(raw[0], raw[1]) : undefined;
          if (entry) out.push(entry);
        }
        if (out.length < max) {
          const reply = (await client.xreadgroup('GROUP', GROUP, consumer, 'COUNT', max - out.length, 'STREAMS', work, '>')) as [string, [string, string[]][]][] | null;
          for (const [id, flat] of reply?.[0]?.[1] ?? []) {
            const entry = toEntry(id, flat);
            if (entry) out.push(entry);
          }
        }
        return out;
      }),

    complete: (entry, dedupeKey, nowMs) =>
      run('completing a delivery', async () => (await client.datarunLaneComplete(work, lanePrefix + entry.lane, seen, att, lanes, GROUP, entry.entryId, item(entry), dedupeKey, nowMs, entry.lane)) === 1),

    retryLater: (entry, attempts, dueAt) =>
      run('rescheduling a delivery', async () => (await client.datarunLaneRetry(work, delayed, att, GROUP, entry.entryId, entry.lane, entry.itemId, attempts, dueAt)) === 1),

    kill: (entry, note) => run('recording a dead delivery', async () => (await client.datarunLaneKill(work, dead, GROUP, entry.entryId, entry.lane, entry.itemId, note)) === 1),

    release: (entry) => run('releasing a delivery', async () => void (await client.datarunLaneRelease(work, att, lanePrefix + entry.lane, GROUP, entry.entryId, entry.lane))),

    touch: (entryIds) =>
      run('renewing held deliveries', async () => {
        if (entryIds.length > 0) await client.xclaim(work, GROUP, consumer, 0, ...entryIds, 'JUSTID');
      }),

    dead: () =>
      run('listing dead deliveries', async () => {
        const all = await client.hgetall(dead);
        return Object.entries(all).map(([field, note]) => {
          const nl = field.lastIndexOf('\n');
          return { lane: field.slice(0, nl), itemId: field.slice(nl + 1), note };
        });
      }),

    replay: (lane, itemId) => run('replaying a dead delivery', async () => (await client.datarunLaneReplay(dead, work, att, lanePrefix + lane, lane, itemId)) === 1),

    skip: (lane, itemId, dedupeKey, nowMs) =>
      run('skipping a dead delivery', async () => (await client.datarunLaneSkip(dead, work, att, lanePrefix + lane, seen, lanes, lane, itemId, dedupeKey, nowMs)) === 1),

    prune: (beforeMs) => run('pruning delivered ids', async () => void (await client.zremrangebyscore(seen, '-inf', `(${beforeMs}`))),

    size: () =>
      run('counting deliveries', async () => {
        const names = await client.smembers(lanes);
        let total = 0;
        for (const lane of names) total += await client.llen(lanePrefix + lane);
        return total;
      }),
  };
}
