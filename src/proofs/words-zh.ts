/**
 * The words people read about a proof, in Chinese: each refusal reason as a sentence, each
 * status, an identifier masked for print, a time in Beijing time. Shared by the hub's /verify page
 * and `datarun verify`, so both say the same thing.
 */
import type { ProofRejectReason, ProofVerified } from './verify-vc';

/** Each refusal of `verifyProof`, as one Chinese sentence a citizen or a clerk understands. */
export const PROOF_REASON_ZH: Readonly<Record<ProofRejectReason, string>> = {
  MALFORMED: '内容无法识别：这不是完整的证明，或在复制时被截断、改动。',
  BAD_SIGNATURE: '签名不符：证明内容在签发后被改动过，或并非由所称部门签发。',
  WRONG_TYPE: '这不是证明文件（类型不符）。',
  UNKNOWN_KEY: '签发密钥不在本平台公布的密钥中，无法确认签发部门。',
  TAMPERED_DISCLOSURE: '出示的内容中有未经签发部门签名的项目，证明被篡改。',
  WRONG_HOLDER_KEY: '持有人签名不符：出示者不是证明绑定的持有人。',
  MISSING_KEY_BINDING: '此证明绑定了持有人，须由持有人用其密钥签名（密钥绑定 JWT）出示。',
  WRONG_NONCE: '持有人签名所用的随机数（nonce）不是验证方给出的，可能是重放。',
  WRONG_AUDIENCE: '此次出示是给另一个验证方的（aud 不符）。',
  SD_HASH_MISMATCH: '持有人签名与所出示的内容不符。',
  EXPIRED: '证明已过有效期。',
  NOT_YET_VALID: '证明尚未生效（签发时间在未来）。',
  REVOKED: '证明已被签发部门撤销，所证明的情况已发生变化。',
  STATUS_UNAVAILABLE: '暂时无法查询证明的状态（是否已撤销），请稍后再试。',
  BAD_ALGORITHM: '签名算法不被接受。',
  FORBIDDEN_HEADER: '证明头部含有不允许的参数。',
  WRONG_KEY_USE: '签名所用的密钥不是签发证明的密钥。',
  WRONG_ISSUER: '签名密钥不属于证明所称的签发部门。',
  REVOKED_KEY: '签发密钥在签发前已被吊销。',
  EXPIRED_KEY: '签发密钥已过期。',
  KEY_NOT_YET_VALID: '签发密钥在签发时尚未生效。',
  UNSUPPORTED_SD_ALG: '选择性披露所用的摘要算法不被支持。',
  MALFORMED_DISCLOSURE: '出示的某一项内容格式有误。',
  DISCLOSURE_NOT_SIGNED: '出示的某一项内容未经签发部门签名。',
  DUPLICATE_DISCLOSURE: '出示的某一项内容重复出现。',
  HASH_MISMATCH: '内容摘要不符。',
  UNSUPPORTED_VERSION: '证明的版本不被支持。',
};

/** The refusals of a bundle's envelope (`verifyProofBundle`), in Chinese. */
export const PROOF_BUNDLE_REASON_ZH: Readonly<Record<'PART_MISMATCH' | 'PART_INVALID', string>> = {
  PART_MISMATCH: '组合证明中的部门证明与平台签名的封套不符：有证明被替换、缺失或顺序被改动。',
  PART_INVALID: '组合证明中有一份部门证明未通过验证。',
};

/** The status of a verified proof, in Chinese. */
export const PROOF_STATUS_ZH: Readonly<Record<ProofVerified['status'], string>> = {
  VALID: '有效（已查询状态列表，未撤销）',
  SUSPENDED: '已暂停：签发部门暂停了此证明，暂不可作为依据',
  UNCHECKED: '未查询状态列表（是否已撤销未知）',
};

/** The Chinese sentence of a refusal reason; an unknown reason is named as it is. */
export function proofReasonZh(reason: string): string {
  if (Object.hasOwn(PROOF_REASON_ZH, reason)) return PROOF_REASON_ZH[reason as ProofRejectReason];
  if (Object.hasOwn(PROOF_BUNDLE_REASON_ZH, reason)) return PROOF_BUNDLE_REASON_ZH[reason as keyof typeof PROOF_BUNDLE_REASON_ZH];
  return `证明未通过验证（${reason}）。`;
}

/**
 * An identifier masked for print: the first and last few characters kept, the rest `*`
 * (`370102199001011234` → `3701**********1234`); 4 characters or fewer are all masked.
 */
export function maskIdentifier(value: string): string {
  const chars = [...value];
  if (chars.length <= 4) return '*'.repeat(chars.length);
  const keep = chars.length >= 12 ? 4 : chars.length >= 8 ? 2 : 1;
  return chars.slice(0, keep).join('') + '*'.repeat(chars.length - 2 * keep) + chars.slice(-keep).join('');
}

/** A time in Beijing time (UTC+8, no daylight saving): `2026-03-06 10:00:00（北京时间）`. */
export function beijingTime(at: Date): string {
  if (!Number.isFinite(at.getTime())) return '—';
  const shifted = new Date(at.getTime() + 8 * 3_600_000).toISOString();
  return `${shifted.slice(0, 10)} ${shifted.slice(11, 19)}（北京时间）`;
}
