/**
 * A TCP fault proxy: sits in front of any host:port (a PostgreSQL server, a SOAP service) and
 * passes bytes through, or misbehaves on demand, knowing nothing of the protocol. It counts
 * connections and bytes. Faults: `down` resets every open connection and every new one; `slow`
 * holds each chunk of the reply for `delayMs`; `malformed` replaces the next reply with garbage
 * bytes (or the bytes given) and then closes the connection; `reset` forwards part of the next
 * reply, then resets the connection.
 */
import net from 'node:net';
import { ConnectorDefinitionError } from '../sdk';
import { DelayedReplies, checkFault, type ConformanceUpstream, type FaultMode, type UpstreamFault } from './upstream';

/** A fault of the proxy; `bytes` replaces the garbage of `malformed` (a whole HTTP reply, say). */
export interface TcpFault extends UpstreamFault {
  readonly bytes?: Buffer | string;
}

/** Options of `startTcpFaultProxy`. */
export interface TcpFaultProxyOptions {
  /** Where to forward: `"host:port"` or `{ host, port }`. */
  readonly target: string | { readonly host: string; readonly port: number };
  /** What `malformed` sends by default. @default bytes no protocol accepts */
  readonly malformedBytes?: Buffer | string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

/** A running proxy. */
export interface TcpFaultProxy extends ConformanceUpstream {
  readonly host: string;
  readonly port: number;
  /** `host:port` of the proxy. */
  readonly address: string;
  /** The same URL with its host and port replaced by the proxy's (`postgres://u:p@db:5432/x` → `postgres://u:p@127.0.0.1:<port>/x`). */
  rewriteUrl(url: string): string;
  setFault(fault: TcpFault): void;
  /** Connections accepted since the last reset (the kit's `calls`). */
  calls(): number;
  connections(): number;
  /** Bytes from clients and from the target since the last reset. */
  bytes(): { readonly fromClients: number; readonly fromTarget: number };
  /** Connections open now. */
  openConnections(): number;
  reset(): void;
  close(): Promise<void>;
}

const SUPPORTED: readonly FaultMode[] = ['none', 'down', 'slow', 'malformed', 'reset'];
const HELPER = 'TCP fault proxy';
const RESET_PAUSE_MS = 20;
const DEFAULT_GARBAGE = Buffer.from('\u0000\u00ff\u00fe datarun TCP fault proxy: malformed reply \u00ff\u0000\r\n\r\n', 'latin1');

function parseTarget(target: TcpFaultProxyOptions['target']): { host: string; port: number } {
  if (typeof target === 'object' && target !== null) {
    if (typeof target.host === 'string' && target.host !== '' && Number.isInteger(target.port) && target.port > 0 && target.port < 65536) return { host: target.host, port: target.port };
  } else if (typeof target === 'string') {
    const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(target);
    const port = Number(match?.[2]);
    if (match && port > 0 && port < 65536) return { host: match[1]!, port };
  }
  throw new ConnectorDefinitionError(`${HELPER}: target must be "host:port" or { host, port } with a port from 1 to 65535, but got: ${JSON.stringify(target)}`);
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

/** Starts a TCP fault proxy in front of `target`, on a loopback port. */
export async function startTcpFaultProxy(options: TcpFaultProxyOptions): Promise<TcpFaultProxy> {
  const target = parseTarget(options?.target);
  const defaultGarbage = options.malformedBytes === undefined ? DEFAULT_GARBAGE : Buffer.from(options.malformedBytes);
  let fault: Required<UpstreamFault> & { bytes?: Buffer } = { mode: 'none', delayMs: 0 };
  let connections = 0;
  let fromClients = 0;
  let fromTarget = 0;
  const pairs = new Set<Pair>();
  const delayed = new DelayedReplies();

  const drop = (pair: Pair) => {
    pairs.delete(pair);
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    pair.upstream.destroy();
  };

  const server = net.createServer((client) => {
    connections += 1;
    client.on('error', () => undefined);
    if (fault.mode === 'down') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    upstream.on('error', () => drop(pair));
    client.on('close', () => drop(pair));
    upstream.on('close', () => {
      pairs.delete(pair);
      if (!client.destroyed) client.end();
    });
    // Whether the client has sent something the target has not answered yet.
    let awaitingReply = false;
    client.on('data', (chunk: Buffer) => {
      fromClients += chunk.length;
      awaitingReply = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      fromTarget += chunk.length;
      const current = fault;
      const first = awaitingReply;
      awaitingReply = false;
      switch (current.mode) {
        case 'slow':
          delayed.after(current.delayMs, () => {
            if (!client.destroyed) client.write(chunk);
          });
          return;
        case 'malformed':
          if (first) {
            client.end(current.bytes ?? defaultGarbage);
            upstream.destroy();
          }
          return;
        case 'reset':
          // Part of the reply, then a reset (RST). A reset in the same turn as the write's
          // completion can leave as an orderly close (FIN), hence the short pause.
          client.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2))), () => delayed.after(RESET_PAUSE_MS, () => drop(pair)));
          upstream.pause();
          return;
        case 'down':
          drop(pair);
          return;
        default:
          client.write(chunk);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const host = address.address;
  const hostInUrl = address.family === 'IPv6' ? `[${host}]` : host;

  return {
    host,
    port: address.port,
    address: `${hostInUrl}:${address.port}`,
    faults: SUPPORTED,
    rewriteUrl(url: string) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new ConnectorDefinitionError(`${HELPER}: rewriteUrl needs an absolute URL, but got: ${JSON.stringify(url)}`);
      }
      parsed.hostname = hostInUrl;
      parsed.port = String(address.port);
      return parsed.toString();
    },
    setFault(next: TcpFault) {
      fault = { ...checkFault(next, SUPPORTED, HELPER), ...(next.bytes !== undefined ? { bytes: Buffer.from(next.bytes) } : {}) };
      if (fault.mode === 'down') for (const pair of [...pairs]) drop(pair);
    },
    calls: () => connections,
    connections: () => connections,
    bytes: () => ({ fromClients, fromTarget }),
    openConnections: () => pairs.size,
    reset() {
      fault = { mode: 'none', delayMs: 0 };
      connections = 0;
      fromClients = 0;
      fromTarget = 0;
    },
    async close() {
      delayed.clear();
      for (const pair of [...pairs]) drop(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
