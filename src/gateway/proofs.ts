/**
 * Proofs 无证明 in the gateway: `issueProof` asks the owning department, through its connector and
 * never the cache, whether the kind's statement holds for the subject now, and issues it as an
 * SD-JWT VC signed with the department's own key (src/proofs), with an entry in a status list the
 * hub signs and publishes (`GET /status/<list>`). Every issued proof is kept, with the subjects
 * it rests on, so that a department event that changes the fact revokes it: the feed's poller
 * calls `revokeFor` before the feed's cursor moves (a crash re-reads the page and revokes again),
 * for each event of a type the kind is `revokedBy`, about the proof's subject or one it rests on
 * (`dependsOn`, `affectedSubjects`). docs/proofs.md.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { AuditChange } from '../audit';
import {
  createSharedStatusListStore,
  createStatusListAllocator,
  createStatusListSigner,
  issueProofBundle,
  issueProofVc,
  joinProofBundle,
  maskIdentifier,
  splitProofBundle,
  verifyProofBundle,
  openFileStatusListStore,
  verifyProof,
  signStatusListToken,
  STATUS,
  type ProofVerified,
  type StatusEntry,
  type StatusListAllocator,
} from '../proofs';
import { BadUserInputError, HubError, HubErrorCode, type Connector, type ConnectorModule, type ProofFacts, type ProofKindSpec, type ProofSubject } from '../sdk';
import { checkPublicJwk, type KeyStore } from '../seal';
import type { SharedState } from '../state';
import { ConfigError } from './config';
import type { HubEvent } from './events';
import type { ProofDisplay, ProofPagesSource } from './proof-pages';
import type { Caller, RequestContext } from './request-context';

/** A kind the hub can issue: its declaration and the connector that establishes it. */
export interface HubProofKind {
  readonly spec: ProofKindSpec;
  readonly department: string;
  readonly connector: Connector;
}

/**
 * A bundle kind: the departments' own proofs of `parts`, issued together for one subject and
 * purpose, under an envelope the hub signs (src/proofs bundles). Offered when every part is.
 */
export interface ProofBundleSpec {
  readonly kind: string;
  /** Chinese first, then English. */
  readonly title: string;
  readonly subject: 'PERSON' | 'ENTERPRISE';
  /** The part kinds, in the envelope's order. */
  readonly parts: readonly string[];
  /** The envelope's validity; never beyond a part's. */
  readonly validityDays: number;
}

/** The bundles the hub knows, each offered when the connectors declare all its parts. */
export const PROOF_BUNDLES: readonly ProofBundleSpec[] = Object.freeze([
  {
    kind: 'ENTERPRISE_GOOD_STANDING',
    title: '企业良好信用状态证明 Certificate of enterprise good standing',
    subject: 'ENTERPRISE',
    // Market regulation: registered, in operation, off the abnormal list; tax: no arrears.
    parts: ['ENTERPRISE_REGISTRATION', 'NO_TAX_ARREARS'],
    validityDays: 30,
  },
]);

/** The bundles of `PROOF_BUNDLES` whose parts the hub's connectors all establish. */
export function offeredProofBundles(kinds: ReadonlyMap<string, HubProofKind>, bundles: readonly ProofBundleSpec[] = PROOF_BUNDLES): Map<string, ProofBundleSpec> {
  const offered = new Map<string, ProofBundleSpec>();
  for (const bundle of bundles) {
    if (kinds.has(bundle.kind)) throw new ConfigError(`Proof kind ${bundle.kind} is declared by "${kinds.get(bundle.kind)!.department}", but it is the hub's bundle of ${bundle.parts.join(' and ')}.`);
    if (bundle.parts.every((part) => kinds.get(part)?.spec.subject === bundle.subject || kinds.get(part)?.spec.subjects?.includes(bundle.subject))) offered.set(bundle.kind, bundle);
  }
  return offered;
}

/** The SDL adding the offered bundles to the graph's `ProofKind` (empty when none is offered). */
export function proofBundlesSdl(bundles: ReadonlyMap<string, ProofBundleSpec>): string[] {
  return [...bundles.values()].map((b) => `extend enum ProofKind {\n  "${b.title} (the hub's bundle of ${b.parts.join(' and ')})"\n  ${b.kind}\n}\n`);
}

/** A proof as `issueProof` returns it. */
export interface IssuedHubProof {
  readonly kind: string;
  readonly title: string;
  /** The department whose key signed it; for a bundle, the hub. */
  readonly department: string;
  /** The SD-JWT VC, every claim disclosable (the holder chooses what to show); a bundle: `<envelope>,<part>,…`. */
  readonly token: string;
  readonly asOf: string;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly holderBinding: 'cnf' | 'none';
  readonly statusList: string;
  readonly statusIndex: number;
  /** The hub's reference of the kept proof: its printable page is `/p/<reference>`. */
  readonly reference: string;
  /** A bundle's parts, each a department's proof; absent for a department's own proof. */
  readonly parts?: readonly IssuedHubProof[];
}

/** The settings of proofs (`proofs.*`). */
export interface ProofsSettings {
  /** The hub's public base URL, for the status lists' URIs and the printable pages; else the HTTP server's own. */
  readonly baseUrl?: string;
  /** Entries per status list (herd privacy: at least 16 384). */
  readonly statusListSize: number;
  /** How long a verifier may cache a status list token, in seconds. */
  readonly statusTtlSeconds: number;
  /** Where the embedded registry and status lists live. */
  readonly dir: string;
}

/** The proofs of one gateway. */
export interface HubProofs {
  readonly kinds: ReadonlyMap<string, HubProofKind>;
  /** The bundle kinds offered (their parts are all among `kinds`). */
  readonly bundles: ReadonlyMap<string, ProofBundleSpec>;
  /** How long a verifier may cache a status list (`proofs.statusTtlSeconds`). */
  readonly statusTtlSeconds: number;
  issue(ctx: RequestContext, input: { kind: string; subject: ProofSubject; holderKey?: string }): Promise<IssuedHubProof>;
  /** The signed Status List Token of list `list`, or undefined for a list never used. */
  statusListToken(list: number): Promise<string | undefined>;
  /** Revokes every live proof the events change (their connector's kinds `revokedBy` their types); resolves to how many. */
  revokeFor(connectorId: string, events: readonly HubEvent[], signal: AbortSignal): Promise<number>;
  /** A kept proof's token by its reference, while it is valid. */
  byReference(reference: string): Promise<string | undefined>;
  /** The base URL the HTTP server listens at, when `proofs.baseUrl` is not set. */
  setBaseUrl(url: string): void;
  /** What the printable page and `/verify` show (src/http): a token verified against the hub's keys and its own status lists, labelled. */
  readonly pages: ProofPagesSource;
  close(): Promise<void>;
}

/** What the hub keeps of an issued proof. */
interface IssuedRecord {
  readonly reference: string;
  readonly kind: string;
  readonly department: string;
  readonly list: number;
  readonly idx: number;
  /** `KIND:id` of the subject and every subject it rests on. */
  readonly subjects: readonly string[];
  readonly expiresAt: number;
  readonly token: string;
  readonly revoked?: string;
  /** A bundle's part kinds: revoking a part revokes the bundle. */
  readonly partKinds?: readonly string[];
}

/** Where issued proofs are kept: one file embedded, shared documents with several instances. */
interface ProofRegistry {
  add(record: IssuedRecord): Promise<void>;
  bySubject(key: string): Promise<IssuedRecord[]>;
  byReference(reference: string): Promise<IssuedRecord | undefined>;
  revoke(reference: string, reason: string): Promise<void>;
  close(): void;
}

const subjectKey = (s: ProofSubject): string => `${s.kind}:${s.id}`;

/** One instance: an append-only file, every line fsync'd before the call returns, read whole at start. */
function fileRegistry(dir: string): ProofRegistry {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'issued.jsonl');
  const records = new Map<string, IssuedRecord>();
  const bySubject = new Map<string, Set<string>>();
  const index = (record: IssuedRecord): void => {
    records.set(record.reference, record);
    for (const key of record.subjects) {
      let refs = bySubject.get(key);
      if (!refs) bySubject.set(key, (refs = new Set()));
      refs.add(record.reference);
    }
  };
  if (existsSync(file)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let entry: { add?: IssuedRecord; revoke?: { reference: string; reason: string } };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        // A line cut short by a crash is the last one: what it was writing never returned.
        if (i >= lines.length - 2) return;
        throw new ConfigError(`The proof registry ${file} is damaged at line ${i + 1}: restore it from a backup.`);
      }
      if (entry.add) index(entry.add);
      else if (entry.revoke) {
        const found = records.get(entry.revoke.reference);
        if (found) records.set(found.reference, { ...found, revoked: entry.revoke.reason });
      }
    });
  }
  // Opened for each line only: issuances are few, and nothing stays open for writing between them.
  const append = (entry: unknown): void => {
    const fd = openSync(file, 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(entry)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  };
  return {
    async add(record) {
      append({ add: record });
      index(record);
    },
    async bySubject(key) {
      return [...(bySubject.get(key) ?? [])].map((ref) => records.get(ref)!);
    },
    async byReference(reference) {
      return records.get(reference);
    },
    async revoke(reference, reason) {
      const found = records.get(reference);
      if (!found || found.revoked) return;
      append({ revoke: { reference, reason } });
      records.set(reference, { ...found, revoked: reason });
    },
    close: () => undefined,
  };
}

/** Several instances: the shared documents, indexed by subject. */
function sharedRegistry(state: SharedState): ProofRegistry {
  const docs = state.documents('proofs');
  const parse = (value: string): IssuedRecord => JSON.parse(value) as IssuedRecord;
  return {
    async add(record) {
      await docs.create(record.reference, JSON.stringify(record), record.subjects.map((k) => `s:${k}`));
    },
    async bySubject(key) {
      const ids = await docs.members(`s:${key}`);
      return (await docs.getMany(ids)).filter((d) => d !== undefined).map((d) => parse(d!.value));
    },
    async byReference(reference) {
      const found = await docs.get(reference);
      return found ? parse(found.value) : undefined;
    },
    async revoke(reference, reason) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const found = await docs.get(reference);
        if (!found) return;
        const record = parse(found.value);
        if (record.revoked) return;
        if (await docs.replace(reference, found.version, JSON.stringify({ ...record, revoked: reason }))) return;
      }
    },
    close: () => undefined,
  };
}

/** The kinds the modules declare, each with the connector that establishes it (a kind declared twice is refused). */
export function declaredProofKinds(modules: readonly Pick<ConnectorModule, 'id' | 'proofs'>[], connectors: readonly Connector[]): Map<string, HubProofKind> {
  const kinds = new Map<string, HubProofKind>();
  for (const module of modules) {
    const connector = connectors.find((c) => c.id === module.id);
    if (!connector) continue;
    for (const spec of module.proofs ?? []) {
      const other = kinds.get(spec.kind);
      if (other) throw new ConfigError(`Proof kind ${spec.kind} is declared by both "${other.department}" and "${module.id}": proof kinds are unique across the hub.`);
      if (!connector.proofs) throw new ConfigError(`Connector "${module.id}" declares proof kind ${spec.kind} but establishes none (Connector.proofs is missing).`);
      kinds.set(spec.kind, { spec, department: module.id, connector });
    }
  }
  return kinds;
}

/** Starts the proofs of a gateway over its connectors. */
export function startProofs(options: {
  kinds: ReadonlyMap<string, HubProofKind>;
  bundles?: ReadonlyMap<string, ProofBundleSpec>;
  settings: ProofsSettings;
  state: SharedState;
  keyStore: KeyStore;
  /** A purpose code as people read it (the pages' 事由), e.g. from the policy's purpose registry. */
  purposeName?: (code: string) => string | undefined;
  now?: () => Date;
  /** Wraps the status list allocator the proofs use (tests inject a failing allocation through it). @default as built */
  wrapAllocator?: (allocator: StatusListAllocator) => StatusListAllocator;
}): HubProofs {
  const { kinds, settings, state, keyStore } = options;
  const bundles = options.bundles ?? new Map<string, ProofBundleSpec>();
  const now = options.now ?? (() => new Date());
  const registry = state.mode === 'memory' ? fileRegistry(settings.dir) : sharedRegistry(state);
  const store =
    state.mode === 'memory'
      ? openFileStatusListStore({ dir: path.join(settings.dir, 'status-lists'), size: settings.statusListSize })
      : createSharedStatusListStore({ bitmaps: state.bits('status-lists'), size: settings.statusListSize });
  const built = createStatusListAllocator({ store });
  const allocator: StatusListAllocator = options.wrapAllocator ? options.wrapAllocator(built) : built;
  const signer = createStatusListSigner({ keyStore });
  let baseUrl = settings.baseUrl?.replace(/\/+$/, '');

  const listUri = (list: number): string => {
    if (!baseUrl) throw new HubError(HubErrorCode.INTERNAL_SERVER_ERROR, 'The hub does not know its public URL for status lists: set proofs.baseUrl.');
    return `${baseUrl}/status/${list}`;
  };

  const statusListToken = async (list: number): Promise<string | undefined> => {
    if (!Number.isSafeInteger(list) || list < 0) return undefined;
    // A list no proof has an entry in is not published (nothing refers to it).
    if ((await store.claimedCount(list).catch(() => 0)) === 0) return undefined;
    const snapshot = await allocator.snapshot(list).catch(() => undefined);
    if (!snapshot) return undefined;
    return signStatusListToken({ uri: listUri(list), bits: allocator.bits, statuses: snapshot.bytes, packed: true, ttlSeconds: settings.statusTtlSeconds, sign: signer, now: now() });
  };

  /** Only this hub's own lists: /verify never fetches a URL a pasted proof names (no SSRF). */
  const ownStatusList = async (uri: string): Promise<string> => {
    const prefix = baseUrl ? `${baseUrl}/status/` : undefined;
    const list = prefix && uri.startsWith(prefix) ? Number(uri.slice(prefix.length)) : Number.NaN;
    const token = Number.isInteger(list) ? await statusListToken(list) : undefined;
    if (!token) throw new HubError(HubErrorCode.NOT_FOUND, 'not a status list of this hub');
    return token;
  };

  const pages: ProofPagesSource = {
    get publicUrl() {
      return baseUrl ?? '';
    },
    byReference: (reference) => byReference(reference),
    async display(token): Promise<ProofDisplay> {
      const verifyOptions = { keys: { keyStore }, statusList: ownStatusList, allowMissingKeyBinding: true, now: now() };
      const bundle = splitProofBundle(token);
      if (bundle) {
        const checked = await verifyProofBundle(bundle.envelope, bundle.parts, verifyOptions);
        if (!checked.valid) return { result: checked.partReason ? { valid: false, reason: checked.partReason, detail: checked.detail } : checked };
        const spec = bundles.get(checked.kind);
        const [title, titleEn] = spec ? splitTitle(spec.title) : [undefined, undefined];
        const parts = checked.parts.map((part) => labelled(part));
        const first = checked.parts[0]!;
        const result: ProofVerified = {
          ...first,
          kind: checked.kind,
          vct: `urn:datarun:proof-bundle:${checked.kind}`,
          department: keyStore.hubId,
          purpose: checked.purpose,
          // What the bundle states held at the earliest of its parts' times.
          asOf: new Date(Math.min(...checked.parts.map((p) => p.asOf.getTime()))),
          issuedAt: checked.issuedAt,
          expiresAt: checked.expiresAt,
          disclosed: {},
          holderBound: checked.parts.every((p) => p.holderBound),
          status: checked.status,
          ...(checked.parts.some((p) => p.keyBindingMissing) ? { keyBindingMissing: true as const } : {}),
        };
        const id = parts.map((p) => p.subject).find((s) => s !== undefined);
        const purposeName = options.purposeName?.(checked.purpose);
        return { result, parts, ...(title ? { title } : {}), ...(titleEn ? { titleEn } : {}), departmentName: '数据共享平台 datarun hub', ...(purposeName ? { purposeName } : {}), ...(id ? { subject: id } : {}) };
      }
      const result = await verifyProof(token, verifyOptions);
      return result.valid ? labelled(result) : { result };
    },
  };

  /** A verified proof with the names people read. */
  function labelled(result: ProofVerified): ProofDisplay {
    const found = kinds.get(result.kind);
    const [title, titleEn] = found ? splitTitle(found.spec.title) : [undefined, undefined];
    const owner = keyStore.owner(result.department);
    const id = identifierOf(result.disclosed);
    const purposeName = options.purposeName?.(result.purpose);
    return {
      result,
      ...(title ? { title } : {}),
      ...(titleEn ? { titleEn } : {}),
      ...(owner?.name ? { departmentName: chineseFirst(owner.name) } : {}),
      ...(purposeName ? { purposeName } : {}),
      ...(found?.spec.claimLabels ? { claimLabels: found.spec.claimLabels } : {}),
      // The page names the subject's kind itself.
      ...(id ? { subject: maskIdentifier(id) } : {}),
    };
  }

  async function byReference(reference: string): Promise<string | undefined> {
    if (typeof reference !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(reference)) return undefined;
    const record = await registry.byReference(reference);
    return record && !record.revoked && record.expiresAt > now().getTime() ? record.token : undefined;
  }

  /** The department, now: never the cache (the proof states when the department answered). */
  async function establish(found: HubProofKind, subject: ProofSubject, signal: AbortSignal): Promise<ProofFacts> {
    const facts = await found.connector.proofs!.establish(found.spec.kind, subject, signal);
    if (!facts.holds) throw new HubError(HubErrorCode.PROOF_NOT_ESTABLISHED, `${found.department} does not establish ${found.spec.kind} for this ${subject.kind.toLowerCase()}${facts.reason ? `: ${facts.reason}` : ''}.`);
    return facts;
  }

  /** Issues a department's proof of established facts under a status entry taken for it: the SD-JWT VC, the kept record, the audit change. */
  async function mint(ctx: RequestContext, caller: Caller, found: HubProofKind, subject: ProofSubject, facts: ProofFacts, holderJwk: Record<string, unknown> | undefined, entry: StatusEntry): Promise<Minted> {
    const { spec, department } = found;
    const uri = listUri(entry.list);
    const issued = issueProofVc({
      keyStore,
      department,
      kind: spec.kind,
      purpose: caller.purpose,
      asOf: new Date(facts.asOf),
      subjectKind: subject.kind,
      claims: facts.claims,
      validitySeconds: spec.validityDays * 86_400,
      ...(holderJwk ? { holderJwk: holderJwk as never } : {}),
      status: { idx: entry.idx, uri },
      now: now(),
    });
    const reference = randomBytes(16).toString('base64url');
    const subjects = [...new Set([subjectKey(subject), ...(facts.dependsOn ?? []).map(subjectKey)])];
    await registry.add({ reference, kind: spec.kind, department, list: entry.list, idx: entry.idx, subjects, expiresAt: issued.expiresAt.getTime(), token: issued.token });
    // The issuance is a state change of this request: its access record carries it.
    const change: AuditChange = { entity: 'proof', action: 'ISSUE', kind: spec.kind, department, reference, statusList: uri, statusIndex: entry.idx, at: issued.issuedAt.toISOString() };
    (ctx.auditChanges ??= []).push(change);
    return {
      subjects,
      issued: {
        kind: spec.kind,
        title: spec.title,
        department,
        token: issued.token,
        asOf: facts.asOf,
        issuedAt: issued.issuedAt.toISOString(),
        expiresAt: issued.expiresAt.toISOString(),
        holderBinding: issued.holderBinding,
        statusList: uri,
        statusIndex: entry.idx,
        reference,
      },
    };
  }

  return {
    kinds,
    bundles,
    statusTtlSeconds: settings.statusTtlSeconds,
    pages,
    setBaseUrl(url) {
      baseUrl ??= url.replace(/\/+$/, '');
    },
    async issue(ctx, input) {
      const caller: Caller | null = ctx.caller;
      if (!caller) throw new HubError(HubErrorCode.FORBIDDEN, 'Proofs are issued to a signed request of a consumer, for its stated purpose.');
      const bundle = bundles.get(input.kind);
      const found = kinds.get(input.kind);
      if (!found && !bundle) throw new BadUserInputError('kind', `is ${JSON.stringify(input.kind)}, which no department of this hub issues`);
      const subjectKinds = bundle ? [bundle.subject] : (found!.spec.subjects ?? [found!.spec.subject]);
      if (!subjectKinds.includes(input.subject.kind)) {
        throw new BadUserInputError(input.subject.kind === 'PERSON' ? 'idNumber' : 'creditCode', `names a ${input.subject.kind.toLowerCase()}, but a ${input.kind} proof is about ${subjectKinds.map((k) => `a ${k.toLowerCase()}`).join(' or ')}`);
      }
      const holderJwk = holderKeyOf(input.holderKey);
      if (!bundle) {
        const facts = await establish(found!, input.subject, ctx.signal);
        return (await mint(ctx, caller, found!, input.subject, facts, holderJwk, await allocator.allocate())).issued;
      }
      // Every department is asked first, and every status entry (the parts' and the envelope's) taken before
      // anything is signed or kept: nothing is issued unless every part holds and every entry could be had.
      // (An entry taken and left unused is never referred to: it stays "valid" and means nothing.)
      const partKinds = bundle.parts.map((kind) => kinds.get(kind)!);
      const facts = await Promise.all(partKinds.map((kind) => establish(kind, input.subject, ctx.signal)));
      const entries = await Promise.all([...partKinds, bundle].map(() => allocator.allocate()));
      const entry = entries[partKinds.length]!;
      const minted: Minted[] = [];
      for (const [i, kind] of partKinds.entries()) minted.push(await mint(ctx, caller, kind, input.subject, facts[i]!, holderJwk, entries[i]!));
      const parts = minted.map((m) => m.issued);
      const uri = listUri(entry.list);
      const issuedAt = now();
      const expiresAt = Math.min(issuedAt.getTime() + bundle.validityDays * 86_400_000, ...parts.map((p) => Date.parse(p.expiresAt)));
      const envelope = issueProofBundle({ keyStore, kind: bundle.kind, subject: input.subject.id, purpose: caller.purpose, parts: parts.map((p) => p.token), expiresAt, status: { idx: entry.idx, uri }, now: issuedAt });
      const token = joinProofBundle(envelope.envelope, parts.map((p) => p.token));
      const reference = randomBytes(16).toString('base64url');
      const subjects = [...new Set(minted.flatMap((m) => m.subjects))];
      await registry.add({ reference, kind: bundle.kind, department: keyStore.hubId, list: entry.list, idx: entry.idx, subjects, expiresAt: envelope.expiresAt.getTime(), token, partKinds: bundle.parts });
      const change: AuditChange = { entity: 'proof', action: 'ISSUE', kind: bundle.kind, department: keyStore.hubId, reference, statusList: uri, statusIndex: entry.idx, at: envelope.issuedAt.toISOString() };
      (ctx.auditChanges ??= []).push(change);
      return {
        kind: bundle.kind,
        title: bundle.title,
        department: keyStore.hubId,
        token,
        // What the bundle states held at the earliest of its parts' times.
        asOf: parts.map((p) => p.asOf).sort((x, y) => Date.parse(x) - Date.parse(y))[0]!,
        issuedAt: envelope.issuedAt.toISOString(),
        expiresAt: envelope.expiresAt.toISOString(),
        holderBinding: parts[0]!.holderBinding,
        statusList: uri,
        statusIndex: entry.idx,
        reference,
        parts,
      };
    },
    statusListToken,
    async revokeFor(connectorId, events, signal) {
      let revoked = 0;
      const ofConnector = [...kinds.values()].filter((k) => k.department === connectorId && (k.spec.revokedBy?.length ?? 0) > 0);
      if (ofConnector.length === 0) return 0;
      for (const event of events) {
        const revoking = new Set(ofConnector.filter((k) => k.spec.revokedBy!.includes(event.type)).map((k) => k.spec.kind));
        if (revoking.size === 0) continue;
        const establisher = ofConnector[0]!.connector.proofs!;
        const affected = [event.subject, ...((await establisher.affectedSubjects?.(event, signal)) ?? [])];
        const at = now().getTime();
        for (const key of new Set(affected.map(subjectKey))) {
          for (const record of await registry.bySubject(key)) {
            // A bundle falls with any of its parts.
            if (record.revoked || record.expiresAt <= at || !(revoking.has(record.kind) || record.partKinds?.some((k) => revoking.has(k)))) continue;
            await allocator.setStatus(record.list, record.idx, STATUS.INVALID);
            await registry.revoke(record.reference, `${event.type} ${event.id}`);
            revoked++;
          }
        }
      }
      return revoked;
    },
    byReference,
    async close() {
      registry.close();
      await store.close();
    },
  };
}

/** A part issued for a bundle, or a proof, with the subjects it rests on. */
interface Minted {
  readonly issued: IssuedHubProof;
  readonly subjects: readonly string[];
}

/** The holder's public key from `issueProof`'s `holderKey`; a key it cannot bind to is refused, naming why, never issued unbound. */
function holderKeyOf(holderKey: string | undefined): Record<string, unknown> | undefined {
  if (holderKey === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(holderKey);
  } catch {
    throw new BadUserInputError('holderKey', "must be the holder's public key as a JWK in JSON (EC P-256 or P-384, or OKP Ed25519; no private part), but is not JSON");
  }
  const checked = checkPublicJwk(parsed);
  if ('problem' in checked) throw new BadUserInputError('holderKey', `must be the holder's public key as a JWK in JSON (EC P-256 or P-384, or OKP Ed25519; no private part), but it ${checked.problem}`);
  return checked.jwk as unknown as Record<string, unknown>;
}

/** "Tax administration 税务" → "税务 Tax administration": Chinese first, as the pages print everything. */
export function chineseFirst(name: string): string {
  const match = /^([^\u3400-\u9fff]+?)\s+([\u3400-\u9fff][^A-Za-z]*)$/u.exec(name.trim());
  return match ? `${match[2]!.trim()} ${match[1]!.trim()}` : name;
}

/** "无欠税证明 Certificate of no tax arrears" → the Chinese title and the English one. */
function splitTitle(title: string): [string, string | undefined] {
  const at = title.search(/ [A-Za-z]/);
  return at < 0 ? [title, undefined] : [title.slice(0, at), title.slice(at + 1)];
}

/** The subject's identifier among a proof's disclosed claims, if it shows one. */
function identifierOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  for (const name of ['idNumber', 'creditCode', 'taxpayerId']) if (typeof claims[name] === 'string') return claims[name] as string;
  return undefined;
}

/** The GraphQL side: `issueProof` for a signed caller, about the one subject its arguments name. */
export function createProofResolvers(proofs: () => HubProofs | undefined): Record<string, Record<string, unknown>> {
  return {
    Mutation: {
      async issueProof(_: unknown, args: { kind: string; idNumber?: string | null; creditCode?: string | null; holderKey?: string | null }, ctx: RequestContext) {
        const running = proofs();
        if (!running) throw new HubError(HubErrorCode.FORBIDDEN, 'This hub issues no proofs.');
        const named = [args.idNumber ? { kind: 'PERSON' as const, id: args.idNumber } : undefined, args.creditCode ? { kind: 'ENTERPRISE' as const, id: args.creditCode } : undefined].filter((s) => s !== undefined);
        if (named.length !== 1) throw new BadUserInputError('idNumber', 'name exactly one subject: a person by idNumber or an enterprise by creditCode');
        const subject = named[0]!;
        ctx.replySubjects.set(subjectKey(subject), subject);
        return running.issue(ctx, { kind: args.kind, subject, ...(args.holderKey !== undefined && args.holderKey !== null ? { holderKey: args.holderKey } : {}) });
      },
    },
  };
}

/** The problems between the graph's `ProofKind` values and the kinds the modules declare (none when they agree). */
export function proofKindProblems(graphValues: readonly string[], declared: ReadonlyMap<string, HubProofKind>): string[] {
  const problems: string[] = [];
  for (const value of graphValues) if (!declared.has(value)) problems.push(`ProofKind.${value} is in the graph but no connector module declares it`);
  for (const [kind, { department }] of declared) if (!graphValues.includes(kind)) problems.push(`${department} declares proof kind ${kind}, but its schema does not extend ProofKind with it`);
  return problems;
}
