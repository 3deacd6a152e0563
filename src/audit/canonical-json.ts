/**
 * RFC 8785 canonical JSON (JCS), the form records are hashed and checkpoints signed over. The
 * hub has one implementation, in the seal module (receipts hash replies the same way); the
 * audit log uses it under its own name.
 */
export { canonicalize as canonicalJson } from '../seal';
