import { createConsoleSessionStore, DEFAULT_CONSOLE_SESSIONS, type ConsoleSessionPrincipal } from '../../../src/gateway';

const AUDITOR: ConsoleSessionPrincipal = { consumer: 'auditor', roles: ['auditor'], keyId: 'auditor.request.v1', operator: '审计员-赵强', caseNumber: 'SJ-2026-0012' };

function clock(start = Date.parse('2026-12-01T03:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('the console session store', () => {
  it('opens a session under an opaque random id and finds it only by that id', () => {
    const store = createConsoleSessionStore();
    const { id, session } = store.create(AUDITOR);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session).toMatchObject({ consumer: 'auditor', roles: ['auditor'], operator: '审计员-赵强', caseNumber: 'SJ-2026-0012' });
    expect(store.touch(id)).toMatchObject({ consumer: 'auditor' });
    expect(store.touch(`${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(store.touch('')).toBeUndefined();
    expect(store.touch('../../etc/passwd')).toBeUndefined();
    expect(store.create(AUDITOR).id).not.toBe(id);
  });

  it('ends a session left unused for the idle time (15 minutes), and moves that time on at each use', () => {
    const c = clock();
    const store = createConsoleSessionStore({ now: c.now });
    const { id } = store.create(AUDITOR);
    c.advance(DEFAULT_CONSOLE_SESSIONS.idleMs - 1000);
    expect(store.touch(id)).toBeDefined();
    c.advance(DEFAULT_CONSOLE_SESSIONS.idleMs - 1000);
    // peek does not count as use.
    expect(store.peek(id)).toBeDefined();
    c.advance(1000);
    expect(store.peek(id)).toBeUndefined();
    expect(store.touch(id)).toBeUndefined();
    expect(store.size()).toBe(0);
  });

  it('ends a session at its absolute time (8 hours), however busy', () => {
    const c = clock();
    const store = createConsoleSessionStore({ now: c.now });
    const { id, session } = store.create(AUDITOR);
    expect(session.absoluteExpiresAt - session.createdAt).toBe(DEFAULT_CONSOLE_SESSIONS.absoluteMs);
    // Used every 10 minutes for 7 h 50 min: alive, its idle expiry never past the absolute one.
    for (let i = 0; i < 47; i++) {
      c.advance(10 * 60_000);
      const used = store.touch(id)!;
      expect(used).toBeDefined();
      expect(used.idleExpiresAt).toBeLessThanOrEqual(used.absoluteExpiresAt);
    }
    c.advance(10 * 60_000);
    expect(store.touch(id)).toBeUndefined();
  });

  it('logs out: a deleted session is gone for good', () => {
    const store = createConsoleSessionStore();
    const { id } = store.create(AUDITOR);
    expect(store.delete(id)).toBe(true);
    expect(store.delete(id)).toBe(false);
    expect(store.touch(id)).toBeUndefined();
  });

  it('is bounded: beyond its maximum the least recently used session goes first', () => {
    const c = clock();
    const store = createConsoleSessionStore({ now: c.now, maxSessions: 3 });
    const a = store.create(AUDITOR).id;
    c.advance(1);
    const b = store.create(AUDITOR).id;
    c.advance(1);
    const d = store.create(AUDITOR).id;
    c.advance(1);
    store.touch(a);
    const e = store.create(AUDITOR).id;
    expect(store.size()).toBe(3);
    expect(store.peek(b)).toBeUndefined();
    for (const id of [a, d, e]) expect(store.peek(id)).toBeDefined();
  });
});
