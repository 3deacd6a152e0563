/**
 * Row E: department events delivered by one hub instance (审管联动 push). Changes are made at the
 * market-regulation sandbox (`POST /__sandbox/enterprises`: a new enterprise, one
 * ENTERPRISE_REGISTERED event each); the hub's change-feed poller reads them, and each event is
 * delivered through the pipeline to a receiver in this process:
 * - `webhook`: a webhook registered by a signed mutation of `tax-bureau` (ENTERPRISE_STARTUP) to
 *   a local HTTP server; each delivery runs the selection (policy, department read, seal, access
 *   record, receipt), is queued durably and signed per Standard Webhooks (secure mode only: a
 *   webhook needs a signed caller);
 * - `sse`: a subscription stream (`POST /graphql/stream`), signed opening in secure mode, open in
 *   unsecured mode.
 * Each round has a paced phase (changes a few per second: the latency from the change to the
 * delivery, with nothing queued) and a burst (K changes made while the sandbox holds its feed,
 * then released: the hub reads the backlog at its next poll; deliveries per second from the
 * first delivery of the burst to the last).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../src/push';
import { countCodes, mergeErrorCodes, NO_CODE, type ErrorCodes } from './error-codes';
import type { LoadResult } from './load';
import { coreBusySeconds, cpuMeter, sampleRss } from './proc-stats';
import type { RoundResult } from './report';
import type { HubMode } from './servers';

/** How a delivery reaches the bench. */
export type EventTransport = 'webhook' | 'sse';

/** The subscriber the deliveries are made for (the demo policy grants it these fields for this purpose). */
export const EVENT_SUBSCRIBER = { consumerId: 'tax-bureau', context: { purpose: 'ENTERPRISE_STARTUP', caseNumber: 'QYKB-2026-BENCH', operator: 'bench' } };

/** The selection each delivery runs; with the department's seal in secure mode ("unsigned": without it). */
export function eventSelection(sealed: boolean): string {
  return `subscription { departmentEvents(types: [ENTERPRISE_REGISTERED]) { id type occurredAt enterprise { creditCode name status${sealed ? ' seal { token }' : ''} } } }`;
}

/** What a delivery told us: which enterprise, when it arrived, whether it carried errors. */
interface Arrival {
  at: number;
  errors: boolean;
}

/** The deliveries received, by credit code (first arrival kept; a duplicate is counted). */
class Arrivals {
  readonly byCode = new Map<string, Arrival>();
  duplicates = 0;
  /** The errors deliveries carried, counted by `code: message` (lib/error-codes.ts). */
  readonly errorCodes: ErrorCodes = {};
  private waiters: (() => void)[] = [];

  add(reply: unknown, at: number): void {
    const r = reply as { data?: { departmentEvents?: { enterprise?: { creditCode?: string } } }; errors?: { message?: string; extensions?: { code?: string } }[] } | undefined;
    const code = r?.data?.departmentEvents?.enterprise?.creditCode;
    countCodes(this.errorCodes, (r?.errors ?? []).map((e) => `${e.extensions?.code ?? NO_CODE}: ${String(e.message).slice(0, 120)}`));
    if (!code) {
      this.byCode.set(`?${this.byCode.size}`, { at, errors: true });
    } else if (this.byCode.has(code)) {
      this.duplicates++;
    } else {
      this.byCode.set(code, { at, errors: (r?.errors?.length ?? 0) > 0 });
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once every code has arrived, or at the deadline (then some are missing). */
  async waitFor(codes: readonly string[], deadlineMs: number): Promise<void> {
    const until = performance.now() + deadlineMs;
    while (codes.some((c) => !this.byCode.has(c)) && performance.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** A receiver of deliveries: a webhook server or an SSE stream. */
interface Receiver {
  readonly arrivals: Arrivals;
  /** Problems the receiver saw (a signature that did not verify, a stream that ended). */
  readonly problems: string[];
  close(): Promise<void>;
}

/** Signs a request as the subscriber (secure mode). */
export type SignAs = (body: string) => string;

/**
 * Local webhook targets, one path per subscriber (`/hooks/bench/<i>`) on one server; the first
 * `verifyFirst` deliveries are checked against the hub's JWKS (v1a).
 */
async function startWebhookReceivers(jwksUrl: string, count: number, verifyFirst = 20): Promise<{ urls: string[]; receivers: Receiver[] }> {
  const arrivals = Array.from({ length: count }, () => new Arrivals());
  const problems: string[] = [];
  let jwks: unknown;
  let verified = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const target = arrivals[Number(/^\/hooks\/bench\/(\d+)$/.exec(req.url ?? '')?.[1] ?? -1)];
      if (!target) {
        problems.push(`a delivery to an unknown path ${req.url}`);
        res.writeHead(404).end();
        return;
      }
      res.writeHead(204).end();
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        const parsed = JSON.parse(body) as { data?: unknown };
        target.add(parsed.data, at);
      } catch {
        problems.push('a delivery that is not JSON');
      }
      if (verified < verifyFirst) {
        verified++;
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        void (async () => {
          jwks ??= await (await fetch(jwksUrl)).json();
          verifyWebhook(headers, body, { publicJwks: jwks as never });
        })().catch((error: unknown) => problems.push(`a delivery did not verify: ${(error as Error).message}`));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= new Promise((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  return {
    urls: arrivals.map((_, i) => `http://127.0.0.1:${port}/hooks/bench/${i}`),
    receivers: arrivals.map((a) => ({ arrivals: a, problems, close })),
  };
}

/** Registers the webhook with a signed mutation of the subscriber. */
async function registerWebhook(hubUrl: string, target: string, signAs: SignAs): Promise<void> {
  const body = JSON.stringify({
    query: 'mutation($url: String!, $s: String!) { registerWebhook(url: $url, subscription: $s) { id types } }',
    variables: { url: target, s: eventSelection(true) },
  });
  const res = await fetch(hubUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: signAs(body) }, body });
  const reply = (await res.json()) as { data?: { registerWebhook?: { id: string } }; errors?: unknown[] };
  if (!reply.data?.registerWebhook?.id) throw new Error(`the webhook could not be registered: ${JSON.stringify(reply).slice(0, 500)}`);
}

/** Opens a subscription stream (GraphQL over SSE) and reads its deliveries until closed. */
async function openStream(hubUrl: string, sealed: boolean, signAs: SignAs | undefined): Promise<Receiver> {
  const arrivals = new Arrivals();
  const problems: string[] = [];
  const controller = new AbortController();
  const body = JSON.stringify({ query: eventSelection(sealed) });
  const res = await fetch(`${hubUrl}/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(signAs ? { authorization: signAs(body) } : {}) },
    body,
    signal: controller.signal,
  });
  if (!res.ok || !res.body) throw new Error(`the subscription was refused: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const reading = (async () => {
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const at = performance.now();
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of message.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trimStart();
        }
        if (event === 'next' && data) {
          const reply = JSON.parse(data) as { errors?: { extensions?: { code?: string } }[] };
          if (reply.errors?.length && !(reply as { data?: unknown }).data) problems.push(`the stream ended: ${reply.errors[0]?.extensions?.code ?? 'error'}`);
          else arrivals.add(reply, at);
        } else if (event === 'complete') {
          problems.push('the stream completed');
        }
      }
    }
  })().catch((error: unknown) => {
    if (!controller.signal.aborted) problems.push(`the stream failed: ${(error as Error).message}`);
  });
  return {
    arrivals,
    problems,
    async close() {
      controller.abort();
      await reading;
    },
  };
}

/** Makes changes at the market-regulation sandbox: `count` new enterprises, at `perSecond` (paced) or `concurrency` at a time (burst). */
async function makeChanges(sandboxUrl: string, legalRepIdNumber: string, count: number, pace: { perSecond: number } | { concurrency: number }, serial: { next: number }): Promise<Map<string, number>> {
  const sent = new Map<string, number>();
  const one = async (): Promise<void> => {
    const n = serial.next++;
    const body = JSON.stringify({ name: `泰安事件压测${n}有限公司`, kind: 'LIMITED_LIABILITY', legalRepIdNumber, registeredCapital: 100_000, address: '泰安市泰山区东岳大街1号', industry: 'I65', scope: '软件开发' });
    // The change is timed from the moment it is sent (an upper bound of the latency by the sandbox's answer time).
    const at = performance.now();
    const res = await fetch(new URL('/__sandbox/enterprises', sandboxUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`the market-regulation sandbox refused a new enterprise: HTTP ${res.status} ${text.slice(0, 300)}`);
    sent.set((JSON.parse(text) as { enterprise: { creditCode: string } }).enterprise.creditCode, at);
  };
  if ('perSecond' in pace) {
    const start = performance.now();
    const running: Promise<void>[] = [];
    // The first failure is kept (and thrown once all are sent): a rejection is never left unhandled while the pacing waits.
    let failure: unknown;
    for (let i = 0; i < count && failure === undefined; i++) {
      const due = start + (i * 1000) / pace.perSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      running.push(one().catch((error: unknown) => void (failure ??= error)));
    }
    await Promise.all(running);
    if (failure !== undefined) throw failure;
  } else {
    let left = count;
    await Promise.all(
      Array.from({ length: Math.min(pace.concurrency, count) }, async () => {
        while (left > 0) {
          left--;
          await one();
        }
      }),
    );
  }
  return sent;
}

/** Holds the sandbox's change feed (and every data route: nothing is read from it meanwhile) by answering 503, or releases it (`POST /__sandbox/faults`; the change routes are untouched). */
async function setFeedHeld(sandboxUrl: string, held: boolean): Promise<void> {
  const res = await fetch(new URL('/__sandbox/faults', sandboxUrl), { method: 'POST', body: JSON.stringify({ errorRate: held ? 1 : 0 }) });
  if (!res.ok) throw new Error(`could not ${held ? 'hold' : 'release'} the market-regulation sandbox's feed: HTTP ${res.status}`);
}

const percentile = (sorted: readonly number[], p: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);

/** Latencies (ms) of the deliveries of the changes to every receiver, sorted; and how many did not arrive / arrived with errors. */
function latencies(sent: Map<string, number>, receivers: readonly Receiver[]): { sorted: number[]; delivered: number; missing: number; withErrors: number; first: number; last: number } {
  const values: number[] = [];
  let missing = 0;
  let withErrors = 0;
  let first = Infinity;
  let last = 0;
  for (const { arrivals } of receivers) {
    for (const [code, at] of sent) {
      const arrival = arrivals.byCode.get(code);
      if (!arrival) {
        missing++;
        continue;
      }
      if (arrival.errors) withErrors++;
      values.push(arrival.at - at);
      first = Math.min(first, arrival.at);
      last = Math.max(last, arrival.at);
    }
  }
  return { sorted: values.sort((a, b) => a - b), delivered: values.length, missing, withErrors, first, last };
}

/** The errors every receiver's deliveries carried, counted. */
function errorCounts(receivers: readonly Receiver[]): ErrorCodes {
  return mergeErrorCodes(receivers.map((r) => r.arrivals.errorCodes));
}

/** Waits until every receiver has every change, or the deadline. */
async function waitForAll(receivers: readonly Receiver[], sent: Map<string, number>, deadlineMs: number): Promise<void> {
  const codes = [...sent.keys()];
  const until = performance.now() + deadlineMs;
  for (const r of receivers) await r.arrivals.waitFor(codes, Math.max(0, until - performance.now()));
}

/** The hub's configuration file for row E: the receiver's loopback target allowed, no stream ends for lagging in a burst, the feeds polled every `pollMs`. */
export function eventHubConfig(pollMs: number, webhookConcurrency?: number): Record<string, unknown> {
  return {
    webhooks: { allow: [{ url: 'http://127.0.0.1:*/hooks/*', allowPrivate: true }], ...(webhookConcurrency ? { concurrency: webhookConcurrency } : {}) },
    subscriptions: { maxPending: 100_000 },
    cache: { invalidationPollMs: pollMs },
  };
}

/** One event row's settings. */
export interface EventPlan {
  /** Changes per burst (one burst per round). */
  burst: number;
  /** Parallel change requests during a burst. */
  burstConcurrency: number;
  /** Changes of the paced phase, and their rate. */
  paced: number;
  pacedPerSecond: number;
  /** Changes before measuring (the code paths run once). */
  warmup: number;
  /** Subscribers (streams or webhooks), each delivered every event. */
  subscribers: number;
  rounds: number;
  /** Longest wait for the deliveries of a phase. */
  deadlineMs: number;
}

/** What one event row measured beyond its rounds: latency of the burst's events too. */
export interface EventRowExtra {
  transport: EventTransport;
  mode: HubMode;
  burstLatencyMs: { p50: number; p99: number };
  duplicates: number;
  /** Errors the deliveries carried (code: message), counted. */
  errors: Record<string, number>;
  problems: string[];
}

/**
 * Runs row E on one running hub: connects the receiver (webhook or stream), warms up, then per
 * round a paced phase (latency) and a burst (events/s, server CPU per event).
 */
export async function runEventRow(options: {
  hubUrl: string;
  hubPid: number;
  mode: HubMode;
  transport: EventTransport;
  sandboxUrl: string;
  legalRepIdNumber: string;
  signAs: SignAs | undefined;
  plan: EventPlan;
  serial: { next: number };
  /** CPU of the department sandboxes during a burst. */
  departmentCpu?: () => { stop(): number };
  /** The hub runs alone on core 0: a burst during which other processes used ≥ `disturbedPercent` of core 0 is run again (at most `maxDiscarded` times per row). */
  pinnedToCore0?: boolean;
  disturbedPercent?: number;
  maxDiscarded?: number;
  log: (line: string) => void;
}): Promise<{ rounds: RoundResult[]; discarded: number; extra: EventRowExtra }> {
  const { plan, mode, transport } = options;
  const sealed = options.signAs !== undefined;
  const receivers: Receiver[] = [];
  const problems = (): string[] => [...new Set(receivers.flatMap((r) => r.problems))];
  const change = (count: number, pace: { perSecond: number } | { concurrency: number }): Promise<Map<string, number>> => makeChanges(options.sandboxUrl, options.legalRepIdNumber, count, pace, options.serial);
  const check = (what: string, sent: Map<string, number>): ReturnType<typeof latencies> => {
    const result = latencies(sent, receivers);
    if (problems().length > 0) throw new Error(`E ${transport} ${mode}, ${what}: ${problems().join('; ')}`);
    return result;
  };
  try {
    if (transport === 'webhook') {
      if (!options.signAs) throw new Error('a webhook is registered by a signed caller: the webhook row runs in a signed mode only');
      const hooks = await startWebhookReceivers(new URL('/.well-known/jwks.json', options.hubUrl).toString(), plan.subscribers);
      receivers.push(...hooks.receivers);
      for (const url of hooks.urls) await registerWebhook(options.hubUrl, url, options.signAs);
    } else {
      for (let i = 0; i < plan.subscribers; i++) receivers.push(await openStream(options.hubUrl, sealed, options.signAs));
    }
    if (plan.warmup > 0) {
      const sent = await change(plan.warmup, { concurrency: 4 });
      await waitForAll(receivers, sent, plan.deadlineMs);
      const w = check('warm-up', sent);
      if (w.missing > 0) throw new Error(`E ${transport} ${mode}: ${w.missing} of ${plan.warmup * receivers.length} warm-up deliveries did not arrive within ${plan.deadlineMs} ms`);
    }
    const rounds: RoundResult[] = [];
    const burstLatencies: number[] = [];
    let discarded = 0;
    for (let r = 0; r < plan.rounds; r++) {
      const paced = await change(plan.paced, { perSecond: plan.pacedPerSecond });
      await waitForAll(receivers, paced, plan.deadlineMs);
      const p = check('paced', paced);
      // The burst is made while the feed answers 503 (the hub's polls fail and try again), then the feed is released: the hub
      // reads the whole backlog at its next poll, so the rate measured is the hub's, not that of the bench making changes.
      const changing = performance.now();
      await setFeedHeld(options.sandboxUrl, true);
      let burst: Map<string, number>;
      try {
        burst = await change(plan.burst, { concurrency: plan.burstConcurrency });
      } finally {
        await setFeedHeld(options.sandboxUrl, false);
      }
      const changedSec = (performance.now() - changing) / 1000;
      const rss = sampleRss(options.hubPid);
      const serverCpu = cpuMeter([options.hubPid]);
      const departmentsCpu = options.departmentCpu?.();
      const coresBefore = coreBusySeconds();
      const start = performance.now();
      await waitForAll(receivers, burst, plan.deadlineMs);
      const cpu = serverCpu.stop();
      const departmentSec = departmentsCpu?.stop() ?? 0;
      const wallSec = (performance.now() - start) / 1000;
      const coreBusyPercent = coreBusySeconds().map((busy, i) => (100 * (busy - (coresBefore[i] ?? busy))) / wallSec);
      const foreignCore0Percent = options.pinnedToCore0 && coreBusyPercent[0] !== undefined ? Math.max(0, coreBusyPercent[0] - (100 * cpu) / wallSec) : undefined;
      const memory = rss.stop();
      const b = check('burst', burst);
      if ((foreignCore0Percent ?? 0) >= (options.disturbedPercent ?? Infinity) && discarded < (options.maxDiscarded ?? 0)) {
        discarded++;
        options.log(`  E ${transport} ${mode}: round disturbed (${foreignCore0Percent!.toFixed(0)} % of core 0 used outside the benchmark), running it again`);
        r--;
        continue;
      }
      // Queued latency: from the feed's release to each delivery.
      for (const { arrivals } of receivers) {
        for (const code of burst.keys()) {
          const arrival = arrivals.byCode.get(code);
          if (arrival) burstLatencies.push(arrival.at - start);
        }
      }
      // From the first delivery of the burst to the last: the hub delivering a backlog, without the wait for its next poll.
      const durationSec = Math.max(1e-3, (b.last - b.first) / 1000);
      const delivered = b.delivered;
      const load: LoadResult = {
        requests: delivered,
        durationSec,
        reqPerSec: Math.max(0, delivered - 1) / durationSec,
        latencyMs: { p50: percentile(p.sorted, 50), p90: percentile(p.sorted, 90), p99: percentile(p.sorted, 99), mean: p.sorted.reduce((s, v) => s + v, 0) / Math.max(1, p.sorted.length), max: p.sorted.at(-1) ?? NaN },
        non2xx: 0,
        errors: b.missing + p.missing,
        timeouts: 0,
        graphqlErrors: b.withErrors + p.withErrors,
        cpuSec: 0,
      };
      options.log(`  E ${transport} ${mode} round ${r + 1}: ${plan.burst} changes in ${changedSec.toFixed(1)} s, released, ${delivered} deliveries to ${receivers.length} subscriber(s) from the first to the last in ${durationSec.toFixed(1)} s = ${load.reqPerSec.toFixed(0)} events/s; paced latency p50 ${load.latencyMs.p50.toFixed(0)} ms p99 ${load.latencyMs.p99.toFixed(0)} ms`);
      rounds.push({ load, rssPeakMiB: memory.peakMiB, rssMeanMiB: memory.meanMiB, cpuSec: { server: cpu, departments: departmentSec, loadGenerator: 0 }, coreBusyPercent, ...(foreignCore0Percent !== undefined ? { foreignCore0Percent } : {}) });
    }
    burstLatencies.sort((a, b) => a - b);
    return {
      rounds,
      discarded,
      extra: { transport, mode, burstLatencyMs: { p50: percentile(burstLatencies, 50), p99: percentile(burstLatencies, 99) }, duplicates: receivers.reduce((n, r) => n + r.arrivals.duplicates, 0), errors: errorCounts(receivers), problems: problems() },
    };
  } finally {
    await Promise.all(receivers.map((r) => r.close()));
  }
}
