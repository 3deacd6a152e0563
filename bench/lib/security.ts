/**
 * The secure mode of the benchmark: a keys directory of its own (the hub's demo parties, generated
 * by `initKeys`, so the demo consumers' request keys are there to sign with), the signing spec the
 * load generator uses for every request, and consent tokens 授权 for the living-allowance check.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createConsentSigner, createRequestSigner, initKeys, loadKeyStore, type PrivateJwk } from '../../src/seal';
import { discoverConnectorModules } from '../../src/gateway';
import { isSigned, type HubMode } from './servers';

/** How the load generator signs: which consumer, with which key file, for which purpose and case. */
export interface SigningSpec {
  consumerId: string;
  keyFile: string;
  context: { purpose: string; caseNumber: string; operator: string };
  /** The hub the requests are for (the token's `aud`). @default the hub's default id */
  audience?: string;
}

/** What a hub row needs to send in one mode: headers per body, and the signing spec (secure mode). */
export interface ModeRequests {
  signing?: SigningSpec;
  bodyHeaders?: Record<string, string>[];
}

/** The demo consumers the scenarios act as (src/policy/demo-policy.json grants them what the queries select). */
const PROPERTY_TRANSFER = { consumerId: 'real-estate-centre', context: { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-BENCH', operator: 'bench' } };
const LIVING_ALLOWANCE = { consumerId: 'civil-affairs', context: { purpose: 'LIVING_ALLOWANCE', caseNumber: 'MZ-2026-BENCH', operator: 'bench' } };
/** The consent issuer of the demo policy: the citizen identity platform, never the consumer that uses the consents. */
const CONSENT_ISSUER = 'citizen-identity';
/** The header consent tokens travel in (src/policy CONSENT_HEADER). */
const CONSENT_HEADER = 'x-datarun-consent';

/** The keys of one benchmark run. */
export interface SecurityKit {
  keysDir: string;
  /** Requests of the property-transfer scenarios (S1, S2, S2p, S4). */
  propertyTransfer(mode: HubMode): ModeRequests;
  /** Requests of the living-allowance scenario: one consent per family member, per body. */
  livingAllowance(mode: HubMode, families: readonly string[][]): ModeRequests;
  /** Headers for one request (the runner's own checks before measuring). */
  headersFor(requests: ModeRequests, body: string, index: number): Record<string, string>;
  /** The `Authorization` of one request of a demo consumer (row E: the subscriber's opening or webhook registration). */
  authorizationAs(consumerId: string, context: SigningSpec['context'], body: string): string;
}

/** Creates the keys directory under `tmpDir` (what the hub would create at its first start) and the signers. */
export async function prepareSecurity(tmpDir: string): Promise<SecurityKit> {
  const keysDir = path.join(tmpDir, 'keys');
  // The departments run as their own processes: registered as departments of the trust list, their seal keys held by the hub.
  await initKeys(keysDir, { departments: discoverConnectorModules().map(({ module }) => ({ id: module.id, kind: 'department' as const, name: module.title, custody: true, sandbox: true })) });
  const store = await loadKeyStore(keysDir);
  const keyFile = (owner: string): string => {
    const file = store.privateKeyPath(owner);
    if (!file) throw new Error(`the demo keys have no private key for ${owner}`);
    return file;
  };
  const consentSigner = createConsentSigner({ issuer: CONSENT_ISSUER, privateJwk: JSON.parse(readFileSync(keyFile(CONSENT_ISSUER), 'utf8')) as PrivateJwk });
  const signers = new Map<string, ReturnType<typeof createRequestSigner>>();
  const signerFor = (spec: SigningSpec): ReturnType<typeof createRequestSigner> => {
    // One signer per key and hub (row F signs the same consumer's requests for another hub, with that hub's keys).
    const key = `${spec.keyFile}\n${spec.audience ?? ''}`;
    let signer = signers.get(key);
    if (!signer) {
      signer = createRequestSigner({ consumerId: spec.consumerId, privateJwk: JSON.parse(readFileSync(spec.keyFile, 'utf8')) as PrivateJwk, ...(spec.audience ? { audience: spec.audience } : {}) });
      signers.set(key, signer);
    }
    return signer;
  };
  return {
    keysDir,
    propertyTransfer: (mode) => (isSigned(mode) ? { signing: { ...PROPERTY_TRANSFER, keyFile: keyFile(PROPERTY_TRANSFER.consumerId) } } : {}),
    livingAllowance(mode, families) {
      if (!isSigned(mode)) return {};
      // Consents are not one-time: one set per family, valid for the whole run (within the policy's 24-hour bound).
      const expiresAt = Date.now() + 2 * 3600_000;
      const bodyHeaders = families.map((family) => ({
        [CONSENT_HEADER]: family.map((subject) => consentSigner.sign({ subject, purpose: LIVING_ALLOWANCE.context.purpose, expiresAt })).join(','),
      }));
      return { signing: { ...LIVING_ALLOWANCE, keyFile: keyFile(LIVING_ALLOWANCE.consumerId) }, bodyHeaders };
    },
    authorizationAs(consumerId, context, body) {
      return signerFor({ consumerId, keyFile: keyFile(consumerId), context }).authorization(body, context);
    },
    headersFor(requests, body, index) {
      const headers: Record<string, string> = { ...requests.bodyHeaders?.[index % requests.bodyHeaders.length] };
      if (requests.signing) headers.authorization = signerFor(requests.signing).authorization(body, requests.signing.context);
      return headers;
    },
  };
}
