import { readFileSync } from 'node:fs';
import { createDataRunClient, DataRunClientError, type DataRunResponse } from '../client';
import { generateSeed, SEED_CITIES, type SeedCity } from '../../departments';
import { CLI_EXIT } from '../sdk';
import { loadKeyStore, createConsentSigner, type PrivateJwk } from '../seal';
import { CliUsageError, exitCodeOfError, exitCodeOfReply } from './exit';
import { LIVING_ALLOWANCE_FUND_QUERY, LIVING_ALLOWANCE_QUERY, PROPERTY_TRANSFER_QUERY, livingAllowanceExample, propertyTransferExample } from './examples';

/** The worked examples `datarun query --example` runs, as the consumer and purpose they are made for. */
const EXAMPLES = {
  'property-transfer': { consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-000123', operator: '窗口-张敏' },
  'living-allowance': { consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', caseNumber: 'MZ-2026-004567', operator: '低保专干-李华' },
  'living-allowance-fund': { consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', caseNumber: 'MZ-2026-004568', operator: '低保专干-李华' },
} as const;

/** Who signs the demo's consents: the citizen identity platform, never the consumer that uses them. */
const CONSENT_ISSUER = 'citizen-identity';

/** Options of `datarun query`. */
export interface QueryCommandOptions {
  hub: string;
  keysDir: string;
  as?: string;
  purpose?: string;
  case?: string;
  operator?: string;
  example?: keyof typeof EXAMPLES;
  /** The query itself, or `@file`. */
  query?: string;
  /** Variables as JSON. */
  variables?: string;
  /** Subjects a consent is signed for, by the citizen identity platform (demo: with its key from keysDir): one-time, for this consumer. */
  consentFor?: string[];
  seed: number;
  size: number;
  /** The sandbox city of the examples (the hub's `sandbox.city`). @default persons of all Shandong */
  city?: string;
}

/**
 * `datarun query`: signs a query as a registered consumer (with its key from the keys
 * directory), prints the reply, and checks its receipt and every seal against the hub's
 * published keys. Returns the exit code (CLI_EXIT): 0 when the reply came back complete and
 * verified; 4 partial data, 3 refused, 5 hub or department unavailable (the registry entry of the
 * reply's first error code); 6 when the receipt or a seal does not verify. Throws CliUsageError
 * (exit 2) for unusable arguments.
 */
export async function runQuery(options: QueryCommandOptions, out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  const example = options.example ? EXAMPLES[options.example] : undefined;
  if (options.example && !example) throw new CliUsageError(`unknown example "${options.example}": expected ${Object.keys(EXAMPLES).join(' or ')}`);
  let query: string;
  let variables: Record<string, unknown>;
  let consentFor = options.consentFor ?? [];
  if (options.example) {
    const city = options.city;
    if (city !== undefined && !SEED_CITIES.includes(city as SeedCity)) throw new CliUsageError(`unknown sandbox city "${city}": expected ${SEED_CITIES.join(' or ')}`);
    const data = generateSeed({ seed: options.seed, size: options.size, ...(city ? { city: city as SeedCity } : {}) });
    if (options.example === 'property-transfer') {
      query = PROPERTY_TRANSFER_QUERY.replace('transfers { date price from { ...Party } to { ...Party } }', 'transfers { date price from { ...Party } to { ...Party } }\n    seal { issuer keyId token }');
      variables = propertyTransferExample(data);
    } else {
      query = options.example === 'living-allowance-fund' ? LIVING_ALLOWANCE_FUND_QUERY : LIVING_ALLOWANCE_QUERY;
      variables = livingAllowanceExample(data);
      consentFor = [...consentFor, ...(variables.family as string[])];
    }
  } else {
    if (!options.query) throw new CliUsageError(`give a query (or @file), or --example ${Object.keys(EXAMPLES).join('|')}`);
    query = options.query.startsWith('@') ? readFileSync(options.query.slice(1), 'utf8') : options.query;
    try {
      variables = options.variables ? (JSON.parse(options.variables) as Record<string, unknown>) : {};
    } catch {
      throw new CliUsageError('--variables must be a JSON object');
    }
  }
  const consumer = options.as ?? example?.consumer;
  const purpose = options.purpose ?? example?.purpose;
  if (!consumer) throw new CliUsageError('--as <consumer> is required (a consumer of the trust list, e.g. real-estate-centre)');
  if (!purpose) throw new CliUsageError('--purpose <code> is required (事由, e.g. PROPERTY_TRANSFER)');

  const keyStore = await loadKeyStore(options.keysDir);
  const keyFile = keyStore.privateKeyPath(consumer);
  if (!keyFile) throw new CliUsageError(`no private key for consumer "${consumer}" in ${options.keysDir}/private`);
  const consents: string[] = [];
  if (consentFor.length > 0) {
    const issuerKey = keyStore.privateKeyPath(CONSENT_ISSUER);
    if (!issuerKey) throw new CliUsageError(`no private key of the consent issuer ${CONSENT_ISSUER} in ${options.keysDir}/private (a trust list made before it existed: run \`datarun keys init\`)`);
    const signer = createConsentSigner({ issuer: CONSENT_ISSUER, privateJwk: JSON.parse(readFileSync(issuerKey, 'utf8')) as PrivateJwk });
    // For this consumer, this one request, ten minutes: a consent is never reusable beyond what it is asked for.
    for (const subject of consentFor) consents.push(signer.sign({ subject, purpose, expiresAt: Date.now() + 10 * 60_000, audience: consumer, once: true }));
  }
  // Signed for the hub the keys directory is of (its trust list's hub id: `heze`, `taian`, or the default).
  const client = createDataRunClient({ hubUrl: options.hub, consumerId: consumer, keyFile, audience: keyStore.hubId });
  let reply: DataRunResponse<Record<string, unknown>>;
  try {
    reply = await client.query<Record<string, unknown>>(query, variables, {
      purpose,
      caseNumber: options.case ?? example?.caseNumber ?? 'DEMO-0001',
      operator: options.operator ?? example?.operator ?? 'demo-operator',
      ...(consents.length > 0 ? { consents } : {}),
    });
  } catch (error) {
    if (!(error instanceof DataRunClientError)) throw error;
    err(`${error.message} (${error.code})\n`);
    return exitCodeOfError(error);
  }
  out(`${JSON.stringify({ data: reply.data, errors: reply.errors, extensions: reply.extensions }, null, 2)}\n`);
  const outcome = exitCodeOfReply(reply);
  if (reply.status !== 200) {
    err(`HTTP ${reply.status}\n`);
    return outcome;
  }
  const receipt = await client.verifyReply(reply);
  err(receipt.valid ? `receipt: valid (audit record #${receipt.receipt.auditSeq ?? '-'})\n` : `receipt: INVALID (${receipt.reason})\n`);
  let sealsOk = true;
  const seals: string[] = [];
  JSON.stringify(reply.data, (key, value: unknown) => {
    if (key === 'seal' && value && typeof value === 'object' && typeof (value as { token?: unknown }).token === 'string') seals.push((value as { token: string }).token);
    return value;
  });
  for (const token of seals) {
    const result = await client.verifySeal(token);
    if (result.valid) err(`seal: valid, ${result.issuer} ${result.recordType} ${result.recordId}, discloses ${Object.keys(result.disclosed).join(', ') || 'nothing'}\n`);
    else {
      sealsOk = false;
      err(`seal: INVALID (${result.reason})\n`);
    }
  }
  return receipt.valid && sealsOk ? outcome : CLI_EXIT.VERIFY_FAILED;
}
