import { parseCidr, sourceAddressOf, sourceOf } from '../../../src/gateway/source-address';

describe('sourceOf', () => {
  it('takes an IPv4 peer as is', () => {
    expect(sourceOf('203.0.113.7', undefined, [])).toBe('203.0.113.7');
  });

  it('reduces an IPv6 peer to its /64', () => {
    expect(sourceOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd', undefined, [])).toBe('2001:db8:1:2::/64');
    expect(sourceOf('2001:0DB8:0001:0002::1', undefined, [])).toBe('2001:db8:1:2::/64');
    expect(sourceOf('2001:db8::1', undefined, [])).toBe('2001:db8::/64');
    expect(sourceOf('fe80::1%eth0', undefined, [])).toBe('fe80::/64');
    expect(sourceOf('::1', undefined, [])).toBe('::/64');
  });

  it('takes an IPv4-mapped IPv6 peer as its IPv4', () => {
    expect(sourceOf('::ffff:1.2.3.4', undefined, [])).toBe('1.2.3.4');
    expect(sourceOf('::FFFF:0102:0304', undefined, [])).toBe('1.2.3.4');
  });

  it('ignores X-Forwarded-For from an untrusted peer: a client cannot choose its source', () => {
    expect(sourceOf('203.0.113.7', '198.51.100.1', [])).toBe('203.0.113.7');
    expect(sourceOf('203.0.113.7', '198.51.100.1', ['10.0.0.0/8'])).toBe('203.0.113.7');
  });

  it('walks X-Forwarded-For from the right past trusted hops when the peer is a trusted proxy', () => {
    const trusted = ['10.0.0.0/8', 'fd00::/8'];
    expect(sourceOf('10.0.0.5', '198.51.100.1', trusted)).toBe('198.51.100.1');
    // The leftmost entry is whatever the client wrote: the first untrusted hop from the right wins.
    expect(sourceOf('10.0.0.5', '6.6.6.6, 198.51.100.1, 10.1.1.1', trusted)).toBe('198.51.100.1');
    expect(sourceOf('::ffff:10.0.0.5', '2001:db8:5:6::42, fd00::1', trusted)).toBe('2001:db8:5:6::/64');
    expect(sourceOf('fd00::7', '[2001:db8:5:6::42]:4431, 10.0.0.9:8080', trusted)).toBe('2001:db8:5:6::/64');
    expect(sourceOf('10.0.0.5', '198.51.100.1:5555', trusted)).toBe('198.51.100.1');
  });

  it('takes the leftmost hop when every hop is trusted, and the peer when the header is empty', () => {
    expect(sourceOf('10.0.0.5', '10.0.0.1, 10.0.0.2', ['10.0.0.0/8'])).toBe('10.0.0.1');
    expect(sourceOf('10.0.0.5', '', ['10.0.0.0/8'])).toBe('10.0.0.5');
    expect(sourceOf('10.0.0.5', undefined, ['10.0.0.0/8'])).toBe('10.0.0.5');
  });

  it('falls back to the peer on a malformed entry or an overlong chain', () => {
    const trusted = ['10.0.0.0/8'];
    expect(sourceOf('10.0.0.5', '198.51.100.1, not-an-ip', trusted)).toBe('10.0.0.5');
    expect(sourceOf('10.0.0.5', '198.51.100.1, , 10.0.0.2', trusted)).toBe('10.0.0.5');
    expect(sourceOf('10.0.0.5', '1.2.3.4\u0000', trusted)).toBe('10.0.0.5');
    expect(sourceOf('10.0.0.5', 'x'.repeat(100_000), trusted)).toBe('10.0.0.5');
    expect(sourceOf('10.0.0.5', Array.from({ length: 40 }, () => '10.0.0.1').join(','), trusted)).toBe('10.0.0.5');
  });

  it('says unknown when the peer address is missing or not an address', () => {
    expect(sourceOf(undefined, '198.51.100.1', ['0.0.0.0/0'])).toBe('unknown');
    expect(sourceOf('/tmp/socket', undefined, [])).toBe('unknown');
  });

  it('matches trusted single addresses and IPv6 CIDRs', () => {
    expect(sourceOf('192.0.2.10', '198.51.100.1', ['192.0.2.10'])).toBe('198.51.100.1');
    expect(sourceOf('192.0.2.11', '198.51.100.1', ['192.0.2.10'])).toBe('192.0.2.11');
    expect(sourceOf('2001:db8:ffff::1', '198.51.100.1', ['2001:db8:ffff::/48'])).toBe('198.51.100.1');
    expect(sourceOf('::ffff:192.0.2.10', '198.51.100.1', ['::ffff:192.0.2.0/120'])).toBe('198.51.100.1');
  });
});

describe('parseCidr and sourceAddressOf', () => {
  it('accepts CIDRs and single addresses, refuses the rest', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ network: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('fd00::/8')).toEqual({ network: 'fd00::', prefix: 8, family: 'ipv6' });
    expect(parseCidr('192.0.2.1')).toEqual({ network: '192.0.2.1', prefix: 32, family: 'ipv4' });
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', 'example.com', '10.0.0.0/8/8', '10.0.0.0/-1', '']) expect(parseCidr(bad)).toBeUndefined();
  });

  it('is idempotent on a /64', () => {
    expect(sourceAddressOf('2001:db8:1:2::/64')).toBe('2001:db8:1:2::/64');
    expect(sourceAddressOf('1.2.3.4')).toBe('1.2.3.4');
    expect(sourceAddressOf('nope')).toBeUndefined();
  });
});
