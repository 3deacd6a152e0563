/**
 * Opaque paging cursors of the market-regulation API. A cursor is a keyset position (never an
 * offset, so records registered between two pages neither repeat nor vanish), base64url-encoded
 * so clients treat it as a token. Decoding returns undefined for anything this sandbox did not issue.
 */

/** Position after a record of the by-legal-representative query: the query's fingerprint, the representative's index, the last credit code. */
export interface LegalRepCursor {
  fingerprint: string;
  repIndex: number;
  lastCode: string;
}

/** Position after a listing of the abnormal-operation list. */
export interface AbnormalCursor {
  creditCode: string;
  index: number;
}

const encode = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
const decode = (cursor: string): string => (/^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '');

/** FNV-1a digest of the representative ids, binding a cursor to the query that issued it. */
export function fingerprintOf(ids: readonly string[]): string {
  let h = 0x811c9dc5;
  for (const id of ids) {
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0x2c, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/** Encodes a by-legal-representative cursor. */
export function encodeLegalRepCursor(c: LegalRepCursor): string {
  return encode(`r1.${c.fingerprint}.${c.repIndex}.${c.lastCode}`);
}

/** Decodes a by-legal-representative cursor; undefined when malformed. */
export function decodeLegalRepCursor(cursor: string): LegalRepCursor | undefined {
  const m = /^r1\.([0-9a-z]{1,8})\.(\d{1,3})\.([0-9A-Z]{18})$/.exec(decode(cursor));
  return m ? { fingerprint: m[1]!, repIndex: Number(m[2]), lastCode: m[3]! } : undefined;
}

/** Encodes an abnormal-operation list cursor. */
export function encodeAbnormalCursor(c: AbnormalCursor): string {
  return encode(`a1.${c.creditCode}.${c.index}`);
}

/** Decodes an abnormal-operation list cursor; undefined when malformed. */
export function decodeAbnormalCursor(cursor: string): AbnormalCursor | undefined {
  const m = /^a1\.([0-9A-Z]{18})\.(\d{1,4})$/.exec(decode(cursor));
  return m ? { creditCode: m[1]!, index: Number(m[2]) } : undefined;
}

/** Encodes a change-feed cursor: the id of the last event read. */
export function encodeChangeCursor(eventId: number): string {
  return encode(`c1.${eventId}`);
}

/** Decodes a change-feed cursor; undefined when malformed. */
export function decodeChangeCursor(cursor: string): number | undefined {
  const m = /^c1\.(\d{1,15})$/.exec(decode(cursor));
  return m ? Number(m[1]) : undefined;
}
