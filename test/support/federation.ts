/**
 * What the 跨域通办 tests (in-process and as two processes) ask hub A and read from each hub's
 * access log: one text each, so that both tests check the same question and the same record fields.
 */

/** A cross-city question at A: a unit of A's registry, and a seller's tax records from B (with their seal). */
export const CROSS_CITY_TEST_QUERY = `query($unit: ID!, $seller: ID!) {
  property(unitNumber: $unit) { unitNumber address }
  seller: hezePerson(idNumber: $seller) {
    idNumber name
    taxRecords { hasArrears payments(taxType: DEED) { voucherNumber amount } seal { issuer keyId token } }
  }
}`;

/** An auditor's page of access records, with the fields that link A's and B's records of one request. */
export const LINKED_ACCESS_LOG_QUERY =
  'query($f: AccessLogFilter) { accessLog(filter: $f, first: 10) { edges { node { requestId consumer purpose caseNumber operator federationRequestId onBehalfOf { hub consumer request } fields { department } } } } }';
