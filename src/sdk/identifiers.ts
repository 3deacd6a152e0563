/**
 * The identifiers that join records across departments, and their check characters.
 *
 * Every function here is pure. Validation returns a reason (never the identifier itself, which
 * is personal data) so that callers can name the problem without echoing the value.
 */

/** Weights of GB 11643-1999 (ISO 7064 MOD 11-2) for the first 17 digits. */
const CITIZEN_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CITIZEN_ID_CHECK = '10X98765432';

/** GB 32100-2015 character set: digits and capitals without I, O, S, V, Z. */
const CREDIT_CODE_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const CREDIT_CODE_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;
/** GB 11714 organisation code weights (positions 9 to 16 of a credit code). */
const ORG_CODE_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2] as const;

/** The check character (0-9 or X) of a citizen identity number, from its first 17 digits. */
export function citizenIdCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * CITIZEN_ID_WEIGHTS[i]!;
  return CITIZEN_ID_CHECK[sum % 11]!;
}

/** The check character of a unified social credit code, from its first 17 characters. */
export function creditCodeCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += CREDIT_CODE_CHARSET.indexOf(first17[i]!) * CREDIT_CODE_WEIGHTS[i]!;
  return CREDIT_CODE_CHARSET[(31 - (sum % 31)) % 31]!;
}

/** The check character of an 8-character GB 11714 organisation code body. */
export function orgCodeCheckChar(first8: string): string {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += CREDIT_CODE_CHARSET.indexOf(first8[i]!) * ORG_CODE_WEIGHTS[i]!;
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/** Why an identifier is invalid; `undefined` when it is valid. */
export type IdentifierProblem = string | undefined;

function isValidDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1900 || m < 1 || m > 12 || d < 1) return false;
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Checks a citizen identity number 公民身份号码 (GB 11643-1999): 18 characters, birth date, check character. */
export function citizenIdProblem(value: string): IdentifierProblem {
  if (value.length !== 18) return `must be 18 characters, got ${value.length}`;
  if (!/^\d{17}[\dX]$/.test(value)) return 'must be 17 digits followed by a digit or X';
  if (!isValidDate(value.slice(6, 14))) return 'characters 7 to 14 are not a valid birth date';
  const expected = citizenIdCheckChar(value);
  if (value[17] !== expected) return 'check character does not match (GB 11643 MOD 11-2)';
  return undefined;
}

/** Checks a unified social credit code 统一社会信用代码 (GB 32100-2015): 18 characters of its charset, check character. */
export function creditCodeProblem(value: string): IdentifierProblem {
  if (value.length !== 18) return `must be 18 characters, got ${value.length}`;
  for (const ch of value) {
    if (!CREDIT_CODE_CHARSET.includes(ch)) return 'contains a character outside the GB 32100 set (digits and A-Y without I, O, S, V, Z)';
  }
  if (!/^\d{6}$/.test(value.slice(2, 8))) return 'characters 3 to 8 must be an administrative division code';
  if (value[17] !== creditCodeCheckChar(value)) return 'check character does not match (GB 32100)';
  return undefined;
}

/**
 * Checks a property unit number 不动产单元号 (GB/T 37346): 28 characters, a 12-digit cadastral
 * zone, a parcel feature code, a 5-digit parcel number, a fixture feature code, an 8-digit fixture number.
 */
export function unitNumberProblem(value: string): IdentifierProblem {
  if (value.length !== 28) return `must be 28 characters, got ${value.length}`;
  if (!/^\d{12}/.test(value)) return 'characters 1 to 12 must be the administrative division and cadastral zone digits';
  if (!/^[GJZ][ABSXCWY]$/.test(value.slice(12, 14))) return 'characters 13 and 14 must be a parcel feature code such as GB';
  if (!/^\d{5}$/.test(value.slice(14, 19))) return 'characters 15 to 19 must be the parcel number';
  if (!/^[FLQWV]$/.test(value[19]!)) return 'character 20 must be a fixture feature code (F, L, Q, W or V)';
  if (!/^\d{8}$/.test(value.slice(20))) return 'characters 21 to 28 must be the fixture number';
  return undefined;
}

/** Gender and birth date encoded in a valid citizen identity number. */
export function citizenIdFacts(idNumber: string): { gender: 'MALE' | 'FEMALE'; birthDate: string } {
  const seq = idNumber.charCodeAt(16) - 48;
  const d = idNumber.slice(6, 14);
  return { gender: seq % 2 === 1 ? 'MALE' : 'FEMALE', birthDate: `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` };
}
