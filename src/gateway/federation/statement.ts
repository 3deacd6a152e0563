/**
 * The hub's own JWKS statement (docs/federation.md): the JWKS it publishes, signed by its
 * federation root key, what peer hubs verify against the root they pinned. One per JWKS content,
 * signed again on demand (`createFederationStatementSigner`, src/seal).
 */
import { createFederationStatementSigner, type Jwks, type KeyStore } from '../../seal';

/** The statement of `jwks()` as it is now, or undefined when the keys directory has no root key. */
export function hubStatementOf(keyStore: KeyStore, jwks: () => { keys: readonly unknown[] }): () => string | undefined {
  const signer = keyStore.federationRoot() ? createFederationStatementSigner({ keyStore }) : undefined;
  return () => signer?.statement(jwks() as Jwks);
}
