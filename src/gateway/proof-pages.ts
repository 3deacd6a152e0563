/**
 * What the hub's proof pages (src/http: `GET /p/<ref>`, `/verify`) need of the gateway: the
 * stored proofs by reference, and a proof verified with the hub's keys and status lists, with the
 * names people read. The gateway implements it; the pages only render what it answers.
 */
import type { ProofBundleRejected, ProofVerification } from '../proofs';

/** A proof verified, with the human labels of what it says. */
export interface ProofDisplay {
  /** `verifyProof` of the token with the hub's keys and status lists, `allowMissingKeyBinding` set (a bound proof shown without its KB-JWT comes back with `keyBindingMissing`). */
  readonly result: ProofVerification | ProofBundleRejected;
  /** The document's title, e.g. 无欠税证明; absent: the kind code is shown. */
  readonly title?: string;
  /** Its English title, the second line. */
  readonly titleEn?: string;
  /** The issuing department's name; absent: its id. */
  readonly departmentName?: string;
  /** The purpose (事由) as people read it; absent: the proof's `purpose` text. */
  readonly purposeName?: string;
  /** Who the proof is about, already masked for print (e.g. 张* 3701**********1234); absent: not shown. */
  readonly subject?: string;
  /** Claim name → its label (e.g. hasArrears → 是否欠税); a claim without one shows its name. */
  readonly claimLabels?: Readonly<Record<string, string>>;
  /** A bundle's parts (each a department's proof, labelled), shown after the bundle's own facts; `result` is then the envelope's. */
  readonly parts?: readonly ProofDisplay[];
}

/** The source of the proof pages, given to `startHubServer({ proofPages })`. */
export interface ProofPagesSource {
  /** The hub's public base URL (e.g. `https://hub.example.gov.cn`): printed on the pages, and the origin of the reference URLs `…/p/<ref>` in QR codes. */
  readonly publicUrl: string;
  /** The stored proof (its SD-JWT, every disclosure) of reference `ref`, or undefined when unknown or expired. */
  byReference(ref: string): Promise<string | undefined>;
  /** Verifies a token (an SD-JWT presentation, or a bundle `<envelope>,<part>,…`) and labels it; never throws for a bad token (the refusal is in `result`). */
  display(token: string): Promise<ProofDisplay>;
}
