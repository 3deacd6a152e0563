/**
 * Where cases are kept, behind one interface: in memory or in Redis (through the versioned
 * documents of src/state: created if absent, replaced at the version read, each one atomic
 * step, so two instances claiming one case at once cannot both succeed), or in a local file
 * (file-store.ts). The service retries a replacement that lost a race after reading the case again.
 */
import { createMemoryDocuments, type SharedDocument, type SharedDocuments } from '../state';
import type { Case } from './case';
import { CasesError, CasesErrorCode } from './errors';

/** The cases, stored. */
export interface CaseStore {
  get(caseId: string): Promise<Case | undefined>;
  /** Stores `c` (version 1) unless a case with its id exists; resolves to the case stored and whether this call created it. */
  create(c: Case): Promise<{ created: boolean; case: Case }>;
  /** Stores `next` if the stored case is still at `next.version - 1`; false when it moved on (nothing changed). */
  replace(next: Case): Promise<boolean>;
  /** The cases of one department, or of all departments; with `openOnly`, only those not yet reported on. */
  list(department: string | undefined, openOnly: boolean): Promise<Case[]>;
  close(): Promise<void>;
}

/** The index sets a case belongs to while open and always. */
export const indexesOf = (c: Case): { always: string[]; open: string[] } => ({ always: ['all', `dept:${c.department}`], open: ['open', `open:${c.department}`] });

/** The stored form of a case: its JSON without the version (the store keeps that). */
export function serializeCase(c: Case): string {
  const { version: _version, ...rest } = c;
  return JSON.stringify(rest);
}

/** A case from its stored form, or CASES_STORE_CORRUPT naming the case id. */
export function parseCase(id: string, doc: SharedDocument): Case {
  let value: unknown;
  try {
    value = JSON.parse(doc.value);
  } catch {
    value = undefined;
  }
  const c = value as Partial<Case> | undefined;
  if (!c || typeof c !== 'object' || c.caseId !== id || typeof c.department !== 'string' || !['PUSHED', 'CLAIMED', 'REPORTED'].includes(c.state as string) || typeof c.claimDeadline !== 'string' || typeof c.feedbackDeadline !== 'string') {
    throw new CasesError(CasesErrorCode.CASES_STORE_CORRUPT, `The stored case ${JSON.stringify(id.slice(0, 64))} is not a case.`);
  }
  return { ...(c as Case), version: doc.version };
}

/** Cases in versioned documents (memory or Redis, src/state). */
export function createDocumentCaseStore(documents: SharedDocuments): CaseStore {
  const many = async (ids: string[]): Promise<Case[]> => {
    const docs = await documents.getMany(ids);
    return docs.flatMap((doc, i) => (doc ? [parseCase(ids[i]!, doc)] : []));
  };
  return {
    async get(caseId) {
      const doc = await documents.get(caseId);
      return doc ? parseCase(caseId, doc) : undefined;
    },
    async create(c) {
      const { always, open } = indexesOf(c);
      const { created, document } = await documents.create(c.caseId, serializeCase(c), c.state === 'REPORTED' ? always : [...always, ...open]);
      return { created, case: parseCase(c.caseId, document) };
    },
    replace(next) {
      return documents.replace(next.caseId, next.version - 1, serializeCase(next), next.state === 'REPORTED' ? { remove: indexesOf(next).open } : {});
    },
    async list(department, openOnly) {
      const index = department === undefined ? (openOnly ? 'open' : 'all') : `${openOnly ? 'open' : 'dept'}:${department}`;
      return many(await documents.members(index));
    },
    close: async () => undefined,
  };
}

/** Cases in this process only (tests, one instance without a file). */
export function createMemoryCaseStore(): CaseStore {
  return createDocumentCaseStore(createMemoryDocuments('cases'));
}
