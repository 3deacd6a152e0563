/**
 * A PostgreSQL wire-protocol proxy in front of the sandbox's database: it is where the sandbox
 * counts the statements clients run and injects the kit's faults, because the database engine
 * itself knows nothing of either.
 *
 * It reads the frontend protocol (v3) message by message, across TCP chunks: a protocol cycle is
 * the messages up to a Sync (extended protocol) or one Query (simple protocol), and each simple
 * Query 'Q' or extended Execute 'E' in it is one counted statement (a read of the change table
 * under the kit's CHANGE_FEED_OPERATION, any other under SQL_OPERATION). Backend messages are scanned
 * for ReadyForQuery 'Z' (the end of a cycle) and, in `malformed` mode, rewritten.
 */
import net from 'node:net';
import { CHANGE_FEED_OPERATION, type SandboxControl } from '../sandbox-kit';

/** The operation name under which every statement is counted. */
export const SQL_OPERATION = 'sql';

/** Settings of the proxy. */
export interface WireProxyOptions {
  control: SandboxControl;
  /** The database server the proxy forwards to. */
  upstreamHost: string;
  upstreamPort: number;
  /** Where the proxy listens (0 = any free port). */
  host: string;
  port: number;
  /**
   * Forward one protocol cycle at a time across ALL clients. PGlite runs a single backend shared by
   * every socket, so two clients' extended-protocol messages must never interleave there.
   */
  serialize: boolean;
  /**
   * A loopback HTTP server of the sandbox's control routes: a connection whose first bytes are
   * `GET /__sandbox/` or `POST /__sandbox/` is handed to it (before faults apply), so the control
   * routes live at the database's own address. Anything else not speaking PostgreSQL is dropped.
   */
  httpPort?: number;
}

/** A running proxy. */
export interface WireProxy {
  readonly host: string;
  readonly port: number;
  /** Runs `work` while no client's protocol cycle is forwarded (with `serialize`; otherwise at once). */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Messages larger than this are not PostgreSQL clients talking: the connection is dropped. */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

const BYTE = { Q: 0x51, E: 0x45, S: 0x53, H: 0x48, X: 0x58, Z: 0x5a, D: 0x44, P: 0x50, p: 0x70 } as const;

/** The trace context comment the hub prefixes to a statement (docs/tracing.md). */
const TRACEPARENT_COMMENT = /^\/\* traceparent='([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})' \*\//;

/**
 * Records the traceparent comment of a Query ('Q': the text follows the length) or a Parse ('P':
 * after the statement's name) in `control.lastTraceparent`.
 */
function noteTraceparent(control: SandboxControl, message: Buffer, type: number): void {
  let start = 5;
  if (type === BYTE.P) {
    const end = message.indexOf(0, start);
    if (end < 0) return;
    start = end + 1;
  }
  if (message[start] !== 0x2f) return; // '/': no comment, nothing to read
  const match = TRACEPARENT_COMMENT.exec(message.toString('latin1', start, Math.min(message.length, start + 80)));
  if (match) control.lastTraceparent = match[1];
}

/** A statement that reads the registry's change table (`FROM <schema>.changes`). */
const CHANGE_TABLE_READ = /\bFROM\s+(?:[a-z_][a-z0-9_]*\.)?changes\b/i;

/** Whether a Query ('Q': the text follows the length) or a Parse ('P': after the statement's name) reads the change table. */
function readsChangeTable(message: Buffer, type: number): boolean {
  let start = 5;
  if (type === BYTE.P) {
    const end = message.indexOf(0, start);
    if (end < 0) return false;
    start = end + 1;
  }
  const end = message.indexOf(0, start);
  return CHANGE_TABLE_READ.test(message.toString('utf8', start, end < 0 ? message.length : end));
}

/** Collects TCP chunks and hands out complete protocol messages, copying only messages split across chunks. */
class FrameReader {
  private chunks: Buffer[] = [];
  private total = 0;

  /** Bytes held that do not make a complete message yet. */
  get buffered(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The next complete message: typed (type byte + Int32 length) or, for the first message of a connection, untyped (Int32 length first). */
  next(untyped: boolean): Buffer | undefined {
    const headerBytes = untyped ? 4 : 5;
    if (this.total < headerBytes) return undefined;
    const head = this.contiguous(headerBytes);
    const length = untyped ? head.readInt32BE(0) : 1 + head.readInt32BE(1);
    if (length < headerBytes || length > MAX_MESSAGE_BYTES) throw new RangeError('bad message length');
    if (this.total < length) return undefined;
    const first = this.contiguous(length);
    const message = first.subarray(0, length);
    if (first.length === length) this.chunks.shift();
    else this.chunks[0] = first.subarray(length);
    this.total -= length;
    return message;
  }

  /** Makes the first `n` buffered bytes one buffer and returns it (it may hold more). */
  private contiguous(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }
}

/** What one client sent that is forwarded (or answered) as a unit. */
interface Cycle {
  messages: Buffer[];
  /** Simple Query and Execute messages in it: the counted statements. */
  statements: number;
  /** Of those, the statements that read the change table (counted as `CHANGE_FEED_OPERATION`). */
  feedStatements?: number;
  /** ReadyForQuery messages that end the cycle's reply (0 for a Flush, 1 otherwise). */
  readyMessages: number;
  terminate?: boolean;
}

/** A mutex whose holder is one client's cycle; waiters are served in arrival order. */
function createCycleLock(): () => Promise<() => void> {
  let tail: Promise<void> = Promise.resolve();
  return () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const acquired = tail.then(() => release);
    tail = held;
    return acquired;
  };
}

/** An ErrorResponse then a ReadyForQuery: what a server that refuses a statement sends. */
function injectedError(transactionStatus: number): Buffer {
  const fields = Buffer.from('SERROR\0VERROR\0C57P03\0Mthe exchange database is not accepting queries (injected fault)\0\0', 'utf8');
  const error = Buffer.alloc(5 + fields.length);
  error[0] = BYTE.E;
  error.writeInt32BE(4 + fields.length, 1);
  fields.copy(error, 5);
  const ready = Buffer.from([BYTE.Z, 0, 0, 0, 5, transactionStatus]);
  return Buffer.concat([error, ready]);
}

/**
 * A DataRow whose every value is cut to half its bytes: framing stays valid (the client reads the
 * row without complaint), the values are what a truncating export job would leave behind.
 */
export function truncateDataRow(message: Buffer): Buffer {
  const count = message.readInt16BE(5);
  const parts: Buffer[] = [message.subarray(0, 7)];
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const length = message.readInt32BE(offset);
    offset += 4;
    if (length < 0) {
      parts.push(message.subarray(offset - 4, offset));
      continue;
    }
    const kept = Math.floor(length / 2);
    const header = Buffer.alloc(4);
    header.writeInt32BE(kept, 0);
    parts.push(header, message.subarray(offset, offset + kept));
    offset += length;
  }
  const row = Buffer.concat(parts);
  row.writeInt32BE(row.length - 1, 1);
  return row;
}

const HTTP_CONTROL_PREFIXES = ['GET /__sandbox/', 'POST /__sandbox/'].map((p) => Buffer.from(p, 'latin1'));

/** Whether a connection's first bytes are a control-route request, a database client, or too few to tell. */
function connectionKind(head: Buffer): 'http' | 'database' | 'undecided' {
  if (head[0] === 0) return 'database';
  let undecided = false;
  for (const prefix of HTTP_CONTROL_PREFIXES) {
    const n = Math.min(prefix.length, head.length);
    if (head.subarray(0, n).equals(prefix.subarray(0, n))) {
      if (head.length >= prefix.length) return 'http';
      undecided = true;
    }
  }
  return undecided ? 'undecided' : 'database';
}

/** Starts the proxy; it forwards to the upstream server until closed. */
export async function startWireProxy(options: WireProxyOptions): Promise<WireProxy> {
  const { control } = options;
  const lock = options.serialize ? createCycleLock() : undefined;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    if (options.httpPort === undefined) {
      // `down`: the database does not accept connections.
      if (control.faults.mode === 'down') client.destroy();
      else serveClient(client);
      return;
    }
    // The first bytes tell a control-route request from a PostgreSQL client (whose first byte is 0).
    let head: Buffer = Buffer.alloc(0);
    const onFirst = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const kind = connectionKind(head);
      if (kind === 'undecided') return;
      client.off('data', onFirst);
      client.off('error', onEarlyError);
      if (kind === 'http') pipeToControl(client, head, options.httpPort!);
      else if (control.faults.mode === 'down') client.destroy();
      else serveClient(client, head);
    };
    const onEarlyError = (): void => {
      client.destroy();
    };
    client.on('data', onFirst);
    client.on('error', onEarlyError);
  });

  /** Hands an HTTP connection to the control server: both ways, closed together. */
  function pipeToControl(client: net.Socket, head: Buffer, port: number): void {
    const http = net.connect({ host: '127.0.0.1', port });
    sockets.add(client);
    sockets.add(http);
    const both = (): void => {
      client.destroy();
      http.destroy();
      sockets.delete(client);
      sockets.delete(http);
    };
    client.on('error', both).on('close', both);
    http.on('error', both).on('close', both);
    http.write(head);
    client.pipe(http);
    http.pipe(client);
  }

  function serveClient(client: net.Socket, head?: Buffer): void {
    const upstream = net.connect({ host: options.upstreamHost, port: options.upstreamPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);

    const fromClient = new FrameReader();
    const fromServer = new FrameReader();
    let beforeStartup = true;
    /** From the StartupMessage to the first ReadyForQuery: authentication messages pass straight through. */
    let authenticating = false;
    let closed = false;
    let malformed = false;
    let transactionStatus = 0x49; // 'I'
    let pending: Buffer[] = [];
    let pendingStatements = 0;
    let pendingFeedStatements = 0;
    /** The last Parse of this client read the change table: its Executes are feed reads. */
    let parsedFeedRead = false;
    let chain: Promise<void> = Promise.resolve();
    let awaitingReady: { left: number; done: () => void } | undefined;
    const wakeOnClose = new Set<() => void>();

    const destroyBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    const readyReceived = (): void => {
      if (awaitingReady && --awaitingReady.left === 0) {
        const done = awaitingReady.done;
        awaitingReady = undefined;
        done();
      }
    };
    const onClientGone = (): void => {
      if (closed) return;
      closed = true;
      sockets.delete(client);
      for (const wake of wakeOnClose) wake();
      // Let a cycle already forwarded finish (PGlite must see its Sync), then drop the upstream.
      void chain.then(() => upstream.destroy());
    };
    const onUpstreamGone = (): void => {
      sockets.delete(upstream);
      client.destroy();
      if (awaitingReady) {
        const done = awaitingReady.done;
        awaitingReady = undefined;
        done();
      }
    };
    client.on('close', onClientGone);
    client.on('error', onClientGone);
    upstream.on('close', onUpstreamGone);
    upstream.on('error', onUpstreamGone);

    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          wakeOnClose.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        wakeOnClose.add(wake);
      });

    async function run(cycle: Cycle): Promise<void> {
      if (closed) return;
      if (cycle.terminate) {
        upstream.end(Buffer.concat(cycle.messages));
        return;
      }
      malformed = false;
      if (cycle.statements > 0) {
        const faults = control.faults;
        const ms = faults.latencyMs + (faults.mode === 'slow' ? faults.slowMs : 0);
        if (ms > 0) await sleep(ms);
        if (closed) return;
        if (control.faults.mode === 'down') {
          destroyBoth();
          return;
        }
        if (control.shouldFail()) {
          client.write(injectedError(transactionStatus === 0x49 ? 0x49 : 0x45));
          return;
        }
        malformed = control.faults.mode === 'malformed';
      }
      const release = lock ? await lock() : undefined;
      try {
        if (closed) return;
        const replied = cycle.readyMessages > 0 ? new Promise<void>((done) => (awaitingReady = { left: cycle.readyMessages, done })) : undefined;
        upstream.write(cycle.messages.length === 1 ? cycle.messages[0]! : Buffer.concat(cycle.messages));
        await replied;
      } finally {
        release?.();
      }
    }

    function enqueue(cycle: Cycle): void {
      const feed = cycle.feedStatements ?? 0;
      for (let i = 0; i < cycle.statements - feed; i++) control.count(SQL_OPERATION);
      for (let i = 0; i < feed; i++) control.count(CHANGE_FEED_OPERATION);
      chain = chain.then(() => run(cycle)).catch(destroyBoth);
    }

    function onClientMessage(message: Buffer): void {
      if (beforeStartup) {
        const code = message.length >= 8 ? message.readInt32BE(4) : 0;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          // No TLS on the loopback sandbox: the client goes on in plain text, as with a server without ssl.
          client.write('N');
        } else if (code === CANCEL_REQUEST) {
          upstream.write(message);
        } else {
          beforeStartup = false;
          authenticating = true;
          enqueue({ messages: [message], statements: 0, readyMessages: 1 });
        }
        return;
      }
      const type = message[0];
      // Only the authentication exchange ('p': password, SASL) goes straight through while the server
      // authenticates; a statement a client pipelines behind it is queued, counted and faulted like any
      // other, and runs once the start-up cycle has seen its ReadyForQuery.
      if (authenticating && type === BYTE.p) {
        upstream.write(message);
        return;
      }
      if (type === BYTE.X) {
        enqueue({ messages: [message], statements: 0, readyMessages: 0, terminate: true });
        return;
      }
      pending.push(message);
      if (type === BYTE.Q || type === BYTE.P) noteTraceparent(control, message, type);
      if (type === BYTE.P) parsedFeedRead = readsChangeTable(message, type);
      if (type === BYTE.Q || type === BYTE.E) {
        pendingStatements++;
        if (type === BYTE.Q ? readsChangeTable(message, type) : parsedFeedRead) pendingFeedStatements++;
      }
      if (type === BYTE.S || type === BYTE.Q || type === BYTE.H) {
        enqueue({ messages: pending, statements: pendingStatements, feedStatements: pendingFeedStatements, readyMessages: type === BYTE.H ? 0 : 1 });
        pending = [];
        pendingStatements = 0;
        pendingFeedStatements = 0;
      }
    }

    const onClientData = (chunk: Buffer): void => {
      if (closed) return;
      if (control.faults.mode === 'down') {
        destroyBoth();
        return;
      }
      fromClient.push(chunk);
      try {
        for (let message = fromClient.next(beforeStartup); message; message = fromClient.next(beforeStartup)) onClientMessage(message);
      } catch {
        destroyBoth();
      }
    };
    client.on('data', onClientData);
    if (head) onClientData(head);

    upstream.on('data', (chunk: Buffer) => {
      // Only complete messages are passed on, so a reply is never half raw and half rewritten.
      const carried = fromServer.buffered > 0;
      fromServer.push(chunk);
      const out: Buffer[] = [];
      let readies = 0;
      try {
        for (let message = fromServer.next(false); message; message = fromServer.next(false)) {
          if (message[0] === BYTE.Z) {
            readies++;
            transactionStatus = message[5] ?? 0x49;
          }
          out.push(malformed && message[0] === BYTE.D ? truncateDataRow(message) : message);
        }
      } catch {
        destroyBoth();
        return;
      }
      if (!closed) {
        if (!malformed && !carried && fromServer.buffered === 0) client.write(chunk);
        else if (out.length > 0) client.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      }
      for (; readies > 0; readies--) {
        authenticating = false;
        readyReceived();
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return {
    host: address.address,
    port: address.port,
    async exclusive(work) {
      if (!lock) return work();
      const release = await lock();
      try {
        return await work();
      } finally {
        release();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        sockets.clear();
        server.close(() => resolve());
      }),
  };
}
