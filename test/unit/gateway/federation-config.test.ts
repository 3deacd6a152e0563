/** `federation.peers`, the trust list of peer hubs: validated with errors naming the setting. */
import { ConfigError, parseConfig } from '../../../src/gateway/config';

const THUMBPRINT = 'q1t0zEJn1Wr2rs0M3Qj3J2Cw9o0Hm9rI1yQvGQ5cJ6A';
const JWK = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };

const problem = (federation: unknown): string => {
  try {
    parseConfig({ federation });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('federation.peers', () => {
  it('is empty by default, and takes a root as a public JWK or its thumbprint', () => {
    expect(parseConfig({}).federation).toEqual({ peers: {}, refetchIntervalSec: 30 });
    const config = parseConfig({ federation: { peers: { 'city-b': { url: 'https://hub.city-b.example', root: THUMBPRINT }, 'city-c': { url: 'http://127.0.0.1:4100', root: JWK } } } });
    expect(config.federation.peers['city-b']).toEqual({ url: 'https://hub.city-b.example', root: THUMBPRINT });
    expect(config.federation.peers['city-c']!.root).toEqual(JWK);
  });

  it('names each bad setting: the peer id, its url, its root, an unknown member', () => {
    expect(problem({ peers: { City_B: { url: 'https://b.example', root: THUMBPRINT } } })).toContain('federation.peers.City_B: expected a kebab-case peer hub id');
    expect(problem({ peers: { 'city-b': { url: 'http://b.example', root: THUMBPRINT } } })).toContain('federation.peers.city-b.url: expected an https:// URL (http:// only on a loopback host)');
    expect(problem({ peers: { 'city-b': { url: 'https://u:p@b.example', root: THUMBPRINT } } })).toContain('federation.peers.city-b.url: expected a URL without credentials, query or fragment');
    expect(problem({ peers: { 'city-b': { url: 'not a url', root: THUMBPRINT } } })).toContain('federation.peers.city-b.url: expected the peer hub’s base URL');
    expect(problem({ peers: { 'city-b': { url: 'https://b.example', root: 'abc' } } })).toContain('federation.peers.city-b.root: expected a root key as a public JWK or its RFC 7638 SHA-256 thumbprint');
    expect(problem({ peers: { 'city-b': { url: 'https://b.example', root: { ...JWK, d: 'secret' } } } })).toContain('federation.peers.city-b.root: expected a root key as a public JWK (kty, crv, x[, y]; no private members)');
    expect(problem({ peers: { 'city-b': { url: 'https://b.example' } } })).toContain('federation.peers.city-b.root');
    expect(problem({ peers: { 'city-b': { url: 'https://b.example', root: THUMBPRINT, jwks: 'x' } } })).toMatch(/federation\.peers\.city-b: .*jwks/);
    expect(problem({ peer: {} })).toMatch(/federation: .*peer/);
    expect(problem({ refetchIntervalSec: -1 })).toContain('federation.refetchIntervalSec');
    expect(parseConfig({ federation: { refetchIntervalSec: 0 } }).federation.refetchIntervalSec).toBe(0);
  });
});
