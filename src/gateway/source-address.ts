/**
 * The client's address as the access log and the refusal counters see it: IPv4 as is, IPv6 cut
 * to its /64 (one host usually holds a whole /64, so a finer key would let one client count as
 * many), and `X-Forwarded-For` believed only hop by hop from a trusted proxy.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';

/** The source of a request whose peer address is unknown or not an IP address. */
export const UNKNOWN_SOURCE = 'unknown';

/** Hops of `X-Forwarded-For` looked at, right to left; a longer chain falls back to the peer. */
const MAX_FORWARDED_HOPS = 32;
/** Longest address text parsed (the longest IPv6 text with a zone and a port is well under this). */
const MAX_ADDRESS_LENGTH = 100;

/** An IPv6 address (without zone) as 8 groups of 16 bits, or undefined when the text is not one. */
function ipv6Groups(text: string): number[] | undefined {
  if (isIP(text) !== 6) return undefined;
  let body = text.toLowerCase();
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map(Number) as [number, number, number, number];
    body = `${body.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const double = body.indexOf('::');
  if (double === -1) return parse(body);
  const left = parse(body.slice(0, double));
  const right = parse(body.slice(double + 2));
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 text of 8 groups: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(groups: readonly number[]): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt === -1) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** An address without brackets, zone id or port, or undefined when it is not an IP address. */
function bareAddress(entry: string): string | undefined {
  let text = entry.trim();
  if (text.length === 0 || text.length > MAX_ADDRESS_LENGTH) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  const zone = text.indexOf('%');
  if (zone !== -1 && text.includes(':')) text = text.slice(0, zone);
  return isIP(text) === 0 ? undefined : text;
}

/** An address as a source: IPv4 as is, IPv4-mapped IPv6 as its IPv4, other IPv6 as its /64 (`2001:db8:1:2::/64`); undefined when not an address. */
export function sourceAddressOf(address: string): string | undefined {
  const bare = bareAddress(address.includes(':') && address.endsWith('/64') ? address.slice(0, -3) : address);
  if (bare === undefined) return undefined;
  if (isIPv4(bare)) return bare;
  const single = addressOf(bare)!;
  if (single.family === 'ipv4') return single.address;
  const groups = ipv6Groups(bare)!;
  return `${formatIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

/** One address for matching against the trusted proxies (IPv4-mapped IPv6 as IPv4). */
function addressOf(bare: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  if (isIPv4(bare)) return { address: bare, family: 'ipv4' };
  const groups = ipv6Groups(bare);
  if (!groups) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return { address: `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`, family: 'ipv4' };
  }
  return { address: formatIpv6(groups), family: 'ipv6' };
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address, parsed; undefined when malformed. */
export function parseCidr(text: string): { network: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const network = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(network);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash !== -1 && !/^\d{1,3}$/.test(text.slice(slash + 1))) return undefined;
  const prefix = slash === -1 ? max : Number(text.slice(slash + 1));
  if (prefix > max) return undefined;
  return { network, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

const blockLists = new WeakMap<readonly string[], BlockList>();

/** The trusted proxies as a BlockList, built once per list. Malformed entries are skipped (the configuration refuses them). */
function trustedList(trustedProxies: readonly string[]): BlockList {
  let list = blockLists.get(trustedProxies);
  if (!list) {
    list = new BlockList();
    for (const entry of trustedProxies) {
      const cidr = parseCidr(entry);
      if (!cidr) continue;
      // An IPv4-mapped network is matched as the IPv4 network it maps.
      const mapped = cidr.family === 'ipv6' ? addressOf(cidr.network) : undefined;
      if (mapped?.family === 'ipv4' && cidr.prefix >= 96) list.addSubnet(mapped.address, cidr.prefix - 96, 'ipv4');
      else list.addSubnet(cidr.network, cidr.prefix, cidr.family);
    }
    blockLists.set(trustedProxies, list);
  }
  return list;
}

function isTrusted(list: BlockList, bare: string): boolean {
  const a = addressOf(bare);
  return !!a && list.check(a.address, a.family);
}

/**
 * The source of a request: the direct peer's address, or, when the peer is a trusted proxy, the
 * first address of `X-Forwarded-For` read from the right that is not itself a trusted proxy
 * (all trusted: the leftmost). From an untrusted peer `X-Forwarded-For` is ignored, so a client
 * cannot choose its source; a malformed entry on the way, or more than 32 hops, gives the peer.
 * Returned reduced (`sourceAddressOf`); `unknown` when the peer address is unknown.
 */
export function sourceOf(remoteAddress: string | undefined, forwardedFor: string | undefined, trustedProxies: readonly string[]): string {
  const peer = typeof remoteAddress === 'string' ? bareAddress(remoteAddress) : undefined;
  if (peer === undefined) return UNKNOWN_SOURCE;
  const peerSource = sourceAddressOf(peer) ?? UNKNOWN_SOURCE;
  if (trustedProxies.length === 0 || typeof forwardedFor !== 'string' || forwardedFor.trim() === '') return peerSource;
  const list = trustedList(trustedProxies);
  if (!isTrusted(list, peer)) return peerSource;
  // Read only the last hops: a long header costs no more than MAX_FORWARDED_HOPS entries.
  const hops: string[] = [];
  let end = forwardedFor.length;
  while (hops.length <= MAX_FORWARDED_HOPS && end > 0) {
    const comma = forwardedFor.lastIndexOf(',', end - 1);
    hops.push(forwardedFor.slice(comma + 1, end));
    end = comma === -1 ? 0 : comma;
  }
  if (hops.length > MAX_FORWARDED_HOPS) return peerSource;
  let leftmost: string | undefined;
  for (const hop of hops) {
    const bare = bareAddress(hop);
    if (bare === undefined) return peerSource;
    if (!isTrusted(list, bare)) return sourceAddressOf(bare) ?? peerSource;
    leftmost = bare;
  }
  return leftmost === undefined ? peerSource : (sourceAddressOf(leftmost) ?? peerSource);
}
