/**
 * Versioned documents in memory: created only if absent, replaced only at the version read,
 * index sets joined and left with the write. (In Redis: test/integration/cases-redis.test.ts.)
 */
import { createMemoryDocuments } from '../../../src/state';

describe('documents in memory', () => {
  it('creates a document once, replaces it only at the version read, and keeps the index sets', async () => {
    const docs = createMemoryDocuments('cases');
    expect(await docs.create('a', 'one', ['all', 'open'])).toEqual({ created: true, document: { version: 1, value: 'one' } });
    expect(await docs.create('a', 'other', ['all'])).toEqual({ created: false, document: { version: 1, value: 'one' } });
    expect(await docs.replace('a', 2, 'two')).toBe(false);
    expect(await docs.replace('missing', 1, 'two')).toBe(false);
    expect(await docs.replace('a', 1, 'two', { add: ['done'], remove: ['open'] })).toBe(true);
    expect(await docs.replace('a', 1, 'three')).toBe(false);
    expect(await docs.get('a')).toEqual({ version: 2, value: 'two' });
    expect(await docs.getMany(['a', 'missing'])).toEqual([{ version: 2, value: 'two' }, undefined]);
    expect([await docs.members('all'), await docs.members('open'), await docs.members('done'), await docs.members('none')]).toEqual([['a'], [], ['a'], []]);
  });

  it('refuses a namespace that is not a plain name', () => {
    expect(() => createMemoryDocuments('Cases!')).toThrow(expect.objectContaining({ code: 'REDIS_SETTINGS_INVALID' }));
  });
});
