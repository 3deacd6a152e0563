/**
 * A `ProofPagesSource` for tests, built from the real library over a test hub's key store: stored
 * proofs in a map, `display` is `verifyProof` with the hub's keys and a status list signed here
 * (entry 3 valid, 4 revoked), and fixed labels. It stands in for the gateway's implementation.
 */
import type { Gateway, ProofPagesSource } from '../../src/gateway';
import { createStatusListSigner, issueProofVc, signStatusListToken, STATUS, verifyProof, type HolderBinding } from '../../src/proofs';
import type { HolderPrivateKey } from '../../src/seal';

export const TEST_STATUS_URI = 'https://hub.example.gov.cn/status/0';

/** The test source, with what a test needs to set it up. */
export interface TestProofPages extends ProofPagesSource {
  publicUrl: string;
  /** Proofs by reference. */
  readonly stored: Map<string, string>;
  /** A proof of the tax kind from the hub's own key store; entry 3 of the status list unless told. */
  issue(over?: { idx?: number; holderJwk?: HolderPrivateKey; claims?: Record<string, unknown> }): { token: string; holderBinding: HolderBinding };
}

export function testProofPages(gateway: Gateway): TestProofPages {
  const keyStore = gateway.keyStore;
  const sign = createStatusListSigner({ keyStore });
  const statusToken = (): string => signStatusListToken({ uri: TEST_STATUS_URI, bits: 2, statuses: [0, 0, 0, STATUS.VALID, STATUS.INVALID, 0, 0, 0], ttlSeconds: 300, sign });
  return {
    publicUrl: 'http://127.0.0.1',
    stored: new Map(),
    async byReference(ref) {
      return this.stored.get(ref);
    },
    async display(token) {
      const result = await verifyProof(token, { keys: { keyStore }, statusList: { [TEST_STATUS_URI]: statusToken() }, allowMissingKeyBinding: true });
      return {
        result,
        title: '无欠税证明',
        titleEn: 'Certificate of no tax arrears',
        departmentName: '税务部门 Tax',
        purposeName: '办理贷款',
        subject: '张* 3701**********1234',
        claimLabels: { hasArrears: '是否欠税', taxpayerName: '纳税人名称' },
      };
    },
    issue(over = {}) {
      const issued = issueProofVc({
        keyStore,
        department: 'tax',
        kind: 'NO_TAX_ARREARS',
        purpose: '办理贷款',
        asOf: Date.now() - 3_600_000,
        subjectKind: 'PERSON',
        claims: over.claims ?? { taxpayerName: '张三', hasArrears: false },
        validitySeconds: 86_400,
        status: { idx: over.idx ?? 3, uri: TEST_STATUS_URI },
        ...(over.holderJwk ? { holderJwk: over.holderJwk } : {}),
      });
      return { token: issued.token, holderBinding: issued.holderBinding };
    },
  };
}
