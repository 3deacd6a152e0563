// Verification in the browser, with WebCrypto only: RFC 9162 inclusion proofs (§2.1.3.2) and the
// hub's signature on a tree head (a compact JWS checked against the hub's published JWKS).
// Hashes travel as base64url. Leaf hash: SHA-256(0x00 || leaf); node hash: SHA-256(0x01 || l || r).

export function fromBase64url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

export function toBase64url(bytes) {
  let raw = '';
  for (const b of bytes) raw += String.fromCharCode(b);
  return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function sha256(...parts) {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
}

/** RFC 9162 leaf hash of the leaf's bytes (a UTF-8 string is encoded first). */
export function leafHash(leaf) {
  return sha256(Uint8Array.of(0), typeof leaf === 'string' ? new TextEncoder().encode(leaf) : leaf);
}

export function nodeHash(left, right) {
  return sha256(Uint8Array.of(1), left, right);
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * RFC 9162 §2.1.3.2: the root an inclusion proof leads to from the leaf hash, or null when the
 * proof cannot be valid for this index and tree size (wrong length, index out of range).
 */
export async function rootFromInclusionProof(leafIndex, treeSize, leaf, path) {
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize) || leafIndex < 0 || leafIndex >= treeSize) return null;
  let fn = BigInt(leafIndex);
  let sn = BigInt(treeSize - 1);
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

/**
 * Checks an inclusion proof as the hub serves it (base64url hashes): true when the path leads
 * from `leafHash` at `leafIndex` to `root` of a tree of `treeSize` leaves.
 */
export async function verifyInclusion({ leafIndex, treeSize, leafHash: leaf, path, root }) {
  const computed = await rootFromInclusionProof(leafIndex, treeSize, fromBase64url(leaf), path.map(fromBase64url));
  return computed !== null && equal(computed, fromBase64url(root));
}

const ALGORITHMS = {
  ES256: { key: { name: 'ECDSA', namedCurve: 'P-256' }, verify: { name: 'ECDSA', hash: 'SHA-256' } },
  ES384: { key: { name: 'ECDSA', namedCurve: 'P-384' }, verify: { name: 'ECDSA', hash: 'SHA-384' } },
  EdDSA: { key: { name: 'Ed25519' }, verify: { name: 'Ed25519' } },
};

/**
 * Verifies a compact JWS against a JWKS (the hub's, from /.well-known/jwks.json): returns
 * { valid: true, header, payload } or { valid: false, reason }.
 */
export async function verifyJws(jws, jwks) {
  const parts = typeof jws === 'string' ? jws.split('.') : [];
  if (parts.length !== 3) return { valid: false, reason: 'MALFORMED' };
  let header;
  let payload;
  try {
    header = JSON.parse(new TextDecoder().decode(fromBase64url(parts[0])));
    payload = JSON.parse(new TextDecoder().decode(fromBase64url(parts[1])));
  } catch {
    return { valid: false, reason: 'MALFORMED' };
  }
  const spec = ALGORITHMS[header.alg];
  if (!spec) return { valid: false, reason: 'BAD_ALGORITHM' };
  const jwk = (jwks.keys || []).find((k) => k.kid === header.kid);
  if (!jwk) return { valid: false, reason: 'UNKNOWN_KEY' };
  try {
    const { kid: _kid, alg: _alg, use: _use, key_ops: _ops, ...members } = jwk;
    const key = await crypto.subtle.importKey('jwk', members, spec.key, false, ['verify']);
    const ok = await crypto.subtle.verify(spec.verify, key, fromBase64url(parts[2]), new TextEncoder().encode(`${parts[0]}.${parts[1]}`));
    return ok ? { valid: true, header, payload } : { valid: false, reason: 'BAD_SIGNATURE' };
  } catch {
    return { valid: false, reason: 'UNSUPPORTED' };
  }
}
