/**
 * Sessions of the auditor console. A session is opened only by exchanging a one-time sign-in
 * token signed with a consumer's registered request key (`datarun console login`): the hub holds
 * no password. The session id is an opaque random value (the browser keeps it in an HttpOnly
 * cookie); the store keeps only its SHA-256, in memory, with an idle and an absolute expiry. A
 * console request names its session, never a consumer: the pipeline's authenticate stage looks it
 * up here and takes the session's consumer, roles and operator as the caller, so policy, limits
 * and the access log apply as to a signed request.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ConsoleLoginVerifier, KeyStore } from '../seal';

/** Defaults of the session store. */
export const DEFAULT_CONSOLE_SESSIONS = Object.freeze({
  /** A session unused this long ends. */
  idleMs: 15 * 60_000,
  /** A session ends this long after sign-in, however busy. */
  absoluteMs: 8 * 3600_000,
  /** At most this many live sessions; the least recently used goes first beyond it. */
  maxSessions: 10_000,
});

/** The purposes a console request may state: the auditor's search, and the hall's citizen view. */
export const CONSOLE_PURPOSES: ReadonlySet<string> = new Set(['AUDIT', 'CITIZEN_ACCESS_VIEW']);

/** Who a session acts for: the consumer whose key signed the sign-in token, and the person signed in. */
export interface ConsoleSessionPrincipal {
  readonly consumer: string;
  readonly roles: readonly string[];
  /** The request key that signed the sign-in token: the session ends when it is revoked or expires. */
  readonly keyId: string;
  /** 经办人: the access log's operator for every request of the session. */
  readonly operator: string;
  /** The case stated at sign-in, the console's default. */
  readonly caseNumber?: string;
}

/** A live session (never its id: the store keeps only the id's hash). */
export interface ConsoleSession extends ConsoleSessionPrincipal {
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** When the session ends if it stays unused. */
  readonly idleExpiresAt: number;
  /** When the session ends at the latest. */
  readonly absoluteExpiresAt: number;
}

/** Options of `createConsoleSessionStore`. */
export interface ConsoleSessionStoreOptions {
  /** @default DEFAULT_CONSOLE_SESSIONS.idleMs */
  readonly idleMs?: number;
  /** @default DEFAULT_CONSOLE_SESSIONS.absoluteMs */
  readonly absoluteMs?: number;
  /** @default DEFAULT_CONSOLE_SESSIONS.maxSessions */
  readonly maxSessions?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** The in-memory session store of one hub instance. */
export interface ConsoleSessionStore {
  /** Opens a session; its id is returned once, here. */
  create(principal: ConsoleSessionPrincipal): { id: string; session: ConsoleSession };
  /** The live session of this id (its idle expiry moved on), or undefined when unknown, expired or ended. */
  touch(id: string): ConsoleSession | undefined;
  /** The live session of this id without using it (its idle expiry stays). */
  peek(id: string): ConsoleSession | undefined;
  /** Ends a session; true when it was live. */
  delete(id: string): boolean;
  /** Live sessions (expired ones are dropped first). */
  size(): number;
}

const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

function keyOf(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

export function createConsoleSessionStore(options: ConsoleSessionStoreOptions = {}): ConsoleSessionStore {
  const idleMs = options.idleMs ?? DEFAULT_CONSOLE_SESSIONS.idleMs;
  const absoluteMs = options.absoluteMs ?? DEFAULT_CONSOLE_SESSIONS.absoluteMs;
  const maxSessions = options.maxSessions ?? DEFAULT_CONSOLE_SESSIONS.maxSessions;
  const now = options.now ?? Date.now;
  // A Map keeps insertion order: a session used is moved to the end, so the first is the least recently used.
  const sessions = new Map<string, ConsoleSession>();

  const live = (session: ConsoleSession, at: number): boolean => at < session.idleExpiresAt && at < session.absoluteExpiresAt;
  const sweep = (at: number): void => {
    for (const [key, session] of sessions) if (!live(session, at)) sessions.delete(key);
  };
  const find = (id: string, at: number): [string, ConsoleSession] | undefined => {
    if (typeof id !== 'string' || !ID_SHAPE.test(id)) return undefined;
    const key = keyOf(id);
    const session = sessions.get(key);
    if (!session) return undefined;
    if (!live(session, at)) {
      sessions.delete(key);
      return undefined;
    }
    return [key, session];
  };

  return {
    create(principal) {
      const at = now();
      sweep(at);
      while (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value as string);
      const id = randomBytes(32).toString('base64url');
      const session: ConsoleSession = {
        consumer: principal.consumer,
        roles: [...principal.roles],
        keyId: principal.keyId,
        operator: principal.operator,
        ...(principal.caseNumber ? { caseNumber: principal.caseNumber } : {}),
        createdAt: at,
        lastUsedAt: at,
        idleExpiresAt: Math.min(at + idleMs, at + absoluteMs),
        absoluteExpiresAt: at + absoluteMs,
      };
      sessions.set(keyOf(id), session);
      return { id, session };
    },
    touch(id) {
      const at = now();
      const found = find(id, at);
      if (!found) return undefined;
      const [key, session] = found;
      const touched: ConsoleSession = { ...session, lastUsedAt: at, idleExpiresAt: Math.min(at + idleMs, session.absoluteExpiresAt) };
      sessions.delete(key);
      sessions.set(key, touched);
      return touched;
    },
    peek(id) {
      return find(id, now())?.[1];
    },
    delete(id) {
      const found = find(id, now());
      if (!found) return false;
      sessions.delete(found[0]);
      return true;
    },
    size() {
      sweep(now());
      return sessions.size;
    },
  };
}

/** What the console's sign-in shows the browser about its session (never the id). */
export interface ConsoleSessionView {
  readonly consumer: string;
  readonly roles: readonly string[];
  readonly operator: string;
  readonly caseNumber: string | null;
  readonly idleExpiresAt: string;
  readonly absoluteExpiresAt: string;
}

export function viewOf(session: ConsoleSession): ConsoleSessionView {
  return {
    consumer: session.consumer,
    roles: session.roles,
    operator: session.operator,
    caseNumber: session.caseNumber ?? null,
    idleExpiresAt: new Date(session.idleExpiresAt).toISOString(),
    absoluteExpiresAt: new Date(session.absoluteExpiresAt).toISOString(),
  };
}

/** The gateway's console sessions: sign-in by token exchange, lookup for the pipeline, sign-out. */
export interface ConsoleSessions {
  /** Verifies and spends a sign-in token, then opens a session (UnauthenticatedError when the token fails). */
  signIn(token: string | undefined): Promise<{ id: string; session: ConsoleSession }>;
  /** The session for a console request, its idle expiry moved on; undefined when it is not live or its key no longer is. */
  use(id: string): ConsoleSession | undefined;
  /** The session without using it. */
  peek(id: string): ConsoleSession | undefined;
  signOut(id: string): boolean;
}

export function createConsoleSessions(options: { verifier: ConsoleLoginVerifier; keyStore: KeyStore; store?: ConsoleSessionStore }): ConsoleSessions {
  const store = options.store ?? createConsoleSessionStore();
  const keyLive = (session: ConsoleSession): boolean => {
    const key = options.keyStore.resolveKey(session.keyId);
    const at = Date.now();
    return key !== undefined && (key.revokedAt === undefined || key.revokedAt > at) && (key.validTo === undefined || key.validTo > at);
  };
  const checked = (id: string, session: ConsoleSession | undefined): ConsoleSession | undefined => {
    if (session && !keyLive(session)) {
      store.delete(id);
      return undefined;
    }
    return session;
  };
  return {
    async signIn(token) {
      const verified = await options.verifier.verify(token);
      return store.create({
        consumer: verified.consumer,
        roles: verified.roles,
        keyId: verified.keyId,
        operator: verified.claims.operator,
        ...(verified.claims.case ? { caseNumber: verified.claims.case } : {}),
      });
    },
    use: (id) => checked(id, store.touch(id)),
    peek: (id) => checked(id, store.peek(id)),
    signOut: (id) => store.delete(id),
  };
}
