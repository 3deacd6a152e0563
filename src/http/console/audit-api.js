// The console's GraphQL calls for the verifiable log: newest signed tree heads and a record's
// inclusion proof. One small module, so that it follows the audit core's schema in one place.
// Contract (issue 13): auditHeads: [AuditTreeHead!]!, auditProof(instance, seq, treeSize):
// AuditInclusionProof, AuditTreeHead { instance chain size root time jws },
// AuditInclusionProof { instance seq leafIndex treeSize leafHash line path head }, leafIndex = seq - 1;
// line is the record's stored line, whose leaf hash must be leafHash (the proof is about this record).

const HEAD_FIELDS = 'instance chain size root time jws';

export const HEADS_QUERY = `query ConsoleHeads { auditHeads { ${HEAD_FIELDS} } }`;

export const PROOF_QUERY = `query ConsoleProof($instance: String!, $seq: Int!) {
  auditProof(instance: $instance, seq: $seq) { instance seq leafIndex treeSize leafHash line path head { ${HEAD_FIELDS} } }
}`;

/** Codes that mean "this hub does not offer the API (yet), or not to this caller". */
const UNAVAILABLE = new Set(['GRAPHQL_VALIDATION_FAILED', 'POLICY_DENIED', 'FORBIDDEN']);

function outcome(reply, field) {
  const error = reply.json.errors && reply.json.errors[0];
  const code = error && error.extensions && error.extensions.code;
  if (reply.json.data && reply.json.data[field] !== undefined && !error) return { ok: true, value: reply.json.data[field] };
  return { ok: false, unavailable: UNAVAILABLE.has(code), code: code || `HTTP ${reply.status}`, message: error ? error.message : '' };
}

/** The newest signed head of every instance: { ok, value: heads[] } or { ok: false, unavailable, code, message }. */
export async function fetchHeads(gql) {
  return outcome(await gql(HEADS_QUERY, {}, 'ConsoleHeads'), 'auditHeads');
}

/** The inclusion proof of one record against the newest signed head that covers it. */
export async function fetchProof(gql, instance, seq) {
  return outcome(await gql(PROOF_QUERY, { instance, seq }, 'ConsoleProof'), 'auditProof');
}
