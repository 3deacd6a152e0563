import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runKeysInit, runKeysRevoke, runKeysRotate } from '../../../src/cli/keys';
import { runVerify } from '../../../src/cli/verify';
import { JwksUnavailableError, createReceiptSigner, createSealer, hashJson, hashText, loadJwks, loadKeyStore, presentSeal } from '../../../src/seal';
import { removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

afterAll(removeTempDirs);

function collector(): { out: (line: string) => void; text: () => string } {
  const lines: string[] = [];
  return { out: (line) => lines.push(line), text: () => lines.join('\n') };
}

async function initialized(): Promise<string> {
  const dir = await tempDir();
  await runKeysInit({ ...WITH_DEPARTMENTS, dir, out: () => undefined });
  return dir;
}

describe('datarun keys', () => {
  it('init creates the keys, lists them, and says so when there is nothing to do', async () => {
    const dir = await tempDir();
    const first = collector();
    await runKeysInit({ ...WITH_DEPARTMENTS, dir, out: first.out });
    // The departments the configuration runs are registered first, each with a seal key the hub holds.
    expect(first.text()).toMatch(/^(registered department [a-z-]+ .*, a sandbox\n)+created datarun-hub\.receipt\.[\w-]{16}\n/);
    expect(first.text()).toContain('registered department market-regulation (Market regulation 市场监督管理), a sandbox\n');
    expect(first.text()).toMatch(/\n {2}tax {18}seal {7}ES256 {2}tax\.seal\.[\w-]{16} +active \(signs\)/);
    const second = collector();
    await runKeysInit({ ...WITH_DEPARTMENTS, dir, out: second.out });
    expect(second.text()).toMatch(/^nothing to do: every key is in place\nkeys in /);
  });

  it('rotate names the new key and until when the old one verifies', async () => {
    const dir = await initialized();
    const out = collector();
    await runKeysRotate({ dir, owner: 'tax', retainDays: 30, out: out.out });
    expect(out.text()).toMatch(/^created tax\.seal\.[\w-]{16}: signs from now on\nretired tax\.seal\.[\w-]{16}: verifies until \d{4}-\d\d-\d\dT/);
    await expect(runKeysRotate({ dir, owner: 'tax', alg: 'HS256', out: out.out })).rejects.toMatchObject({ code: 'ERR_ALG_NOT_SUPPORTED', message: 'expected one of ES256, ES384, EdDSA, but got: HS256' });
  });

  it('revoke --at revokes from that time and creates a replacement signer', async () => {
    const dir = await initialized();
    const kid = (await loadKeyStore(dir)).currentKeyId('tax', 'seal')!;
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const out = collector();
    await runKeysRevoke({ dir, kid, at, out: out.out });
    expect(out.text()).toMatch(new RegExp(`^revoked ${kid.replace(/\./g, '\\.')} from ${at.replace(/\./g, '\\.')}: it verifies nothing signed from then on\ncreated tax\\.seal\\.`));
    await expect(runKeysRevoke({ dir, kid, at: 'yesterday' })).rejects.toThrow('--at must be an ISO 8601 time, but got: yesterday');
    await expect(runKeysRevoke({ dir, kid, at: '2025-01-01T00:00:00Z' })).rejects.toMatchObject({ code: 'ERR_REVOCATION_TIME_INVALID' });
  });
});

describe('datarun verify', () => {
  it('verifies a seal offline from a JWKS file and prints who sealed what', async () => {
    const dir = await initialized();
    const store = await loadKeyStore(dir);
    const sealed = createSealer({ keyStore: store }).sealRecord({ department: 'tax', recordType: 'DeedTaxPayment', recordId: 'DT-1', fields: { name: '张三', paid: true } });
    const out = collector();
    expect(await runVerify({ token: presentSeal(sealed, ['paid']), jwks: join(dir, 'jwks.json'), out: out.out })).toBe(0);
    expect(out.text()).not.toContain('DT-1');
    expect(out.text()).toBe(
      [
        'VALID seal',
        `  issuer     tax (key ${sealed.keyId}, ES256)`,
        `  issued     ${new Date(sealed.issuedAt * 1000).toISOString()}`,
        // The seal's pseudonymous sub, never the record id.
        `  record     DeedTaxPayment ${sealed.subject}`,
        '  disclosed  paid',
      ].join('\n'),
    );
  });

  it('exits 6 (verification failed) with the reason for a tampered seal, read from a file', async () => {
    const dir = await initialized();
    const store = await loadKeyStore(dir);
    const sealed = createSealer({ keyStore: store }).sealRecord({ department: 'tax', recordType: 'T', recordId: 'DT-1', fields: { name: '张三' } });
    const [h, p, s] = sealed.jwt.split('.');
    const file = join(dir, 'token.txt');
    await writeFile(file, `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}~\n`);
    const out = collector();
    expect(await runVerify({ token: `@${file}`, jwks: join(dir, 'jwks.json'), out: out.out })).toBe(6);
    expect(out.text()).toBe(`INVALID: seal: signature verification failed (BAD_SIGNATURE)\n  key        ${sealed.keyId}`);
  });

  it('verifies a receipt and refuses what is neither a seal nor a receipt', async () => {
    const dir = await initialized();
    const store = await loadKeyStore(dir);
    const receipt = createReceiptSigner({ keyStore: store }).signReceipt({ requestId: 'r1', consumer: 'tax-bureau', purpose: 'P', case: 'C-1', operator: 'li', time: '2025-06-01T09:00:00Z', queryHash: hashText('{ a }'), dataHash: hashJson({ a: 1 }), auditSeq: 7 });
    const out = collector();
    expect(await runVerify({ token: receipt, jwks: join(dir, 'jwks.json'), out: out.out })).toBe(0);
    expect(out.text()).toContain('VALID receipt\n');
    expect(out.text()).toContain('  request    r1 by tax-bureau at 2025-06-01T09:00:00Z\n');
    expect(out.text()).toContain('  audit seq  7');
    const other = collector();
    expect(await runVerify({ token: 'hello', jwks: join(dir, 'jwks.json'), out: other.out })).toBe(6);
    expect(other.text()).toBe('INVALID: not a datarun seal, receipt, checkpoint or proof (MALFORMED)');
  });

  it('says where a JWKS could not be read or fetched', async () => {
    await expect(loadJwks('/nonexistent/jwks.json')).rejects.toEqual(new JwksUnavailableError('cannot read JWKS file /nonexistent/jwks.json'));
    const notFound = (() => Promise.resolve(new Response('no', { status: 404 }))) as typeof fetch;
    await expect(loadJwks('https://hub.example/.well-known/jwks.json', { fetch: notFound })).rejects.toMatchObject({
      code: 'ERR_JWKS_UNAVAILABLE',
      message: 'cannot fetch JWKS from https://hub.example/.well-known/jwks.json: HTTP 404',
    });
  });
});
