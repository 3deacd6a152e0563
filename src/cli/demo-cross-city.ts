/**
 * `datarun demo cross-city`: the worked scenario of 跨域通办. Two cities' hubs in this process, on
 * loopback ports, each over its own sandbox departments: 菏泽 Heze (hub id `heze`, a seed of Heze's
 * persons) and 泰安 Tai'an (hub id `taian`, a seed of Tai'an's persons in which some units belong
 * to persons registered in Heze). Tai'an puts Heze's `person` and `property` behind its own (a
 * connector of type "hub", from the snapshot of Heze's graph that Heze's operator listener serves),
 * and its policy lets its registration centre 不动产登记中心 read Heze's persons' tax records for
 * property transfers. Then the centre asks Tai'an about a unit for sale and its seller: the unit
 * comes from Tai'an's registry, the seller's tax standing from Heze's tax department, under that
 * department's seal (verified against Heze's keys), and both hubs' access records of the request
 * share one federation request id. Every step is checked; one that does not hold stops the demo
 * naming it (exit 1).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSeed, type SeedData } from '../../departments';
import { createDataRunClient, type DataRunClient } from '../client';
import { PEER_GRANTS_CASE } from '../gateway';
import { DEMO_POLICY } from '../policy';
import { DemoStepError, expectNoErrors, prepareDemoKeys, startDemoHub, type DemoHub } from './demo-kit';

/** Options of `datarun demo cross-city`. */
export interface CrossCityDemoOptions {
  /** Persons in each city's seed. @default 200 */
  size?: number;
  /** Keep the temporary directory (keys, both access logs) and print where it is. */
  keep?: boolean;
  /**
   * The two hubs' keys directories under it (`heze/`, `taian/`), made when missing and kept, each
   * with its hub's access log (`audit/`: a keys directory remembers its log's newest head, so the
   * log stays with it). @default in the temporary directory
   */
  keysDir?: string;
  /** Leave both hubs up after the story until the promise it returns settles (the command: until SIGINT or SIGTERM). */
  keepRunning?: () => Promise<unknown>;
}

/** The two hubs' ids, as each one's trust list and the other's tokens name them. */
export const CROSS_CITY_HUBS = Object.freeze({ serving: 'heze', requesting: 'taian' });
/** Tai'an's consumer id at Heze's hub (a `federation-peer` of the demo policy and keys). */
const PEER_CONSUMER = 'taian-hub';
/** The consumer at Tai'an that asks: the registration centre 不动产登记中心. */
const CENTRE = 'real-estate-centre';
const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'TA-BDC-2026-0042', operator: '泰安窗口-刘洋' } as const;
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-0042', operator: 'auditor-1' } as const;
/** Heze's graph at Tai'an: `Heze<Type>`, and these root fields as `heze<Field>`. */
const PREFIX = 'Heze';
const PEER_FIELDS = ['person', 'property'];
/** What Tai'an's policy adds for its centre: Heze's persons' tax records, for property transfers only. */
const PEER_GRANTS = ['Query.hezePerson', `${PREFIX}Person.idNumber`, `${PREFIX}Person.name`, `${PREFIX}Person.taxRecords`, `${PREFIX}Taxpayer`, `${PREFIX}TaxPayment`];

/** The worked query: the unit from Tai'an's registry, its seller's tax standing from Heze's hub. */
export const CROSS_CITY_QUERY = `query CrossCityTransfer($unit: ID!, $seller: ID!) {
  property(unitNumber: $unit) {
    unitNumber certificateNumber address area
    owners { share kind owner { __typename ... on Person { idNumber } } }
    seal { issuer keyId token }
  }
  seller: hezePerson(idNumber: $seller) {
    idNumber name
    taxRecords { hasArrears creditRating payments { taxType amount paidAt } seal { issuer keyId token } }
  }
}`;

const ACCESS_LOG =
  'query($f: AccessLogFilter) { accessLog(filter: $f, first: 10) { edges { node { seq requestId consumer operator purpose caseNumber outcome federationRequestId onBehalfOf { hub consumer request } fields { department } } } } }';

interface Seal {
  issuer: string;
  keyId: string;
  token: string;
}
interface AccessRecord {
  seq: number;
  requestId: string;
  consumer: string;
  operator: string;
  purpose: string;
  caseNumber: string;
  outcome: string;
  federationRequestId: string | null;
  onBehalfOf: { hub: string; consumer: string; request: string } | null;
  fields: { department: string }[];
}
interface TransferReply {
  property: { unitNumber: string; certificateNumber: string; address: string; area: number; owners: { share: number; kind: string; owner: { __typename: string; idNumber?: string } }[]; seal: Seal };
  seller: { idNumber: string; name: string; taxRecords: { hasArrears: boolean; creditRating: string | null; payments: { taxType: string; amount: number; paidAt: string }[]; seal: Seal } | null } | null;
}

/** A client signing as `consumer` of `hub` with the demo key its keys directory holds. */
function clientOf(hub: DemoHub, consumer: string): DataRunClient {
  const keyStore = hub.gateway.keyStore;
  const keyFile = keyStore.privateKeyPath(consumer);
  if (!keyFile) throw new DemoStepError('keys', `hub ${keyStore.hubId} holds no key of ${consumer} in ${keyStore.dir}`);
  return createDataRunClient({ hubUrl: hub.server.url, consumerId: consumer, keyFile, audience: keyStore.hubId });
}

/** The access records of `filter` an auditor of `hub` reads. */
async function recordsAt(step: string, auditor: DataRunClient, filter: Record<string, string>): Promise<AccessRecord[]> {
  const reply = await auditor.query<{ accessLog: { edges: { node: AccessRecord }[] } }>(ACCESS_LOG, { f: filter }, AUDIT);
  expectNoErrors(step, reply);
  return reply.data!.accessLog.edges.map((e) => e.node);
}

/**
 * How Tai'an puts Heze's hub behind its own (its consumer at Heze, the prefix and root fields of
 * Heze's graph there) and for whom (the centre, for property transfers): the demo's settings, which
 * the benchmark's row F uses too.
 */
export const CROSS_CITY_PEER = Object.freeze({ consumer: PEER_CONSUMER, prefix: PREFIX, fields: Object.freeze([...PEER_FIELDS]), requester: CENTRE, purpose: TRANSFER.purpose });

/** Tai'an's policy: the demo policy, with the centre's grants of Heze's fields. */
export function crossCityRequestingPolicy(): unknown {
  const policy = structuredClone(DEMO_POLICY) as unknown as { consumers: { id: string; grants: { fields: string[]; purposes?: string[]; note?: string }[] }[] };
  const centre = policy.consumers.find((c) => c.id === CENTRE);
  if (!centre) throw new DemoStepError('policy', `the demo policy has no consumer ${CENTRE}`);
  centre.grants.push({ fields: PEER_GRANTS, purposes: [TRANSFER.purpose], note: '跨域通办: the seller registered in Heze, through Heze\'s hub' });
  return policy;
}

/** Runs the cross-city scenario; returns the exit code (0 when every step held). */
export async function runCrossCityDemo(options: CrossCityDemoOptions, out: (line: string) => void): Promise<number> {
  const size = options.size ?? 200;
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-demo-cross-city-'));
  const keysRoot = options.keysDir ? path.resolve(options.keysDir) : path.join(dir, 'keys');
  const { serving, requesting } = CROSS_CITY_HUBS;
  let heze: DemoHub | undefined;
  let taian: DemoHub | undefined;
  try {
    out('datarun demo cross-city: 跨域通办 — 泰安的不动产登记中心办理一套泰安房产的转移登记，卖方户籍在菏泽，其纳税记录经菏泽枢纽取得');
    out('  跨域通办 — Tai\'an\'s registration centre registers the sale of a unit in Tai\'an by a seller registered in Heze; the seller\'s tax records come through Heze\'s hub');
    out(`  two hubs in this process on loopback ports (signed requests), keys and access logs in ${keysRoot}`);

    // 1. Heze's hub, over Heze's departments.
    let step = '1 start Heze\'s hub';
    const hezeData = generateSeed({ seed: 2, size, city: 'heze' });
    await prepareDemoKeys(path.join(keysRoot, serving), serving);
    heze = await startDemoHub({ dir: path.join(dir, serving), keysDir: path.join(keysRoot, serving), auditDir: path.join(keysRoot, serving, 'audit'), data: hezeData, instanceId: `${serving}-hub` });
    out(`1. 菏泽枢纽 Heze's hub "${serving}" at ${heze.server.url} (operator routes ${heze.server.operatorUrl}): its departments hold ${size} persons of Heze (identity numbers 3717…)`);

    // 2. Heze's operator hands Tai'an's the snapshot of Heze's graph, and the key of Tai'an's consumer at Heze.
    step = '2 the snapshot of Heze\'s graph';
    const peerDir = path.join(dir, requesting, 'peers', serving);
    mkdirSync(peerDir, { recursive: true });
    const snapshot = await fetch(`${heze.server.operatorUrl}/federation/schema.graphql`);
    if (snapshot.status !== 200) throw new DemoStepError(step, `Heze's operator listener answered ${snapshot.status}`);
    const schemaFile = path.join(peerDir, 'schema.graphql');
    const sdl = await snapshot.text();
    writeFileSync(schemaFile, sdl);
    const peerKey = heze.gateway.keyStore.privateKeyPath(PEER_CONSUMER);
    if (!peerKey) throw new DemoStepError(step, `Heze's keys hold no key of ${PEER_CONSUMER}`);
    out(`2. 菏泽运维交付图谱快照 Heze's operator hands over Heze's graph (GET /federation/schema.graphql, ${sdl.length} characters with every @share) and the key of Tai'an's consumer at Heze, "${PEER_CONSUMER}" (a federation-peer)`);

    // 3. Tai'an's hub, over Tai'an's departments, with Heze's hub behind it.
    step = '3 start Tai\'an\'s hub';
    const taianData: SeedData = generateSeed({ seed: 1, size, city: 'taian', crossCity: { from: hezeData, sellers: 3 } });
    const policyFile = path.join(dir, requesting, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(crossCityRequestingPolicy(), null, 2));
    await prepareDemoKeys(path.join(keysRoot, requesting), requesting);
    taian = await startDemoHub({
      dir: path.join(dir, requesting),
      keysDir: path.join(keysRoot, requesting),
      auditDir: path.join(keysRoot, requesting, 'audit'),
      data: taianData,
      instanceId: `${requesting}-hub`,
      overrides: {
        policy: { file: policyFile },
        // Tai'an pins Heze's federation root (its thumbprint, given out of band): Heze's keys are taken only signed by it.
        federation: { peers: { [serving]: { url: heze.server.url, root: heze.gateway.keyStore.federationRoot()!.thumbprint } } },
        connectors: {
          [serving]: { type: 'hub', url: `${heze.server.url}/graphql`, hub: serving, consumer: PEER_CONSUMER, keyFile: peerKey, prefix: PREFIX, fields: PEER_FIELDS, schemaFile },
        },
      },
    });
    const units = taianData.crossCityUnits ?? [];
    out(`3. 泰安枢纽 Tai'an's hub "${requesting}" at ${taian.server.url}: its departments hold ${size} persons of Tai'an (3709…) and ${units.length} units owned by persons registered in Heze;`);
    out(`   Tai'an pins Heze's federation root key ${heze.gateway.keyStore.federationRoot()!.thumbprint} (federation.peers): every Heze seal passing through is checked against Heze's keys, taken only signed by that root`);
    out(`   connector "${serving}" (type hub) puts Heze's ${PEER_FIELDS.join(' and ')} behind it as ${PEER_FIELDS.map((f) => `heze${f[0]!.toUpperCase()}${f.slice(1)}`).join(', ')}; Tai'an's policy grants ${CENTRE} ${PEER_GRANTS.join(', ')} for ${TRANSFER.purpose}`);

    // 4. The centre asks Tai'an: the unit, and its seller through Heze's hub.
    step = '4 the property-transfer query at Tai\'an';
    const unit = taianData.properties.find((p) => p.unitNumber === units[0]);
    const sellerId = unit?.owners[0]?.ownerId;
    if (!unit || !sellerId) throw new DemoStepError(step, 'the Tai\'an seed has no unit owned by a person of Heze');
    const centre = clientOf(taian, CENTRE);
    // Records of this run only, when the logs are kept from an earlier one (--keys).
    const since = new Date(Date.now() - 1000).toISOString();
    const reply = await centre.query<TransferReply>(CROSS_CITY_QUERY, { unit: unit.unitNumber, seller: sellerId }, TRANSFER);
    expectNoErrors(step, reply);
    const receipt = await centre.verifyReply(reply);
    if (!receipt.valid) throw new DemoStepError(step, `Tai'an's receipt does not verify: ${receipt.message}`);
    const { property, seller } = reply.data!;
    const owner = property.owners[0]?.owner;
    if (owner?.idNumber !== sellerId) throw new DemoStepError(step, `the unit's owner at Tai'an is ${owner?.idNumber ?? 'nobody'}, not the seller ${sellerId}`);
    if (!sellerId.startsWith('3717')) throw new DemoStepError(step, `the seller ${sellerId} is not registered in Heze (3717…)`);
    const unitSeal = await centre.verifySeal(property.seal.token);
    if (!unitSeal.valid) throw new DemoStepError(step, `the unit's seal does not verify against Tai'an's keys: ${unitSeal.reason ?? 'invalid'}`);
    out(`4. 不动产登记中心 ${CENTRE} asks Tai'an's hub (purpose ${TRANSFER.purpose}, case ${TRANSFER.caseNumber}, operator ${TRANSFER.operator}); one reply, Tai'an's receipt verified:`);
    out(`   房屋来自泰安不动产登记簿 the unit, from Tai'an's registry: ${property.unitNumber}, ${property.address}, ${property.area} m², ${property.certificateNumber};`);
    out(`   sole owner ${sellerId} (户籍菏泽 registered in Heze); sealed by ${property.seal.issuer}, seal verified against Tai'an's JWKS`);

    // 5. The seller's tax standing, from Heze's tax department under its seal.
    step = '5 the seller\'s tax records from Heze';
    const taxRecords = seller?.taxRecords;
    if (!seller || !taxRecords) throw new DemoStepError(step, `Heze's hub gave no tax records of ${sellerId}`);
    const hezeAuditor = clientOf(heze, 'auditor');
    const taianAuditor = clientOf(taian, 'auditor');
    const [atHeze, atTaian] = await Promise.all([hezeAuditor.verifySeal(taxRecords.seal.token), taianAuditor.verifySeal(taxRecords.seal.token)]);
    if (!atHeze.valid) throw new DemoStepError(step, `the tax records' seal does not verify against Heze's JWKS: ${atHeze.reason ?? 'invalid'}`);
    if (atTaian.valid) throw new DemoStepError(step, 'the tax records\' seal verifies against Tai\'an\'s keys: Tai\'an must sign nothing for Heze');
    const deed = taxRecords.payments.filter((p) => p.taxType === 'DEED').length;
    out(`5. 卖方纳税情况来自菏泽税务 the seller ${seller.name} (${seller.idNumber}, masked by Heze for Tai'an), from Heze's hub: ${taxRecords.hasArrears ? '有欠税 in arrears' : '无欠税 no arrears'}, credit rating ${taxRecords.creditRating ?? '—'}, ${taxRecords.payments.length} payment${taxRecords.payments.length === 1 ? '' : 's'} (${deed} deed tax 契税);`);
    out(`   sealed by Heze's ${taxRecords.seal.issuer} (key ${taxRecords.seal.keyId}), seal verified against Heze's JWKS ${heze.server.url}/.well-known/jwks.json, and not against Tai'an's (Tai'an signs nothing for Heze)`);

    // 6. Both hubs' access records of the request, linked by the federation request id.
    step = '6 the access records';
    const mine = await recordsAt(step, taianAuditor, { caseNumber: TRANSFER.caseNumber, from: since });
    const taianRecord = mine.find((r) => r.requestId === receipt.receipt.requestId);
    if (!taianRecord?.federationRequestId) throw new DemoStepError(step, `Tai'an's log has no record of request ${receipt.receipt.requestId} with a federation request id (found ${mine.length} records of case ${TRANSFER.caseNumber})`);
    const federationId = taianRecord.federationRequestId!;
    // Heze's record of the request.
    const theirs = await recordsAt(step, hezeAuditor, { federationRequestId: federationId });
    const hezeRecord = theirs.find((r) => r.fields.length > 0);
    if (!hezeRecord) throw new DemoStepError(step, `Heze's log has no record reading its departments under federation request ${federationId} (${theirs.length} records)`);
    // Tai'an's look at Heze's grants (myGrants: no department read), asked as Tai'an itself for no consumer's case.
    const looks = (await recordsAt(step, hezeAuditor, { caseNumber: PEER_GRANTS_CASE, from: since })).filter((r) => r.consumer === PEER_CONSUMER);
    if (looks.some((r) => r.onBehalfOf)) throw new DemoStepError(step, 'Heze\'s record of Tai\'an\'s look at its grants names a consumer at Tai\'an: the look serves every consumer and must be asked as the hub itself');
    const grantsCheck = looks.length;
    const expected = { hub: requesting, consumer: CENTRE, request: taianRecord.requestId };
    const named = hezeRecord.onBehalfOf;
    if (hezeRecord.consumer !== PEER_CONSUMER || named?.hub !== expected.hub || named.consumer !== expected.consumer || named.request !== expected.request) {
      throw new DemoStepError(step, `Heze's record names ${hezeRecord.consumer} on behalf of ${JSON.stringify(named)}, not ${PEER_CONSUMER} on behalf of ${JSON.stringify(expected)}`);
    }
    if (hezeRecord.caseNumber !== TRANSFER.caseNumber || hezeRecord.purpose !== TRANSFER.purpose || hezeRecord.operator !== TRANSFER.operator) {
      throw new DemoStepError(step, `Heze's record has purpose ${hezeRecord.purpose}, case ${hezeRecord.caseNumber}, operator ${hezeRecord.operator}: not the centre's`);
    }
    const hezeDepartments = [...new Set(hezeRecord.fields.map((f) => f.department))];
    if (!hezeDepartments.includes(taxRecords.seal.issuer)) throw new DemoStepError(step, `Heze's record names departments ${hezeDepartments.join(', ')}, not the seal's issuer ${taxRecords.seal.issuer}`);
    const taianDepartments = [...new Set(taianRecord.fields.map((f) => f.department))];
    out(`6. 泰安的访问记录 Tai'an's access record #${taianRecord.seq}: ${taianRecord.consumer}, ${taianRecord.purpose} ${taianRecord.caseNumber}, departments ${taianDepartments.join(', ')} (${serving} = Heze's hub), request ${taianRecord.requestId}, federation request id ${federationId}`);
    out(`7. 菏泽的访问记录 Heze's access record #${hezeRecord.seq}: ${hezeRecord.consumer} on behalf of ${named.consumer} @ ${named.hub} (its request ${named.request}), the same purpose, case and operator, departments ${hezeDepartments.join(', ')}, federation request id ${hezeRecord.federationRequestId}`);
    if (grantsCheck > 0) out(`   and ${grantsCheck} record${grantsCheck === 1 ? '' : 's'} of Tai'an itself asking Heze what it grants it (myGrants, case ${PEER_GRANTS_CASE}, on behalf of no consumer), before the query`);
    out('   两地审计员凭同一跨域请求号互查记录 an auditor of either hub finds the other\'s record with accessLog(filter: { federationRequestId })');
    out('every step held.');

    if (options.keepRunning) {
      out(`both hubs keep running until stopped (Ctrl-C): Heze ${heze.server.url}/graphql (operator ${heze.server.operatorUrl}), Tai'an ${taian.server.url}/graphql (operator ${taian.server.operatorUrl}); keys in ${keysRoot}`);
      await options.keepRunning();
      out('stopping both hubs');
    }
    return 0;
  } finally {
    await taian?.close();
    await heze?.close();
    if (options.keep) out(`kept ${dir} (${options.keysDir ? '' : 'both hubs\' keys and access logs, '}Tai'an's policy and its snapshot of Heze's graph)`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
