/**
 * Proofs about another instance's log, from any instance (several instances on one shared
 * store): the Merkle tree of that instance's chain is rebuilt from its records (read through the
 * chain reader: Redis and the archive), extended as the chain grows, and checked against that
 * instance's newest signed head before any proof is given. A proof thus never rests on what this
 * instance believes: its root is the one the owning instance signed.
 */
import { BadUserInputError } from '../sdk';
import type { ChainReader } from './chain-reader';
import { canonicalJson } from './canonical-json';
import type { AuditTreeHead } from './checkpoint';
import type { ConsistencyProof, InclusionProof, SignedTreeHead } from './audit-log';
import { AuditLogCorruptError } from './errors';
import { leafHash, MerkleTree } from './merkle';

/** Proofs about the logs of other instances. */
export interface ChainProver {
  inclusionProof(instance: string, seq: number, treeSize?: number): Promise<InclusionProof>;
  consistencyProof(instance: string, from: number, to: number): Promise<ConsistencyProof>;
}

const PAGE = 500;

/** A prover over the chain reader, trusting only each instance's newest signed head (from `heads`). */
export function createChainProver(options: { reader: ChainReader; heads: () => Promise<SignedTreeHead[]> }): ChainProver {
  const trees = new Map<string, { chain: string; tree: MerkleTree }>();
  const growing = new Map<string, Promise<void>>();

  async function headOf(instance: string): Promise<SignedTreeHead> {
    const head = (await options.heads()).find((h) => h.head.instance === instance);
    if (!head) throw new BadUserInputError('instance', `is ${JSON.stringify(instance)}: no instance of that id has signed a head in the shared store`);
    return head;
  }

  /** Extends the instance's tree to at least `size` records and checks it against the head. */
  async function treeOf(head: AuditTreeHead): Promise<MerkleTree> {
    const instance = head.instance;
    for (let busy = growing.get(instance); busy; busy = growing.get(instance)) await busy.catch(() => undefined);
    let known = trees.get(instance);
    if (!known || known.chain !== head.chain) {
      known = { chain: head.chain, tree: new MerkleTree() };
      trees.set(instance, known);
    }
    const { tree } = known;
    if (tree.size < head.size) {
      const work = (async () => {
        while (tree.size < head.size) {
          const records = await options.reader.range(instance, tree.size + 1, Math.min(PAGE, head.size - tree.size));
          if (records.length === 0) throw new AuditLogCorruptError(`record ${tree.size + 1} of instance ${instance} cannot be read from the shared store or its archive`);
          for (const record of records) {
            if (record.seq !== tree.size + 1) throw new AuditLogCorruptError(`the chain of instance ${instance} is not in order at seq ${tree.size + 1}`);
            tree.append(leafHash(canonicalJson(record)));
          }
        }
      })();
      growing.set(instance, work);
      try {
        await work;
      } catch (error) {
        trees.delete(instance);
        throw error;
      } finally {
        growing.delete(instance);
      }
    }
    if (tree.root(head.size).toString('base64url') !== head.root) {
      trees.delete(instance);
      throw new AuditLogCorruptError(`the records of instance ${instance} read from the shared store do not give the root its newest signed head states (size ${head.size})`);
    }
    return tree;
  }

  return {
    async inclusionProof(instance, seq, treeSize) {
      const signed = await headOf(instance);
      const size = treeSize ?? signed.head.size;
      if (!Number.isSafeInteger(seq) || seq < 1) throw new BadUserInputError('seq', 'must be a positive integer');
      if (size < seq) throw new BadUserInputError('seq', `is not yet covered by a signed tree head of instance ${instance} (newest covers ${signed.head.size}); ask again in a second`);
      if (size > signed.head.size) throw new BadUserInputError('treeSize', `must be at most ${signed.head.size}, the newest signed head of instance ${instance}`);
      const tree = await treeOf(signed.head);
      const [record] = await options.reader.read(instance, [seq]);
      if (!record) throw new AuditLogCorruptError(`record ${seq} of instance ${instance} cannot be read from the shared store or its archive`);
      return {
        line: canonicalJson(record),
        instance,
        seq,
        leafIndex: seq - 1,
        treeSize: size,
        leafHash: tree.leaf(seq - 1).toString('base64url'),
        path: tree.inclusionProof(seq - 1, size).map((h) => h.toString('base64url')),
        root: tree.root(size).toString('base64url'),
        head: size === signed.head.size ? signed : null,
      };
    },
    async consistencyProof(instance, from, to) {
      const signed = await headOf(instance);
      if (!Number.isSafeInteger(to) || to < 0 || to > signed.head.size) throw new BadUserInputError('to', `must be between 0 and ${signed.head.size}, the newest signed head of instance ${instance}`);
      if (!Number.isSafeInteger(from) || from < 0 || from > to) throw new BadUserInputError('from', `must be between 0 and to (${to})`);
      const tree = await treeOf(signed.head);
      return {
        instance,
        from,
        to,
        fromRoot: tree.root(from).toString('base64url'),
        toRoot: tree.root(to).toString('base64url'),
        path: tree.consistencyProof(from, to).map((h) => h.toString('base64url')),
      };
    },
  };
}
