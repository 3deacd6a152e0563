/**
 * `datarun demo enterprise-startup`: the worked scenario of 企业开办一链办理 and 审管联动, run end to
 * end on a hub of its own, every step checked and printed.
 *
 * It starts the embedded sandbox departments and a signed hub on free loopback ports, with its
 * keys, access log, webhook queue and cases in a temporary directory (nothing of the project's own
 * keys/ or .data/ is read or written), and a webhook receiver standing for the tax bureau's system.
 * Then: the tax bureau registers a webhook and the social insurance bureau opens a subscription,
 * both for a stated purpose; market regulation registers a new enterprise in its sandbox; the
 * webhook delivery arrives signed per Standard Webhooks (verified against the hub's JWKS) with the
 * enterprise under market regulation's seal (verified), and the subscription gets it too; the push
 * opened the tax bureau's case, which it claims and reports back on; the auditor reads every step
 * from the access log, and the log's chain verifies. Any step that does not hold stops the demo
 * with an error naming it (exit 1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSeed, DEFAULT_SEED_OPTIONS } from '../../departments';
import { verifyAuditLog } from '../audit';
import { createDataRunClient, type DataRunClient, type DataRunResponse } from '../client';
import { auditVerifier, declaredEventTypes, modulesOfConfig } from '../gateway';
import { verifyWebhook } from '../push';
import { runCrossCityDemo } from './demo-cross-city';
import { DemoStepError, expectNoErrors, startDemoHub, waitFor, type DemoHub } from './demo-kit';
import { CliUsageError } from './exit';

/** The scenarios `datarun demo` runs. */
export const DEMO_SCENARIOS = ['enterprise-startup', 'cross-city'] as const;

/** Options of `datarun demo`. */
export interface DemoOptions {
  scenario: string;
  /** Persons in the sandbox seed. @default 200 */
  size?: number;
  /** Keep the temporary directory (keys, access log, cases) and print where it is. */
  keep?: boolean;
  /** How long to wait for each delivery before giving up, in milliseconds. @default 60000 */
  waitMs?: number;
  /** cross-city only: the two hubs' keys directories under it (`heze/`, `taian/`), kept. @default in the temporary directory */
  keysDir?: string;
  /** cross-city only: leave both hubs up after the story until the promise this returns settles (the command: until SIGINT or SIGTERM). */
  keepRunning?: () => Promise<unknown>;
}

const STARTUP = { purpose: 'ENTERPRISE_STARTUP', caseNumber: 'QYKB-2026-000731', operator: 'tax-0042' } as const;
const SS_STARTUP = { ...STARTUP, operator: 'ss-0107' } as const;
const FEEDBACK = { purpose: 'CASE_FEEDBACK', caseNumber: 'SG-2026-000731', operator: 'tax-0042' } as const;
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-000731', operator: 'auditor-1' } as const;

const WEBHOOK_SELECTION = 'subscription { departmentEvents(types: [ENTERPRISE_REGISTERED]) { id type occurredAt enterprise { creditCode name status legalRepresentative { name } seal { issuer token } } } }';
const SUBSCRIPTION = 'subscription NewEnterprises { departmentEvents(types: [ENTERPRISE_REGISTERED]) { id type enterprise { creditCode name status seal { issuer token } } } }';
const REGISTER = 'mutation Register($url: String!, $s: String!) { registerWebhook(url: $url, subscription: $s, withSecret: true) { id types purpose secret } }';
const CASES = '{ cases { id eventId eventType state claimDeadline feedbackDeadline subject { kind id } } }';
const CLAIM = 'mutation Claim($id: ID!) { claimCase(caseId: $id) { state claimedBy claimedLate } }';
const REPORT = 'mutation Report($id: ID!) { reportCase(caseId: $id, outcome: INSPECTED_COMPLIANT, note: "税务登记已确认，已纳入日常管理") { state reportedBy reportedLate } }';
const ACCESS_LOG =
  'query Trail($f: AccessLogFilter) { accessLog(filter: $f, first: 100) { edges { node { seq time requestId consumer operator purpose caseNumber operationName outcome receiptId correlationId fields { department } changes { action caseId to } } } } }';

interface Delivery {
  headers: Record<string, string>;
  body: string;
}

/** The tax bureau's system: a loopback HTTP receiver that keeps what arrives. */
async function startReceiver(): Promise<{ url: string; received: Delivery[]; close(): Promise<void> }> {
  const received: Delivery[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/tax-bureau`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Runs a scenario; returns the exit code (0 when every step held). */
export async function runDemo(options: DemoOptions, out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  if (!(DEMO_SCENARIOS as readonly string[]).includes(options.scenario)) throw new CliUsageError(`unknown scenario "${options.scenario}": expected ${DEMO_SCENARIOS.join(' or ')}`);
  if (options.scenario === 'cross-city') return runCrossCityDemo(options, out);
  if (options.keysDir !== undefined || options.keepRunning !== undefined) throw new CliUsageError(`--keys and --keep-running are options of the cross-city scenario, not of ${options.scenario}`);
  const size = options.size ?? 200;
  const waitMs = options.waitMs ?? 60_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-demo-'));
  let running: DemoHub | undefined;
  const receiver = await startReceiver();
  const stream: { iterator?: AsyncIterableIterator<DataRunResponse<any>> } = {};
  try {
    const data = generateSeed({ seed: DEFAULT_SEED_OPTIONS.seed, size });
    running = await startDemoHub({ dir, data, instanceId: 'demo-hub', overrides: { webhooks: { allow: [{ url: 'http://127.0.0.1:*/hooks/*', allowPrivate: true }] } } });
    const { config, gateway, server } = running;
    const modules = modulesOfConfig(config);
    const hub = server.url;
    const operatorUrl = server.operatorUrl!;
    const keyStore = gateway.keyStore;
    const client = (consumer: string): DataRunClient => createDataRunClient({ hubUrl: hub, consumerId: consumer, keyFile: keyStore.privateKeyPath(consumer)! });
    const tax = client('tax-bureau');
    const socialSecurity = client('social-security-bureau');
    const auditor = client('auditor');
    const live = gateway;
    out('datarun demo: 企业开办一链办理 — a new enterprise reaches tax and social security; 审管联动 — tax claims the case and reports back');
    out(`  hub ${hub} (signed requests), operator routes ${operatorUrl}, sandbox departments seeded with ${size} persons, data in ${dir}`);

    // 1. The tax bureau registers its webhook, for a purpose; the hub admits the selection against its grants now.
    let step = '1 register the tax bureau\'s webhook';
    const registered = await tax.query<{ registerWebhook: { id: string; types: string[]; secret: string } }>(REGISTER, { url: receiver.url, s: WEBHOOK_SELECTION }, STARTUP);
    expectNoErrors(step, registered);
    const webhook = registered.data!.registerWebhook;
    out(`1. tax-bureau registered webhook ${webhook.id} → ${receiver.url} for ${webhook.types.join(', ')} (purpose ${STARTUP.purpose}, case ${STARTUP.caseNumber})`);

    // 2. The social insurance bureau opens a subscription over Server-Sent Events.
    step = '2 open the social insurance bureau\'s subscription';
    stream.iterator = socialSecurity.subscribe<any>(SUBSCRIPTION, {}, SS_STARTUP);
    const firstEvent = stream.iterator.next();
    // Its rejection is read below; until then it must not count as unhandled.
    firstEvent.catch(() => undefined);
    await waitFor(step, 'the stream opening', waitMs, () => (live.openSubscriptions > 0 ? true : undefined));
    out(`2. social-security-bureau opened a subscription over Server-Sent Events (POST ${hub}/graphql/stream, purpose ${SS_STARTUP.purpose})`);

    // 3. Market regulation registers a new enterprise in its own system (the sandbox's route).
    step = '3 register an enterprise at market regulation';
    const name = '泰安云数链办科技有限公司';
    // The department whose feed reports new enterprises, as its connector declares (its sandbox has the route).
    const registry = declaredEventTypes(modules).get('ENTERPRISE_REGISTERED')?.department;
    if (!registry) throw new DemoStepError(step, 'no connector declares the ENTERPRISE_REGISTERED event');
    const res = await fetch(`${operatorUrl}/__sandbox/${registry}/enterprises`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, kind: 'LIMITED_LIABILITY', legalRepIdNumber: data.persons[0]!.idNumber, registeredCapital: 1_000_000, address: '泰安市泰山区东岳大街1号', industry: 'I65', scope: '软件开发；信息技术咨询服务' }),
    });
    if (res.status !== 201) throw new DemoStepError(step, `the sandbox answered ${res.status}: ${await res.text()}`);
    const creditCode = ((await res.json()) as { enterprise: { creditCode: string } }).enterprise.creditCode;
    out(`3. ${registry} registered ${name} in its own system, unified social credit code ${creditCode}`);

    // 4. The webhook delivery: Standard Webhooks signature against the hub's JWKS, the record under its department's seal.
    step = '4 the tax bureau\'s webhook delivery';
    const delivery = await waitFor(step, 'the webhook delivery', waitMs, () => receiver.received.find((d) => d.body.includes(creditCode)));
    const jwks = await tax.jwks();
    try {
      verifyWebhook(delivery.headers, delivery.body, { publicJwks: jwks as never });
      verifyWebhook(delivery.headers, delivery.body, { secret: webhook.secret });
    } catch (error) {
      throw new DemoStepError(step, `the signature does not verify: ${(error as Error).message}`);
    }
    const payload = JSON.parse(delivery.body) as { type: string; data: { data?: { departmentEvents?: { enterprise?: { status: string; seal: { issuer: string; token: string } } } } }; requestId: string };
    const pushed = payload.data.data?.departmentEvents?.enterprise;
    if (!pushed) throw new DemoStepError(step, `the delivery carries no enterprise: ${delivery.body.slice(0, 300)}`);
    const sealed = await tax.verifySeal(pushed.seal.token);
    if (!sealed.valid) throw new DemoStepError(step, `the seal does not verify: ${sealed.reason ?? 'invalid'}`);
    out(`4. tax-bureau's webhook received ${payload.type} (webhook-id ${delivery.headers['webhook-id']}): v1a signature verified against the hub's JWKS (key ${delivery.headers['webhook-key-id']}), v1 against its secret; status ${pushed.status}, sealed by ${pushed.seal.issuer}, seal verified`);

    // 5. The subscription's delivery, with its own receipt.
    step = '5 the social insurance bureau\'s subscription delivery';
    const streamed = await Promise.race([
      firstEvent,
      new Promise<never>((_, reject) => setTimeout(() => reject(new DemoStepError(step, `no delivery within ${Math.round(waitMs / 1000)} s`)), waitMs).unref()),
    ]);
    if (streamed.done) throw new DemoStepError(step, 'the stream ended before any delivery');
    expectNoErrors(step, streamed.value);
    const streamedEnterprise = streamed.value.data.departmentEvents.enterprise as { creditCode: string; seal: { issuer: string; token: string } };
    if (streamedEnterprise.creditCode !== creditCode) throw new DemoStepError(step, `it delivered ${streamedEnterprise.creditCode}, not ${creditCode}`);
    const [streamSeal, streamReceipt] = await Promise.all([socialSecurity.verifySeal(streamedEnterprise.seal.token), socialSecurity.verifyReply(streamed.value)]);
    if (!streamSeal.valid || !streamReceipt.valid) throw new DemoStepError(step, `seal ${streamSeal.valid ? 'valid' : streamSeal.reason}, receipt ${streamReceipt.valid ? 'valid' : streamReceipt.reason}`);
    out(`5. social-security-bureau's subscription received it too: seal by ${streamedEnterprise.seal.issuer} verified, the hub's receipt for this delivery verified`);
    await stream.iterator.return?.(undefined);
    stream.iterator = undefined;

    // 6. The push opened the tax bureau's case; it claims it (认领) and reports back (反馈).
    step = '6 the tax bureau\'s case';
    const cases = await tax.query<{ cases: { id: string; eventId: string; eventType: string; state: string; claimDeadline: string; feedbackDeadline: string }[] }>(CASES, {}, FEEDBACK);
    expectNoErrors(step, cases);
    const pushedCase = cases.data!.cases.find((c) => c.eventId === delivery.headers['webhook-id']);
    if (!pushedCase) throw new DemoStepError(step, 'the delivery opened no case');
    out(`6. the push opened case ${pushedCase.id} for tax-bureau (${pushedCase.state}): claim by ${pushedCase.claimDeadline}, report back by ${pushedCase.feedbackDeadline} (working days, 调休 included)`);
    step = '7 claim the case';
    const claimed = await tax.query<{ claimCase: { state: string; claimedBy: string; claimedLate: boolean } }>(CLAIM, { id: pushedCase.id }, FEEDBACK);
    expectNoErrors(step, claimed);
    out(`7. tax-bureau claimed it 认领: ${claimed.data!.claimCase.state} by ${claimed.data!.claimCase.claimedBy}${claimed.data!.claimCase.claimedLate ? ' (late)' : ', in time'}`);
    step = '8 report back';
    const reported = await tax.query<{ reportCase: { state: string; reportedBy: string; reportedLate: boolean } }>(REPORT, { id: pushedCase.id }, FEEDBACK);
    expectNoErrors(step, reported);
    out(`8. tax-bureau reported back 反馈: ${reported.data!.reportCase.state}, outcome INSPECTED_COMPLIANT${reported.data!.reportCase.reportedLate ? ' (late)' : ', in time'}`);

    // 9. The auditor's view: every step is a record of the access log, and the chain verifies.
    step = '9 the auditor\'s trail';
    const trail: any[] = [];
    for (const filter of [{ consumer: 'tax-bureau' }, { consumer: 'social-security-bureau' }]) {
      const page = await auditor.query<any>(ACCESS_LOG, { f: filter }, AUDIT);
      expectNoErrors(step, page);
      trail.push(...page.data.accessLog.edges.map((e: { node: unknown }) => e.node));
    }
    trail.sort((a, b) => a.seq - b.seq);
    const delivered = trail.filter((r) => r.correlationId === webhook.id);
    const steps = trail.flatMap((r) => r.changes.filter((c: { caseId: string }) => c.caseId === pushedCase.id).map((c: { action: string }) => c.action));
    if (delivered.length === 0 || steps.join(',') !== 'OPEN,CLAIM,REPORT') throw new DemoStepError(step, `expected the delivery and the case's OPEN, CLAIM, REPORT in the log; found ${delivered.length} deliveries and ${steps.join(', ') || 'no case steps'}`);
    out(`9. the auditor reads ${trail.length} records of these two departments in the access log (oldest first):`);
    const openings = new Set(trail.filter((r) => r.receiptId === null).map((r) => r.requestId));
    const kindOf = (r: any): string => {
      if (r.correlationId === webhook.id) return 'webhook delivery';
      if (openings.has(r.correlationId)) return 'stream delivery';
      if (openings.has(r.requestId)) return 'stream opened';
      return r.operationName ?? 'query';
    };
    for (const r of trail) {
      const read = r.fields.map((f: { department: string }) => f.department).join('+');
      const changed = r.changes.map((c: { action: string; to: string }) => `case ${c.action}→${c.to}`).join(', ');
      out(`   #${String(r.seq).padEnd(3)} ${r.consumer.padEnd(22)} ${kindOf(r).padEnd(16)} ${r.purpose.padEnd(18)} ${r.caseNumber.padEnd(16)} ${r.operator.padEnd(8)} ${r.outcome.padEnd(7)} ${(r.receiptId ? 'receipt' : 'no receipt').padEnd(10)} ${[read, changed].filter(Boolean).join('; ')}`);
    }
    step = '10 verify the access log';
    const report = await verifyAuditLog({ dir: config.audit.dir, verify: auditVerifier({ keyStore }) });
    if (!report.ok) throw new DemoStepError(step, `the log does not verify: ${report.problem ? `${report.problem.kind} at seq ${report.problem.seq}` : 'see datarun audit verify'}`);
    out(`10. the access log's hash chain verifies: ${report.records} records, ${report.checkpoints} signed tree head${report.checkpoints === 1 ? '' : 's'}`);
    out('every step held.');
    return 0;
  } finally {
    await stream.iterator?.return?.(undefined).catch(() => undefined);
    await running?.close();
    await receiver.close();
    if (options.keep) out(`kept ${dir} (keys, access log, webhooks, cases)`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
