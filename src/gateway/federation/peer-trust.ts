/**
 * The trust between hubs a peer hub connector checks with (docs/federation.md): the peers the
 * configuration pins (`federation.peers`), their JWKS statements fetched, verified against the
 * pinned roots and kept (`createPeerKeySource`, src/gateway/peer-keys.ts), and a seal of a peer's
 * department verified against those keys (its disclosed values given back, for the reply check;
 * a signature already found valid under the same key is not checked again).
 */
import type { FederationTrust } from '../../sdk';
import { createSignatureMemo, verifySeal } from '../../seal';
import { createPeerKeySource, peerCacheDir, type PeerTrust } from '../peer-keys';

/** What `createPeerTrust` needs of the configuration. */
export interface PeerTrustOptions {
  /** `federation.peers`: peer hub id → its URL and pinned root. */
  readonly peers: Readonly<Record<string, PeerTrust>>;
  /** The hub's keys directory: the accepted statements are kept under `peers/` there. */
  readonly keysDir: string;
  /** `federation.refetchIntervalSec`. @default the key source's (30 s) */
  readonly refetchIntervalSec?: number;
}

/** The federation trust a peer hub connector is given, and how to stop its fetches. */
export function createPeerTrust(options: PeerTrustOptions): { trust: FederationTrust; close(): Promise<void> } {
  const { peers } = options;
  const source =
    Object.keys(peers).length > 0
      ? createPeerKeySource({ peers, cacheDir: peerCacheDir(options.keysDir), ...(options.refetchIntervalSec !== undefined ? { refetchIntervalSec: options.refetchIntervalSec } : {}) })
      : undefined;
  // A peer's seal of the same record comes back on every request about it: its signature is checked once (src/seal/signature-memo.ts).
  const signatures = createSignatureMemo();
  return {
    trust: {
      pinned: (hub) => source !== undefined && Object.hasOwn(peers, hub),
      async verifySeal(hub, token) {
        if (!source || !Object.hasOwn(peers, hub)) return { valid: false, problem: `peer hub ${hub} is not in federation.peers` };
        let kid: unknown;
        try {
          kid = (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: unknown }).kid;
        } catch {
          return { valid: false, problem: 'the seal is not a JWS' };
        }
        let keys: Awaited<ReturnType<typeof source.keysOf>>;
        try {
          keys = await source.keysOf(hub, typeof kid === 'string' ? { kid } : {});
        } catch (error) {
          return { valid: false, problem: error instanceof Error ? error.message : 'the peer\'s keys are not available' };
        }
        const verified = verifySeal(token, { jwks: keys, signatures });
        if (!verified.valid) return { valid: false, problem: `${verified.reason}: ${verified.message}` };
        const { issuer, keyId, algorithm, issuedAt, recordType, disclosed } = verified;
        return { valid: true, issuer, keyId, algorithm, issuedAt, recordType, disclosed };
      },
    },
    close: async () => source?.close(),
  };
}
