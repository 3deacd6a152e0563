/**
 * The operator's allow-list of webhook targets, and the address check that keeps deliveries off
 * the hub's own network (no SSRF). An entry is a URL pattern: `https://tax.example.gov.cn/hooks/*`
 * (that origin, paths under /hooks/), `https://*.dept.example` (any subdomain, any path);
 * `http:` only where an entry says `http:`; a port only where the entry names it (or `:*`).
 * Every address a target's host resolves to must be public unicast, unless the entry that admits
 * the target says `allowPrivate` (tests on 127.0.0.1, an internal receiver the operator vouches for).
 */
import ipaddr from 'ipaddr.js';
import { PushInputError, TargetRefusedError } from './errors';

/** One allow-list entry: a pattern, and whether it admits non-public addresses. */
export interface AllowListEntry {
  url: string;
  /** Admit loopback, private, link-local… addresses for targets this entry matches. @default false */
  allowPrivate?: boolean;
}

/** A parsed allow-list. */
export interface AllowList {
  /**
   * The entry admitting `url` and the URL as parsed (its `href` is the target as it will be called:
   * host in lower case, default port and dot segments dropped), or a TargetRefusedError saying why
   * it is refused: none admits it, or the text is not a URL as sent (spaces or control characters,
   * a fragment, credentials, over MAX_TARGET_LENGTH characters).
   */
  match(url: string): { url: URL; entry: AllowListEntry };
}

interface Pattern {
  entry: AllowListEntry;
  protocol: 'http:' | 'https:';
  /** Exact host, or the suffix after `*.` */
  host: string;
  wildcard: boolean;
  /** '' = default port only, '*' = any. */
  port: string;
  /** Path prefix ('' = any path), or an exact path. */
  path: string;
  prefix: boolean;
}

/** The longest target accepted, in characters (receivers and proxies commonly stop at 2 to 8 KiB). */
export const MAX_TARGET_LENGTH = 2048;

const PATTERN = /^(https?):\/\/(\*\.)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}|\*))?(\/[^?#]*)?$/;

function parseEntry(input: AllowListEntry | string): Pattern {
  const entry = typeof input === 'string' ? { url: input } : input;
  if (!entry || typeof entry.url !== 'string') throw new PushInputError('An allow-list entry must be a URL pattern or { url, allowPrivate }.');
  const m = PATTERN.exec(entry.url);
  if (!m) throw new PushInputError(`Allow-list entry ${JSON.stringify(entry.url)} is not a pattern like https://host/path/* or https://*.domain.`);
  let path = m[5] ?? '';
  let prefix = true;
  if (path.endsWith('*')) path = path.slice(0, -1);
  else if (path !== '' && path !== '/') prefix = false;
  else path = '';
  if (path.includes('*')) throw new PushInputError(`Allow-list entry ${JSON.stringify(entry.url)} has a "*" inside its path: only a trailing one is allowed.`);
  return { entry, protocol: `${m[1]}:` as 'http:' | 'https:', wildcard: m[2] !== undefined, host: m[3]!.toLowerCase(), port: m[4] ?? '', path, prefix };
}

function matches(p: Pattern, url: URL): boolean {
  if (url.protocol !== p.protocol) return false;
  const host = url.hostname.toLowerCase();
  if (p.wildcard ? !(host.endsWith(`.${p.host}`) && host.length > p.host.length + 1) : host !== p.host) return false;
  if (p.port !== '*' && url.port !== p.port) return false;
  return p.prefix ? url.pathname.startsWith(p.path) : url.pathname === p.path;
}

/** Parses the allow-list (entries as strings or `{ url, allowPrivate }`); a bad entry throws PUSH_INPUT_INVALID naming it. */
export function createAllowList(entries: readonly (AllowListEntry | string)[]): AllowList {
  if (!Array.isArray(entries)) throw new PushInputError('The webhook allow-list must be an array of entries.');
  const patterns = entries.map(parseEntry);
  return {
    match(raw) {
      if (typeof raw !== 'string') throw new TargetRefusedError('The webhook target is not a URL.');
      if (raw.length > MAX_TARGET_LENGTH) throw new TargetRefusedError(`The webhook target is ${raw.length} characters long: at most ${MAX_TARGET_LENGTH} are accepted.`);
      // The URL parser would drop or re-encode these silently (spaces and controls at either end, tabs and line breaks anywhere, spaces inside): the target kept would not be the text registered.
      const stray = /[\u0000-\u0020\u007f]/.exec(raw);
      if (stray) throw new TargetRefusedError(`The webhook target holds ${stray[0] === ' ' ? 'a space' : `the control character U+${stray[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`} at character ${stray.index + 1}: send the URL without it.`);
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new TargetRefusedError('The webhook target is not a URL.');
      }
      if (raw.includes('#')) throw new TargetRefusedError(`The webhook target ${url.origin}${url.pathname} carries a fragment (#…), which is never sent: leave it out.`);
      if (url.username || url.password) throw new TargetRefusedError(`The webhook target ${url.origin} carries credentials in its URL.`);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TargetRefusedError(`The webhook target's scheme ${url.protocol} is not http(s).`);
      const found = patterns.find((p) => matches(p, url));
      if (!found) throw new TargetRefusedError(`The webhook target ${url.origin}${url.pathname} matches no entry of the allow-list.`);
      return { url, entry: found.entry };
    },
  };
}

/** Why an address is refused (its ipaddr.js range), or undefined for a public unicast address. */
export function forbiddenRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  return range === 'unicast' ? undefined : range;
}

/** Checks every resolved address of a target; throws naming the first refused one's class. */
export function checkAddresses(host: string, addresses: readonly string[], allowPrivate: boolean): void {
  if (addresses.length === 0) throw new TargetRefusedError(`The webhook host ${host} resolves to no address.`);
  if (allowPrivate) return;
  for (const address of addresses) {
    const range = forbiddenRange(address);
    if (range) throw new TargetRefusedError(`The webhook host ${host} resolves to a ${range} address, which the allow-list entry does not permit.`);
  }
}
