import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { HubError } from '../sdk';
import {
  FEDERATION_STATEMENT_PATH,
  MAX_FEDERATION_STATEMENT_LENGTH,
  PeerStatementRefusedError,
  PEER_STATEMENT_MESSAGES,
  pinnedRootThumbprint,
  verifyPeerJwks,
  type Jwks,
  type PeerJwksVerified,
  type PinnedRoot,
  type TrustedKey,
  type TrustedKeys,
} from '../seal';

/**
 * The peer key source (docs/federation.md, "Trust between hubs"): the keys of the peer hubs the
 * federation trust list names, each taken from the peer's JWKS statement and accepted only when
 * signed by the root pinned for it. Verified statements are kept in memory and on disk (so
 * verification works offline after one fetch, and after a restart without the peer); a kid the
 * cached keys do not know (a rotation) fetches again, at most once per interval; a statement older
 * than the one accepted is refused (rollback).
 */

/** How often a peer is fetched again at most (unknown kid, expiring or missing statement), in seconds. */
export const DEFAULT_PEER_REFETCH_INTERVAL_SEC = 30;

/** Longest wait for a peer's statement, in ms. */
const DEFAULT_PEER_TIMEOUT_MS = 10_000;

/** Peer hub ids: kebab-case, as hub ids in a trust list. */
const PEER_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/;

/** What the trust list says of one peer: where its hub is, and its pinned root. */
export interface PeerTrust {
  /** The peer hub's base URL (`https://hub.other-city.gov.cn`); its statement is at `FEDERATION_STATEMENT_PATH` under it. */
  readonly url: string;
  /** The peer's federation root key: its public JWK, or its RFC 7638 thumbprint, exchanged out of band. */
  readonly root: PinnedRoot;
}

/** Zod schema of `federation.peers` (the configuration's trust list of peer hubs), with errors naming the setting. */
export const federationPeersSchema = z
  .record(
    z.string(),
    z.strictObject({
      url: z.string().superRefine((text, ctx) => {
        let url: URL;
        try {
          url = new URL(text);
        } catch {
          ctx.addIssue({ code: 'custom', message: 'expected the peer hub’s base URL, https://…' });
          return;
        }
        if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') ctx.addIssue({ code: 'custom', message: 'expected a URL without credentials, query or fragment' });
        else if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) ctx.addIssue({ code: 'custom', message: 'expected an https:// URL (http:// only on a loopback host)' });
      }),
      root: z.unknown().superRefine((root, ctx) => {
        try {
          pinnedRootThumbprint(root);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    }),
  )
  .superRefine((peers, ctx) => {
    for (const id of Object.keys(peers)) if (!PEER_ID.test(id)) ctx.addIssue({ code: 'custom', message: 'expected a kebab-case peer hub id', path: [id] });
  });

/** A peer the trust list does not name. */
export class PeerUnknownError extends HubError {
  declare readonly code: 'ERR_PEER_UNKNOWN';

  constructor(message: string) {
    super('ERR_PEER_UNKNOWN', message);
  }
}

/** A peer whose statement cannot be fetched, with no valid copy cached. */
export class PeerKeysUnavailableError extends HubError {
  declare readonly code: 'ERR_PEER_UNAVAILABLE';

  constructor(message: string, cause?: unknown) {
    super('ERR_PEER_UNAVAILABLE', message, {}, cause);
  }
}

/** A peer's verified keys: resolve a kid of its seals, receipts and checkpoints. */
export interface PeerKeys extends TrustedKeys {
  readonly hub: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly jwks: Jwks;
}

/** Options of `createPeerKeySource`. */
export interface PeerKeySourceOptions {
  /** The trust list: peer hub id → URL and pinned root (`federation.peers` of the configuration). */
  readonly peers: Readonly<Record<string, PeerTrust>>;
  /** Where verified statements are kept, one file a peer (`peerCacheDir(keysDir)` for the hub). */
  readonly cacheDir: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default Date.now */
  readonly now?: () => number;
  /** Longest wait for a statement, in ms. @default 10 000 */
  readonly timeoutMs?: number;
  /** At most one fetch a peer per this many seconds, except `refresh`. @default DEFAULT_PEER_REFETCH_INTERVAL_SEC */
  readonly refetchIntervalSec?: number;
  /** Leeway for peers' clocks, in seconds. @default 60 */
  readonly clockSkewSec?: number;
  /** Told when an accepted statement cannot be written to `cacheDir` (it is used from memory; offline use after a restart is lost): log it. */
  readonly onCacheError?: (peer: string, error: unknown) => void;
}

/** The keys of the peer hubs, fetched, verified against their pinned roots, and cached. */
export interface PeerKeySource {
  /**
   * The peer's keys: the cached statement while it is valid, else a fetch. With `kid`, a kid the
   * cached keys do not know fetches again (a rotation), at most once per refetch interval. A
   * failed fetch falls back on a cached statement still valid. Throws PeerUnknownError,
   * PeerStatementRefusedError (with `reason`), PeerKeysUnavailableError.
   */
  keysOf(peer: string, options?: { readonly kid?: string }): Promise<PeerKeys>;
  /** Fetches the peer's statement now (not throttled) and returns the keys accepted. */
  refresh(peer: string): Promise<PeerKeys>;
  /** Aborts fetches under way; later calls throw. */
  close(): Promise<void>;
}

/** Where the hub keeps its peers' statements: `peers/` in its keys directory. */
export function peerCacheDir(keysDir: string): string {
  return path.join(keysDir, 'peers');
}

interface PeerState {
  /** The accepted statement and what it verified to. */
  current?: { readonly token: string; readonly verified: PeerJwksVerified; readonly keys: PeerKeys };
  /** The newest `iat` (ms) ever accepted from this peer, even of a statement since expired: nothing older is accepted. */
  floorMs: number;
  loaded: boolean;
  lastFetchMs: number | undefined;
  lastError: unknown;
  inflight: Promise<PeerKeys> | undefined;
}

/** The body as text, refused (PeerKeysUnavailableError) past `limit` bytes whatever the headers said. */
async function readBounded(response: Response, limit: number, peer: string): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new PeerKeysUnavailableError(`the JWKS statement of peer ${peer} is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function keysFrom(verified: PeerJwksVerified): PeerKeys {
  return {
    hub: verified.hub,
    issuedAt: verified.issuedAt,
    expiresAt: verified.expiresAt,
    jwks: verified.jwks,
    resolveKey: (kid: string): TrustedKey | undefined => verified.keys.resolveKey(kid),
  };
}

/** Creates the key source of the peers of a trust list; validates the list (PeerUnknownError never, InvalidKeyError for a bad root). */
export function createPeerKeySource(options: PeerKeySourceOptions): PeerKeySource {
  const peers = new Map<string, PeerTrust & { readonly thumbprint: string }>();
  for (const [id, trust] of Object.entries(options.peers)) {
    if (!PEER_ID.test(id)) throw new PeerUnknownError(`federation.peers: "${id}" is not a kebab-case peer hub id`);
    peers.set(id, { ...trust, thumbprint: pinnedRootThumbprint(trust.root) });
  }
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_PEER_TIMEOUT_MS;
  const intervalMs = (options.refetchIntervalSec ?? DEFAULT_PEER_REFETCH_INTERVAL_SEC) * 1000;
  const skewSec = options.clockSkewSec ?? 60;
  const states = new Map<string, PeerState>();
  const closing = new AbortController();
  let closed = false;

  const cacheFile = (peer: string): string => path.join(options.cacheDir, `${peer}.federation.jwt`);

  function trustOf(peer: string): PeerTrust & { readonly thumbprint: string } {
    const trust = peers.get(peer);
    if (!trust) throw new PeerUnknownError(`"${String(peer).slice(0, 100)}" is not a peer of federation.peers`);
    return trust;
  }

  function stateOf(peer: string): PeerState {
    let state = states.get(peer);
    if (!state) {
      state = { floorMs: 0, loaded: false, lastFetchMs: undefined, lastError: undefined, inflight: undefined };
      states.set(peer, state);
    }
    return state;
  }

  const verify = (peer: string, token: string) => verifyPeerJwks(token, { hub: peer, root: trustOf(peer).root, now: now(), clockSkewSec: skewSec });

  /** Reads the disk copy once: accepted while valid; its `iat` is a floor either way (a copy signed by the root is the peer's word). */
  async function loadCached(peer: string, state: PeerState): Promise<void> {
    if (state.loaded) return;
    state.loaded = true;
    const token = await readFile(cacheFile(peer), 'utf8').catch(() => undefined);
    if (token === undefined) return;
    const verified = verify(peer, token);
    if (verified.valid) {
      state.current = { token, verified, keys: keysFrom(verified) };
      state.floorMs = Math.max(state.floorMs, verified.issuedAt.getTime());
    } else if (verified.reason === 'EXPIRED') {
      const floor = verifyPeerJwks(token, { hub: peer, root: trustOf(peer).root, now: now(), clockSkewSec: skewSec, allowExpired: true });
      if (floor.valid) state.floorMs = Math.max(state.floorMs, floor.issuedAt.getTime());
    }
  }

  async function fetchStatement(peer: string): Promise<string> {
    const base = trustOf(peer).url.replace(/\/+$/, '');
    const url = `${base}${FEDERATION_STATEMENT_PATH}`;
    let response: Response;
    try {
      response = await doFetch(url, { headers: { accept: 'application/jwt' }, redirect: 'error', signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), closing.signal]) });
    } catch (error) {
      throw new PeerKeysUnavailableError(`cannot fetch the JWKS statement of peer ${peer} from ${url}`, error);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new PeerKeysUnavailableError(`cannot fetch the JWKS statement of peer ${peer} from ${url}: HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > MAX_FEDERATION_STATEMENT_LENGTH) {
      await response.body?.cancel().catch(() => undefined);
      throw new PeerKeysUnavailableError(`the JWKS statement of peer ${peer} is larger than ${MAX_FEDERATION_STATEMENT_LENGTH} bytes`);
    }
    try {
      return (await readBounded(response, MAX_FEDERATION_STATEMENT_LENGTH, peer)).trim();
    } catch (error) {
      if (error instanceof PeerKeysUnavailableError) throw error;
      throw new PeerKeysUnavailableError(`cannot read the JWKS statement of peer ${peer} from ${url}`, error);
    }
  }

  async function fetchAndAccept(peer: string, state: PeerState): Promise<PeerKeys> {
    state.lastFetchMs = now();
    const token = await fetchStatement(peer);
    const verified = verify(peer, token);
    if (!verified.valid) throw new PeerStatementRefusedError(verified.reason, `peer ${peer}: ${verified.message}`);
    if (verified.issuedAt.getTime() < state.floorMs) throw new PeerStatementRefusedError('ROLLBACK', `peer ${peer}: ${PEER_STATEMENT_MESSAGES.ROLLBACK}`);
    if (state.current?.token === token) return state.current.keys;
    const keys = keysFrom(verified);
    state.current = { token, verified, keys };
    state.floorMs = verified.issuedAt.getTime();
    // Accepted in memory whatever happens to the disk copy: the keys are right; only offline use after a restart is lost.
    try {
      await mkdir(options.cacheDir, { recursive: true });
      const file = cacheFile(peer);
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, `${token}\n`, { mode: 0o644 });
      await rename(tmp, file);
    } catch (error) {
      options.onCacheError?.(peer, error);
    }
    return keys;
  }

  /** One fetch a peer at a time: concurrent callers share it. */
  function fetchOnce(peer: string, state: PeerState): Promise<PeerKeys> {
    if (!state.inflight) {
      state.inflight = fetchAndAccept(peer, state).finally(() => {
        state.inflight = undefined;
      });
      state.inflight.catch((error: unknown) => {
        state.lastError = error;
      });
    }
    return state.inflight;
  }

  const usable = (state: PeerState): PeerKeys | undefined => {
    const current = state.current;
    if (!current) return undefined;
    return current.verified.expiresAt.getTime() + skewSec * 1000 > now() ? current.keys : undefined;
  };

  function assertOpen(): void {
    if (closed) throw new PeerKeysUnavailableError('the peer key source is closed');
  }

  return {
    async keysOf(peer, opts = {}) {
      assertOpen();
      trustOf(peer);
      const state = stateOf(peer);
      await loadCached(peer, state);
      const cached = usable(state);
      // Past three quarters of its lifetime a statement is renewed; a kid it does not know may be a rotation.
      const renewAtMs = cached ? cached.expiresAt.getTime() - (cached.expiresAt.getTime() - cached.issuedAt.getTime()) / 4 : 0;
      const wanted = !cached || now() >= renewAtMs || (opts.kid !== undefined && cached.resolveKey(opts.kid) === undefined);
      const throttled = state.lastFetchMs !== undefined && now() - state.lastFetchMs < intervalMs;
      if (!wanted || (throttled && !state.inflight)) {
        if (cached) return cached;
        throw state.lastError instanceof HubError ? state.lastError : new PeerKeysUnavailableError(`no valid JWKS statement of peer ${peer}, and it was fetched less than ${intervalMs / 1000} s ago`, state.lastError);
      }
      try {
        return await fetchOnce(peer, state);
      } catch (error) {
        // A rollback or a refused statement leaves the accepted one in place; so does an unreachable peer.
        if (cached) return cached;
        throw error;
      }
    },
    async refresh(peer) {
      assertOpen();
      trustOf(peer);
      const state = stateOf(peer);
      await loadCached(peer, state);
      return fetchOnce(peer, state);
    },
    async close() {
      closed = true;
      closing.abort();
      await Promise.allSettled([...states.values()].map((s) => s.inflight));
    },
  };
}
