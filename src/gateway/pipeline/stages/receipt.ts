/**
 * The receipt, last: signed by the hub over what was asked (query and variables hashes), by whom
 * and why, the hash of the data sent, the sequence number of the request's access record and the
 * log's newest signed tree head, so a consumer can later prove what it received, find its record
 * and check the record's inclusion proof against a head consistent with the one it holds.
 */
import type { DocumentNode } from 'graphql';
import type { SignedTreeHead } from '../../../audit';
import { hashJson, hashText, type ReceiptSigner } from '../../../seal';
import type { Flow, GatewayReply } from '../types';

/**
 * The query hash of each parsed document, with the text it was taken over: the parse stage's cache
 * hands out one document node per text, so a query asked again is not hashed again. Weak: an
 * entry lives as long as its document; the text is compared on every use, so a hash is only ever
 * given for the very text it was computed from.
 */
const queryHashes = new WeakMap<DocumentNode, { readonly query: string; readonly hash: string }>();

/** `hashText(query)`, remembered per parsed document. */
export function queryHashOf(document: DocumentNode | undefined, query: string): string {
  const known = document ? queryHashes.get(document) : undefined;
  if (known !== undefined && known.query === query) return known.hash;
  const hash = hashText(query);
  if (document) queryHashes.set(document, { query, hash });
  return hash;
}

export function receiptStage(receipts: ReceiptSigner, flow: Flow, reply: GatewayReply, dataHash: string | null, auditSeq: number | undefined, auditHead: SignedTreeHead | null = null): void {
  const caller = flow.caller;
  if (!caller) return;
  const body = flow.body!;
  reply.extensions = {
    ...reply.extensions,
    receipt: receipts.signReceipt({
      requestId: flow.requestId,
      consumer: caller.consumer,
      purpose: caller.purpose,
      case: caller.caseNumber,
      operator: caller.operator,
      time: new Date(),
      queryHash: queryHashOf(flow.document, body.query),
      variablesHash: hashJson(body.variables),
      dataHash: dataHash ?? hashJson(null),
      ...(auditSeq !== undefined ? { auditSeq } : {}),
      ...(auditHead ? { auditInstance: auditHead.head.instance, auditHead: auditHead.jws } : {}),
    }),
  };
}
