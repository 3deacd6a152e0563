/**
 * How a value in the environment reads as a number or a switch, for the hub's own `DATARUN_*`
 * variables and for connector settings (`DATARUN_CONNECTORS__<ID>__<SETTING>`) alike. Strict on
 * purpose: `Number()` would read `0x10` as 16 and `1e3` as 1000, and a switch read as "anything
 * but false" would keep the audit log on for `DATARUN_AUDIT_ENABLED=disabled`.
 */

/** Decimal digits, a sign and a point at most (surrounding spaces aside). */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

const TRUE_WORDS: ReadonlySet<string> = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['false', '0', 'no', 'off']);

/** What a number must look like, for messages. */
export const DECIMAL_EXPECTED = 'a decimal number (such as 4000 or 0.5)';
/** What a switch must look like, for messages. */
export const SWITCH_EXPECTED = 'true or false (also 1/0, yes/no, on/off)';

/** The number a variable's text writes in decimal, or undefined for any other text. */
export function readDecimal(raw: string): number | undefined {
  const text = raw.trim();
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/** The switch a variable's text names (true/1/yes/on, false/0/no/off, any case), or undefined for any other text. */
export function readSwitch(raw: string): boolean | undefined {
  const word = raw.trim().toLowerCase();
  return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
}
