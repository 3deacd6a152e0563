/** Small HTTP helpers shared by the hub's routes: JSON answers, header values, bounded body reads. */
import { readdirSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { HubError, HubErrorCode, type HubRequest, type TransportRefusal } from '../gateway';

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The request target as a URL whose path is the target's own: `//x/graphql` is the path
 * `//x/graphql` (a 404), not the host `x` and the path `/graphql`, as resolving it against a base
 * would read it. An absolute-form target (`http://host/graphql`, sent through a proxy) gives its path.
 */
export function requestUrl(target: string | undefined): URL {
  const t = target ?? '/';
  return new URL(t.startsWith('/') ? `http://hub${t}` : t, 'http://hub/');
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** True when an Accept header admits JSON (absent, a wildcard, or a JSON media type). */
export function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => ['*/*', 'application/*', 'application/json', 'application/graphql-response+json'].includes(mediaTypeOf(range) ?? ''));
}

export function mediaTypeOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.split(';', 1)[0]!.trim().toLowerCase();
}

/** The `charset` parameter of a `content-type` value, lower-cased and unquoted; undefined when it has none. */
export function charsetOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(value);
  return match ? match[2]!.toLowerCase() : undefined;
}

/** What an adapter passes on of a request's body headers: the media type, its charset and the content encoding, each when present. */
export function bodyHeadersOf(headers: http.IncomingHttpHeaders): Pick<HubRequest, 'contentType' | 'charset' | 'contentEncoding'> {
  const type = headerValue(headers['content-type']);
  const contentType = mediaTypeOf(type);
  const charset = charsetOf(type);
  const encoding = headerValue(headers['content-encoding'])?.trim().toLowerCase();
  return { ...(contentType !== undefined ? { contentType } : {}), ...(charset !== undefined ? { charset } : {}), ...(encoding ? { contentEncoding: encoding } : {}) };
}

/** Reads the body up to `limit` bytes; resolves to a refusal when it is larger (the rest is not read). */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | TransportRefusal> {
  const tooLarge: TransportRefusal = { code: 'PAYLOAD_TOO_LARGE', message: `The request body exceeds ${limit} bytes.` };
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      resolve(tooLarge);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(tooLarge);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
    // A client gone before the end of its body: Node closes the request without an error on some paths.
    req.on('close', () => {
      if (!req.complete) reject(new HubError(HubErrorCode.BAD_REQUEST, 'The request body was cut off.'));
    });
  });
}


/** The headers of every page the hub serves itself (console, landing page, explorer), under the page's own CSP. */
export function pageSecurityHeaders(csp: string): Record<string, string> {
  return {
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  };
}

/** One file the hub serves as it is, read once. */
export interface StaticFile {
  readonly type: string;
  readonly bytes: Buffer;
  /** The gzip of larger files, when the folder was read with `compress`. */
  readonly gzip?: Buffer;
}

/**
 * The files of one folder whose names are plain (`name.ext`, `name.ext.ext`) and of a type in
 * `types` (extension → media type), read once: routes serve them by name from this map, so no path
 * from a URL ever reaches the file system. A missing folder is an empty map.
 */
export function readStaticFolder(dir: string, types: Readonly<Record<string, string>>, compress = false): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return files;
  }
  for (const name of names) {
    const type = types[path.extname(name)];
    if (!type || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+$/.test(name)) continue;
    const bytes = readFileSync(path.join(dir, name));
    files.set(name, { type, bytes, ...(compress && bytes.length > 1024 ? { gzip: gzipSync(bytes) } : {}) });
  }
  return files;
}
