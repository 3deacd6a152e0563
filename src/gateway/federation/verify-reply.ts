/**
 * Every record a peer hub answers is checked against its seal before any of it is served here,
 * whether or not the caller selected `seal`: the document asked of the peer selects the seal's
 * token of each object of a sealed type (`forwardDocument`'s seal checks), and the reply's value
 * of each forwarded root field is walked along that document. Each sealed record must carry a
 * seal (every one of its `seal` response keys, the caller's and the check's); each token must
 * verify against the peer's keys (its JWKS signed by the pinned root); each value a token
 * discloses must be the reply's value of that field, in the shape the peer sealed it in
 * (`sealShapeOf`); and the seal's other members the reply shows (`issuer`, `keyId`, …) must be
 * those its token carries. A record that fails any of these becomes an error naming the peer
 * (its data is not served); the seal checks the caller did not ask for are taken out.
 *
 * What a seal withholds (a field the peer masked, or one the reply reshaped) cannot be checked
 * against it: the peer's presentation discloses exactly what its reply shows unchanged.
 */
import { getNamedType, isAbstractType, isObjectType, Kind, type FieldNode, type GraphQLNamedType, type GraphQLObjectType, type GraphQLSchema, type SelectionSetNode } from 'graphql';
import type { PeerSealCheck } from '../../sdk';
import { canonicalize } from '../../seal';
import { sealShapeOf } from '../seals';
import { isSealCheck } from './forward';

/** What checking a peer's reply needs. */
export interface PeerReplyCheck {
  /** The peer's schema (its own type names, as the forwarded document uses them). */
  readonly remote: GraphQLSchema;
  /** Verifies a seal's token against the peer's keys. */
  verify(token: string): Promise<PeerSealCheck>;
  /** The error a record that fails its check becomes: names the peer. */
  invalid(problem: string): Error;
}

/** Members of a `Seal` a reply may show besides the token, each checked against the token. */
const SEAL_MEMBERS = ['issuer', 'keyId', 'algorithm', 'issuedAt', 'recordType'] as const;

/** A sealed record of the reply, where it sits, and its `seal` response keys. */
interface SealedAt {
  readonly holder: Record<string | number, unknown>;
  readonly key: string | number;
  readonly record: Record<string, unknown>;
  readonly typeName: string;
  /** Each `seal` response key of the record, and whether it is a check the caller did not ask for. */
  readonly seals: Map<string, boolean>;
}

/**
 * Checks the peer's value of one forwarded root field (`field`, as `forwardDocument` built it):
 * the value with each record that fails replaced by `check.invalid(…)` and the added seal checks
 * taken out. The value is changed in place (a root value that fails is returned as the error).
 */
export async function verifyPeerValue(value: unknown, field: FieldNode, check: PeerReplyCheck): Promise<unknown> {
  const root = check.remote.getQueryType()?.getFields()[field.name.value];
  const holder: Record<string, unknown> = { value };
  if (!root || !field.selectionSet) return value;
  const sealed = new Map<object, SealedAt>();
  const broken: { holder: Record<string | number, unknown>; key: string | number; problem: string }[] = [];

  const walk = (at: Record<string | number, unknown>, key: string | number, set: SelectionSetNode, type: GraphQLNamedType): void => {
    const v = at[key];
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) {
      v.forEach((_, i) => walk(v as unknown as Record<number, unknown>, i, set, type));
      return;
    }
    if (typeof v !== 'object') {
      broken.push({ holder: at, key, problem: `answered ${typeof v} where a ${type.name} was asked for` });
      return;
    }
    const record = v as Record<string, unknown>;
    const concrete = concreteType(check.remote, type, record);
    if (!concrete) {
      broken.push({ holder: at, key, problem: `answered a ${type.name} without the __typename of one of its types` });
      return;
    }
    const sealField = concrete.getFields().seal;
    let entry = sealField ? sealed.get(record) : undefined;
    if (sealField && !entry) sealed.set(record, (entry = { holder: at, key, record, typeName: concrete.name, seals: new Map() }));
    for (const node of fieldsOn(check.remote, set, concrete)) {
      const responseKey = node.alias?.value ?? node.name.value;
      if (entry && node.name.value === 'seal') {
        entry.seals.set(responseKey, (entry.seals.get(responseKey) ?? true) && isSealCheck(node));
        continue;
      }
      const definition = concrete.getFields()[node.name.value];
      if (node.selectionSet && definition) walk(record, responseKey, node.selectionSet, getNamedType(definition.type));
    }
  };
  walk(holder, 'value', field.selectionSet, getNamedType(root.type));

  const problems = await Promise.all([...sealed.values()].map(async (entry) => ({ entry, problem: await problemOf(entry, check) })));
  for (const b of broken) b.holder[b.key] = check.invalid(b.problem);
  for (const { entry, problem } of problems) {
    if (problem !== undefined) {
      entry.holder[entry.key] = check.invalid(`a ${entry.typeName} record ${problem}`);
      continue;
    }
    for (const [key, added] of entry.seals) if (added) delete entry.record[key];
  }
  return holder.value;
}

/** The object type a value of `type` is: itself, or for an interface or union the `__typename` the peer gave (one of its types). */
function concreteType(remote: GraphQLSchema, type: GraphQLNamedType, record: Record<string, unknown>): GraphQLObjectType | undefined {
  if (isObjectType(type)) return type;
  if (!isAbstractType(type) || typeof record.__typename !== 'string') return undefined;
  const named = remote.getType(record.__typename);
  return named && isObjectType(named) && remote.isSubType(type, named) ? named : undefined;
}

/** The fields a selection set asks of an object of `concrete` (inline fragments that apply to it followed; the forwarded document has no spreads). */
function fieldsOn(remote: GraphQLSchema, set: SelectionSetNode, concrete: GraphQLObjectType, into: FieldNode[] = []): FieldNode[] {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      into.push(selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const on = selection.typeCondition ? remote.getType(selection.typeCondition.name.value) : concrete;
      if (on === concrete || (on && isAbstractType(on) && remote.isSubType(on, concrete))) fieldsOn(remote, selection.selectionSet, concrete, into);
    }
  }
  return into;
}

/** Why a sealed record of the reply fails its seal (worded after "a <Type> record"), or undefined when it holds. */
async function problemOf(entry: SealedAt, check: PeerReplyCheck): Promise<string | undefined> {
  const seals = [...entry.seals.keys()].map((key) => entry.record[key]);
  if (seals.length === 0 || seals.some((s) => s === null || typeof s !== 'object' || Array.isArray(s))) return 'came without its seal';
  const tokens = [...new Set(seals.map((s) => (s as { token?: unknown }).token).filter((t): t is string => typeof t === 'string'))];
  if (tokens.length === 0) return 'came without its seal';
  const verified = new Map<string, PeerSealCheck>();
  await Promise.all(tokens.map(async (token) => verified.set(token, await check.verify(token))));
  let shape: Record<string, unknown> | undefined;
  for (const [, result] of verified) {
    if (!result.valid) return `came with a seal that does not verify against the peer hub's keys (${result.problem})`;
    shape ??= sealShapeOf(entry.record, true) as Record<string, unknown>;
    for (const [name, disclosed] of Object.entries(result.disclosed)) {
      if (!Object.prototype.hasOwnProperty.call(shape, name)) return `came with a seal disclosing ${name}, which the reply does not carry`;
      if (!sameValue(shape[name], disclosed)) return `came with a value of ${name} other than the one its seal discloses`;
    }
  }
  const first = verified.get(tokens[0]!) as Extract<PeerSealCheck, { valid: true }>;
  for (const s of seals as Record<string, unknown>[]) {
    const own = typeof s.token === 'string' ? (verified.get(s.token) as Extract<PeerSealCheck, { valid: true }>) : first;
    for (const member of SEAL_MEMBERS) {
      if (!Object.prototype.hasOwnProperty.call(s, member)) continue;
      const expected = member === 'issuedAt' ? own.issuedAt.toISOString() : own[member];
      if (s[member] !== expected) return `came with a seal whose ${member} is not the one its token carries`;
    }
  }
  return undefined;
}

/** Whether two JSON values are the same (canonical JSON); values that are not JSON never are. */
function sameValue(a: unknown, b: unknown): boolean {
  try {
    return canonicalize(a) === canonicalize(b);
  } catch {
    return false;
  }
}
