import { createHash, webcrypto, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyReceipt, verifySeal, type Jwks } from '../../../src/seal';

const doc = readFileSync(join(__dirname, '../../../docs/seals-and-receipts.md'), 'utf8');

function example(name: string): string {
  const match = new RegExp(`<!-- example:${name} -->\\n\`\`\`text\\n([^\\n]+)\\n\`\`\``).exec(doc);
  if (!match) throw new Error(`docs/seals-and-receipts.md has no example:${name}`);
  return match[1]!;
}

function jsonBlockAfter(marker: string): unknown {
  const at = doc.indexOf(marker);
  const match = /```json\n([\s\S]*?)\n```/.exec(doc.slice(at));
  return JSON.parse(match![1]!);
}

describe('docs/seals-and-receipts.md', () => {
  const jwks = jsonBlockAfter('Example (the keys the examples on this page were made with)') as Jwks;

  it('shows a seal that verifies against the JWKS it shows, disclosing two fields', () => {
    expect(verifySeal(example('seal'), { jwks })).toMatchObject({ valid: true, issuer: 'tax', recordType: 'DeedTaxPayment', disclosed: { unitNumber: '371702-001-0001', paid: true } });
  });

  it('shows a receipt that verifies against the JWKS it shows', () => {
    expect(verifyReceipt(example('receipt'), { jwks })).toMatchObject({ valid: true, receipt: { consumer: 'one-window-hall', auditSeq: 1042 } });
  });

  it('shows a request token whose signature and body hash check out with WebCrypto alone', async () => {
    const token = example('request');
    const body = /Example: the body\n\n```json\n([^\n]+)\n```/.exec(doc)![1]!;
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as { bh: string };
    expect(claims.bh).toBe(createHash('sha256').update(body).digest('base64url'));
    const jwk = jsonBlockAfter('It was signed by the consumer key registered in the trust list as') as JsonWebKey;
    const key = await webcrypto.subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(s!, 'base64url'), Buffer.from(`${h}.${p}`))).toBe(true);
  });
});
