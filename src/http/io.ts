/** Small HTTP helpers shared by the hub's routes: JSON answers, header values, bounded body reads. */
import type http from 'node:http';
import { HubError, HubErrorCode, type TransportRefusal } from '../gateway';

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
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

