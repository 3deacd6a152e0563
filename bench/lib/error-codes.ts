/**
 * What a failed reply said: the `extensions.code` of each GraphQL error in a reply body, tallied
 * per row, so a row's failures print as, e.g., `failures 25 (UPSTREAM_TIMEOUT 25)` rather than a
 * bare count. A reply counts once per distinct code it holds; an error without a code counts as
 * `no code`, and a body that is not JSON as `not JSON`. Rows E and Ew tally their deliveries'
 * errors with the same functions, keyed by `code: message` (lib/events.ts).
 */

/** Failed replies by error code. */
export type ErrorCodes = Record<string, number>;

/** The tally under which an error without `extensions.code` is counted. */
export const NO_CODE = 'no code';
/** The tally under which a body that is not a JSON object is counted. */
export const NOT_JSON = 'not JSON';

/** The distinct error codes of one reply body (empty when it holds no `errors`). */
export function errorCodesOf(body: string): string[] {
  if (!body.includes('"errors"')) return [];
  let reply: unknown;
  try {
    reply = JSON.parse(body);
  } catch {
    return [NOT_JSON];
  }
  const errors = reply !== null && typeof reply === 'object' ? (reply as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors) || errors.length === 0) return [];
  const codes = new Set<string>();
  for (const error of errors) {
    const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
    codes.add(typeof code === 'string' && code !== '' ? code : NO_CODE);
  }
  return [...codes];
}

/** Adds `codes` to `into` (one each). */
export function countCodes(into: ErrorCodes, codes: Iterable<string>, times = 1): ErrorCodes {
  for (const code of codes) into[code] = (into[code] ?? 0) + times;
  return into;
}

/** Merges tallies (a round's, a row's). */
export function mergeErrorCodes(tallies: readonly (ErrorCodes | undefined)[]): ErrorCodes {
  const out: ErrorCodes = {};
  for (const tally of tallies) for (const [code, n] of Object.entries(tally ?? {})) countCodes(out, [code], n);
  return out;
}

/** ` (UPSTREAM_TIMEOUT 25, POLICY_DENIED 1)`, most frequent first; '' for none. */
export function formatErrorCodes(tally: ErrorCodes | undefined): string {
  const entries = Object.entries(tally ?? {}).filter(([, n]) => n > 0);
  if (entries.length === 0) return '';
  entries.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return ` (${entries.map(([code, n]) => `${code} ${n}`).join(', ')})`;
}
