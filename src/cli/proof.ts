/**
 * `datarun proof issue`: has the hub issue a proof document 无证明 for a person or an enterprise,
 * signed as a registered consumer (the one-window hall by default) for a purpose, with the
 * person's consent signed by the citizen identity platform (demo keys), and writes the SD-JWT VC
 * to stdout or a file; what it says goes to stderr, verified against the hub's keys and status list.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createDataRunClient, DataRunClientError } from '../client';
import { splitProofBundle, verifyProof, verifyProofBundle, type VerifyProofOptions } from '../proofs';
import { CLI_EXIT } from '../sdk';
import { createConsentSigner, loadKeyStore, type PrivateJwk } from '../seal';
import { CliUsageError, exitCodeOfError, exitCodeOfReply } from './exit';

/** Options of `datarun proof issue`. */
export interface ProofIssueOptions {
  hub: string;
  keysDir: string;
  kind: string;
  /** A person's identity number, or an enterprise's credit code (exactly one). */
  idNumber?: string;
  creditCode?: string;
  /** A file holding the holder's public JWK: the proof is bound to it. */
  holderKey?: string;
  as: string;
  purpose: string;
  case: string;
  operator: string;
  /** Write the token here instead of stdout. */
  out?: string;
}

const CONSENT_ISSUER = 'citizen-identity';
const FIELDS = '{ kind title department token asOf issuedAt expiresAt holderBinding statusList statusIndex reference }';

interface Issued {
  kind: string;
  title: string;
  department: string;
  token: string;
  asOf: string;
  expiresAt: string;
  holderBinding: string;
  statusList: string;
  statusIndex: number;
  reference: string;
}

/** Runs `datarun proof issue`; returns the exit code (0 issued and verified, 4 not established, 3 refused, 6 does not verify). */
export async function runProofIssue(options: ProofIssueOptions, out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  if ((options.idNumber === undefined) === (options.creditCode === undefined)) throw new CliUsageError('name exactly one subject: --id <identity number> or --code <credit code>');
  if (!/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(options.kind)) throw new CliUsageError(`--kind must be a proof kind such as NO_TAX_ARREARS, but got ${JSON.stringify(options.kind)}`);
  let holderKey: string | undefined;
  if (options.holderKey) {
    try {
      holderKey = JSON.stringify(JSON.parse(readFileSync(options.holderKey, 'utf8')));
    } catch (error) {
      throw new CliUsageError(`--holder-key ${options.holderKey}: not a readable JSON file (${(error as Error).message})`);
    }
  }
  const keyStore = await loadKeyStore(options.keysDir);
  const keyFile = keyStore.privateKeyPath(options.as);
  if (!keyFile) throw new CliUsageError(`no private key for consumer "${options.as}" in ${options.keysDir}/private`);
  const consents: string[] = [];
  if (options.idNumber !== undefined) {
    const issuerKey = keyStore.privateKeyPath(CONSENT_ISSUER);
    if (!issuerKey) throw new CliUsageError(`no private key of the consent issuer ${CONSENT_ISSUER} in ${options.keysDir}/private (run \`datarun keys init\`)`);
    const signer = createConsentSigner({ issuer: CONSENT_ISSUER, privateJwk: JSON.parse(readFileSync(issuerKey, 'utf8')) as PrivateJwk });
    // The person's consent to this one issuance, for this consumer, ten minutes.
    consents.push(signer.sign({ subject: options.idNumber, purpose: options.purpose, expiresAt: Date.now() + 10 * 60_000, audience: options.as, once: true }));
  }
  const subject = options.idNumber !== undefined ? { argument: 'idNumber', value: options.idNumber } : { argument: 'creditCode', value: options.creditCode! };
  const query = `mutation IssueProof($kind: ProofKind!, $subject: ID!${holderKey ? ', $holderKey: String!' : ''}) { issueProof(kind: $kind, ${subject.argument}: $subject${holderKey ? ', holderKey: $holderKey' : ''}) ${FIELDS} }`;
  const client = createDataRunClient({ hubUrl: options.hub, consumerId: options.as, keyFile });
  let reply;
  try {
    reply = await client.query<{ issueProof: Issued | null }>(query, { kind: options.kind, subject: subject.value, ...(holderKey ? { holderKey } : {}) }, { purpose: options.purpose, caseNumber: options.case, operator: options.operator, ...(consents.length > 0 ? { consents } : {}) });
  } catch (error) {
    if (!(error instanceof DataRunClientError)) throw error;
    err(`${error.message} (${error.code})\n`);
    return exitCodeOfError(error);
  }
  const issued = reply.data?.issueProof;
  if (!issued) {
    const first = reply.errors?.[0];
    err(`not issued: ${first ? `${String(first.extensions?.code ?? 'error')}: ${first.message}` : `HTTP ${reply.status}`}\n`);
    return exitCodeOfReply(reply);
  }
  if (options.out) writeFileSync(options.out, `${issued.token}\n`, { mode: 0o600 });
  else out(`${issued.token}\n`);
  const verifyOptions: VerifyProofOptions = {
    keys: { jwks: (await client.jwks()) as never },
    statusList: async (uri) => (await fetch(uri, { signal: AbortSignal.timeout(10_000) })).text(),
    requireStatus: true,
    allowMissingKeyBinding: true,
  };
  const bundle = splitProofBundle(issued.token);
  const verified = bundle ? await verifyProofBundle(bundle.envelope, bundle.parts, verifyOptions) : await verifyProof(issued.token, verifyOptions);
  err(`${issued.title} (${issued.kind}) issued by ${issued.department} as of ${issued.asOf}, valid until ${issued.expiresAt}; holder binding ${issued.holderBinding}\n`);
  err(`status: ${issued.statusList} #${issued.statusIndex}; printable page: ${options.hub.replace(/\/+$/, '')}/p/${issued.reference}${options.out ? `; written to ${options.out}` : ''}\n`);
  err(verified.valid ? `verified: signature, disclosures and status (${verified.status})\n` : `does NOT verify: ${verified.reason}\n`);
  return verified.valid ? CLI_EXIT.OK : CLI_EXIT.VERIFY_FAILED;
}
