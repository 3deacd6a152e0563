/**
 * The TypeScript client department systems use: signs every call to the hub and verifies the
 * seals and receipts it gets back, offline against the hub's published JWKS.
 */
export { createDataRunClient, RECEIPT_HEADER, type DataRunClient, type DataRunClientOptions, type DataRunResponse, type DataRunGraphQLError, type QueryOptions } from './client';
export { DataRunClientError } from './errors';
export {
  verifySeal,
  verifyReceipt,
  importJwks,
  loadJwks,
  hashJson,
  hashText,
  createRequestSigner,
  type Jwks,
  type RequestContext,
  type OnBehalfOf,
  type SealVerification,
  type ReceiptVerification,
  type PrivateJwk,
} from '../seal';
