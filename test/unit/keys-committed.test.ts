/**
 * What `keys/` may commit: its README only. Everything else there is made per clone at first
 * start (the trust list, the JWKS, the federation root) or written while a hub runs (the private
 * keys, the access log's newest head per instance): a committed head of one machine's instance
 * is a head no other clone's log matches, signed by a key no other clone holds.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

describe('keys/ in git', () => {
  it('tracks only keys/README.md', () => {
    const tracked = execFileSync('git', ['ls-files', '-z', '--', 'keys'], { cwd: root, encoding: 'utf8' }).split('\0').filter((f) => f !== '');
    expect(tracked).toEqual(['keys/README.md']);
  });

  it('ignores what a hub writes there', () => {
    const probe = ['keys/trust.json', 'keys/jwks.json', 'keys/federation-root.json', 'keys/private/x.jwk.json', 'keys/audit-heads/hub-1.json', 'keys/.lock'];
    const ignored = execFileSync('git', ['check-ignore', '--no-index', ...probe], { cwd: root, encoding: 'utf8' }).split('\n').filter((f) => f !== '');
    expect(ignored).toEqual(probe);
  });
});
