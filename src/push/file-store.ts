/**
 * The embedded delivery queue: lanes in memory, every change appended to one file and fsync'd
 * before the call resolves, so a restart (or a crash) loses nothing that was acknowledged; the
 * changes made together (several deliveries completing, `enqueueAll`) share one write and one
 * fsync, off the event loop, and a lane whose last change is not durable yet is not claimed. The
 * file is JSON lines; a torn last line (a crash mid-write) is dropped on open, any other line
 * that does not parse is PUSH_QUEUE_CORRUPT. When the log holds many more lines than live state
 * it is compacted: the state written to a temporary file, fsync'd, renamed over the log. A lock
 * file keeps a second process off the same queue. Claims live in memory: after a restart every
 * undelivered event is due again (at least once).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PushError, PushErrorCode, PushInputError } from './errors';
import { checkEnqueue, type Claim, type DeadEntry, type DeliveryStore, type PushEvent } from './types';

/** Options of the file store. */
export interface FileStoreOptions {
  /** The queue file (its directory must exist). */
  file: string;
  /** How long a delivered event id is remembered, so that enqueueing it again is a no-op. @default 7 days */
  dedupeTtlMs?: number;
  /** Compact once the log has this many lines beyond twice the live ones. @default 10000 */
  compactAfter?: number;
  /** The clock of enqueue times (ms). */
  now?: () => number;
}

interface Item {
  s: string;
  ev: PushEvent;
  t: number;
  n: number;
  due: number;
  dead?: { why: string; at: number };
}

type Op =
  | { o: 'e'; s: string; ev: PushEvent; t: number }
  | { o: 'c'; s: string; l: string; id: string; t: number }
  | { o: 'r'; s: string; l: string; id: string; n: number; due: number }
  | { o: 'd'; s: string; l: string; id: string; why: string; t: number }
  | { o: 'p'; s: string; l: string; id: string }
  | { o: 'x'; s: string; id: string; t: number };

const laneOf = (s: string, subject: string): string => JSON.stringify([s, subject]);
const keyOf = (s: string, id: string): string => `${s}\n${id}`;

function lock(file: string): string {
  const lockFile = `${file}.lock`;
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return lockFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new PushInputError(`The delivery queue's lock file cannot be written: ${(error as Error).message}`);
      const pid = Number(fs.readFileSync(lockFile, 'utf8'));
      let alive = false;
      try {
        alive = Number.isInteger(pid) && pid > 0 && pid !== process.pid ? (process.kill(pid, 0), true) : pid === process.pid;
      } catch {
        alive = false;
      }
      if (alive) throw new PushError(PushErrorCode.PUSH_QUEUE_CORRUPT, `The delivery queue ${path.basename(file)} is held by live process ${pid}.`);
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new PushError(PushErrorCode.PUSH_QUEUE_CORRUPT, `The delivery queue ${path.basename(file)} cannot be locked.`);
}

/** Writes all of `text` at the end of `fd` (append mode). */
async function write(fd: number, text: string): Promise<void> {
  const buffer = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < buffer.length) {
    offset += await new Promise<number>((resolve, reject) => fs.write(fd, buffer, offset, buffer.length - offset, null, (error, written) => (error ? reject(error) : resolve(written))));
  }
}

/** Opens (or creates) the file queue, replaying its log. */
export function openFileStore(options: FileStoreOptions): DeliveryStore {
  if (!options || typeof options.file !== 'string' || options.file.length === 0) throw new PushInputError('The file store needs `file`, the path of its queue file.');
  const file = path.resolve(options.file);
  const now = options.now ?? Date.now;
  const ttl = options.dedupeTtlMs ?? 7 * 24 * 3600_000;
  const compactAfter = options.compactAfter ?? 10_000;
  if (!fs.existsSync(path.dirname(file))) throw new PushInputError(`The directory of the delivery queue file does not exist: ${path.dirname(file)}`);
  const lockFile = lock(file);

  const lanes = new Map<string, Item[]>();
  /** Event ids per subscriber: undefined value = queued; a number = completed or skipped at. */
  const known = new Map<string, number | undefined>();
  const inflight = new Set<string>();
  let lines = 0;
  let live = 0;

  function apply(op: Op): void {
    switch (op.o) {
      case 'e': {
        const lane = laneOf(op.s, op.ev.subject);
        let items = lanes.get(lane);
        if (!items) lanes.set(lane, (items = []));
        items.push({ s: op.s, ev: op.ev, t: op.t, n: 0, due: 0 });
        known.set(keyOf(op.s, op.ev.id), undefined);
        live++;
        return;
      }
      case 'x':
        known.set(keyOf(op.s, op.id), op.t);
        return;
      default: {
        const items = lanes.get(op.l);
        const head = items?.[0];
        if (!items || !head || head.ev.id !== op.id) throw new PushError(PushErrorCode.PUSH_QUEUE_CORRUPT, `The delivery queue names event ${op.id} where its lane has another head.`);
        if (op.o === 'c') {
          items.shift();
          live--;
          if (items.length === 0) lanes.delete(op.l);
          known.set(keyOf(op.s, op.id), op.t);
        } else if (op.o === 'r') {
          head.n = op.n;
          head.due = op.due;
        } else if (op.o === 'd') head.dead = { why: op.why, at: op.t };
        else if (op.o === 'p') {
          delete head.dead;
          head.n = 0;
          head.due = 0;
        }
      }
    }
  }

  // Replay the log.
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, 'utf8');
    const parts = text.split('\n');
    let good = 0;
    for (let i = 0; i < parts.length; i++) {
      const line = parts[i]!;
      const last = i === parts.length - 1;
      if (line === '') {
        if (!last) throw new PushError(PushErrorCode.PUSH_QUEUE_CORRUPT, `The delivery queue file has an empty line ${i + 1}.`);
        continue;
      }
      let op: Op;
      try {
        op = JSON.parse(line) as Op;
      } catch (error) {
        // Only the unterminated last line can be a torn write.
        if (last) break;
        throw new PushError(PushErrorCode.PUSH_QUEUE_CORRUPT, `The delivery queue file's line ${i + 1} is not JSON.`, error);
      }
      if (last) break; // written but not terminated: not acknowledged either
      apply(op);
      lines++;
      good += Buffer.byteLength(line) + 1;
    }
    if (good !== Buffer.byteLength(text)) fs.truncateSync(file, good);
  }
  let fd = fs.openSync(file, 'a');

  // Group commit: a change is applied in memory at once and its line queued; the lines queued
  // together are written with one write and one fsync, and each call resolves once its line is
  // durable (rejects when the write or the fsync failed). fsyncSync per change blocked the event
  // loop for every delivery, twice (claim's complete, enqueue).
  let queued: { line: string; seq: number; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let writing: Promise<void> | null = null;
  let appendedSeq = 0;
  /** Lanes with a change not yet durable, by the seq of their last one: not claimed until it is. */
  const unsettled = new Map<string, number>();

  function append(op: Op): Promise<void> {
    apply(op);
    lines++;
    const seq = ++appendedSeq;
    if (op.o !== 'x') unsettled.set(op.o === 'e' ? laneOf(op.s, op.ev.subject) : op.l, seq);
    return new Promise((resolve, reject) => {
      queued.push({ line: `${JSON.stringify(op)}\n`, seq, resolve, reject });
      writing ??= new Promise<void>((done) => setImmediate(done)).then(drain);
    });
  }

  async function drain(): Promise<void> {
    try {
      while (queued.length > 0) {
        const batch = queued;
        queued = [];
        let failure: unknown;
        try {
          await write(fd, batch.map((b) => b.line).join(''));
          await new Promise<void>((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
        } catch (error) {
          failure = error;
        }
        const through = batch[batch.length - 1]!.seq;
        for (const [lane, seq] of unsettled) if (seq <= through) unsettled.delete(lane);
        for (const b of batch) {
          if (failure === undefined) b.resolve();
          else b.reject(failure);
        }
        // Compacted only between batches, with nothing queued: the state written is exactly the log's.
        if (failure === undefined && queued.length === 0 && !closed && lines > compactAfter + 2 * (live + 1)) compact();
      }
    } finally {
      writing = null;
    }
  }

  function compact(): void {
    const tmp = `${file}.compact`;
    const out: string[] = [];
    const cutoff = now() - ttl;
    for (const [key, at] of known) {
      if (at === undefined) continue;
      if (at < cutoff) {
        known.delete(key);
        continue;
      }
      const nl = key.indexOf('\n');
      out.push(JSON.stringify({ o: 'x', s: key.slice(0, nl), id: key.slice(nl + 1), t: at }));
    }
    for (const [l, items] of lanes) {
      for (const [i, item] of items.entries()) {
        out.push(JSON.stringify({ o: 'e', s: item.s, ev: item.ev, t: item.t }));
        if (i > 0) continue;
        if (item.n > 0 || item.due > 0) out.push(JSON.stringify({ o: 'r', s: item.s, l, id: item.ev.id, n: item.n, due: item.due }));
        if (item.dead) out.push(JSON.stringify({ o: 'd', s: item.s, l, id: item.ev.id, why: item.dead.why, t: item.dead.at }));
      }
    }
    const tfd = fs.openSync(tmp, 'w');
    fs.writeSync(tfd, out.length ? `${out.join('\n')}\n` : '');
    fs.fsyncSync(tfd);
    fs.closeSync(tfd);
    fs.renameSync(tmp, file);
    const dfd = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
    fs.closeSync(fd);
    fd = fs.openSync(file, 'a');
    lines = out.length;
  }

  let closed = false;
  function open(): void {
    if (closed) throw new PushInputError('The delivery queue is closed.');
  }

  function held(claim: Claim): Item | undefined {
    const l = laneOf(claim.subscriberId, claim.event.subject);
    const head = lanes.get(l)?.[0];
    return inflight.has(l) && head && head.ev.id === claim.event.id && claim.token === l ? head : undefined;
  }

  function deadMatches(eventId: string, subscriberId?: string): [string, Item][] {
    const found: [string, Item][] = [];
    for (const [l, items] of lanes) {
      const head = items[0];
      if (head?.dead && head.ev.id === eventId && (subscriberId === undefined || head.s === subscriberId)) found.push([l, head]);
    }
    if (found.length === 0) throw new PushError(PushErrorCode.PUSH_NOT_DEAD, `Event ${JSON.stringify(eventId)} is not dead${subscriberId ? ` for subscriber ${JSON.stringify(subscriberId)}` : ''}.`);
    return found;
  }

  return {
    async enqueue(subscriberId, event) {
      open();
      checkEnqueue(subscriberId, event);
      if (known.has(keyOf(subscriberId, event.id))) return false;
      await append({ o: 'e', s: subscriberId, ev: event, t: now() });
      return true;
    },
    async enqueueAll(items) {
      open();
      for (const { subscriberId, event } of items) checkEnqueue(subscriberId, event);
      // Applied in order now (an event id twice in `items` is queued once), written together.
      const writes: Promise<void>[] = [];
      const out = items.map(({ subscriberId, event }) => {
        if (known.has(keyOf(subscriberId, event.id))) return false;
        writes.push(append({ o: 'e', s: subscriberId, ev: event, t: now() }));
        return true;
      });
      await Promise.all(writes);
      return out;
    },
    async claim(max, nowMs) {
      open();
      const out: Claim[] = [];
      for (const [l, items] of lanes) {
        if (out.length >= max) break;
        const head = items[0]!;
        if (head.dead || inflight.has(l) || head.due > nowMs || unsettled.has(l)) continue;
        inflight.add(l);
        out.push({ subscriberId: head.s, event: head.ev, attempts: head.n, enqueuedAt: head.t, token: l });
      }
      return out;
    },
    async complete(claim) {
      if (closed || !held(claim)) return false;
      await append({ o: 'c', s: claim.subscriberId, l: claim.token, id: claim.event.id, t: now() });
      inflight.delete(claim.token);
      return true;
    },
    async retry(claim, dueAt) {
      const head = closed ? undefined : held(claim);
      if (!head) return false;
      await append({ o: 'r', s: claim.subscriberId, l: claim.token, id: claim.event.id, n: head.n + 1, due: dueAt });
      inflight.delete(claim.token);
      return true;
    },
    async kill(claim, reason, nowMs) {
      if (closed || !held(claim)) return false;
      await append({ o: 'd', s: claim.subscriberId, l: claim.token, id: claim.event.id, why: reason, t: nowMs });
      inflight.delete(claim.token);
      return true;
    },
    async release(claim) {
      if (held(claim)) inflight.delete(claim.token);
    },
    async listDead(subscriberId) {
      const out: DeadEntry[] = [];
      for (const items of lanes.values()) {
        const head = items[0];
        if (head?.dead && (subscriberId === undefined || head.s === subscriberId)) out.push({ subscriberId: head.s, event: head.ev, attempts: head.n, reason: head.dead.why, at: head.dead.at });
      }
      return out;
    },
    async replay(eventId, subscriberId) {
      open();
      const found = deadMatches(eventId, subscriberId);
      await Promise.all(found.map(([l, head]) => append({ o: 'p', s: head.s, l, id: eventId })));
      return found.length;
    },
    async skip(eventId, subscriberId) {
      open();
      const found = deadMatches(eventId, subscriberId);
      await Promise.all(found.map(([l, head]) => append({ o: 'c', s: head.s, l, id: eventId, t: now() })));
      return found.length;
    },
    async pending() {
      return live;
    },
    async close() {
      if (closed) return;
      closed = true;
      while (writing) await writing;
      fs.closeSync(fd);
      fs.rmSync(lockFile, { force: true });
    },
  };
}
