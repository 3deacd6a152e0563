/**
 * The proof pages (docs/proofs.md, "Printing" and "Verifying"): `GET /p/<ref>`, the printable
 * page of a stored proof with its QR code; `GET /verify`, a form to paste a proof or a QR code's
 * text; `POST /verify`, the verdict in Chinese. Plain HTML (Chinese first, English second), one
 * stylesheet (./proof), no script; the QR code is an inline SVG drawn here.
 *
 * /verify keeps nothing of what it is shown: no log line, no access record, nothing written,
 * `Cache-Control: no-store`; the page does not echo the proof back. The data comes from the
 * gateway's `ProofPagesSource`: stored proofs by reference, and a proof verified and labelled.
 */
import type http from 'node:http';
import path from 'node:path';
import qrcode from 'qrcode-generator';
import {
  beijingTime,
  decodeProofFromQr,
  encodeProofForQr,
  maskIdentifier,
  PROOF_QR_PREFIX,
  PROOF_STATUS_ZH,
  proofReasonZh,
  type ProofDisplay,
  type ProofPagesSource,
  type ProofVerified,
} from '../gateway';
import { headerValue, mediaTypeOf, pageSecurityHeaders, readBody, readStaticFolder } from './io';

/** The pages' policy: their own stylesheet, no script at all, the form posting to the hub only. */
export const PROOF_PAGES_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** Largest body of `POST /verify`: a proof with its disclosures and a KB-JWT, form-encoded. */
export const VERIFY_BODY_LIMIT = 256 * 1024;
/** The path of a stored proof's page: `/p/<ref>`. */
const REF_PATH = /^\/p\/([A-Za-z0-9_-]{1,128})$/;
const STYLESHEET = '/proof/proof.css';
const ALPHANUMERIC = /^[0-9A-Z $%*+\-./:]*$/;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content or a quoted attribute: `& < > " '` escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A QR code as an inline SVG (error correction M, alphanumeric mode for `DRP1:` text), a 4-module quiet zone, one path. */
export function qrSvg(text: string, label: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(text, ALPHANUMERIC.test(text) ? 'Alphanumeric' : 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  const size = count + 8;
  let d = '';
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) if (qr.isDark(row, col)) d += `M${col + 4} ${row + 4}h1v1h-1z`;
  }
  return `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges" role="img" aria-label="${escapeHtml(label)}"><rect width="${size}" height="${size}" fill="#fff"/><path fill="#000" d="${d}"/></svg>`;
}

/** A citizen identity number (18 characters, the last a digit or X) or a unified social credit code, as a whole string. */
const IDENTIFIER = /^(?:\d{17}[\dX]|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})$/;

/**
 * A claim's value for print: every identity number and credit code in it, at any depth, masked
 * (`3701**********1234`). Paper is read by whoever holds it; the whole value is in the QR code,
 * for a verifier.
 */
export function maskIdentifiers(value: unknown): unknown {
  if (typeof value === 'string') return IDENTIFIER.test(value) ? maskIdentifier(value) : value;
  if (Array.isArray(value)) return value.map(maskIdentifiers);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskIdentifiers(v)]));
  return value;
}

/** A claim's value as people read it: 是/否 for booleans, text as it is, anything else as compact JSON. */
function valueText(value: unknown): string {
  if (value === true) return '是 Yes';
  if (value === false) return '否 No';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value) ?? '—';
}

const SUBJECT_KIND_ZH: Record<string, string> = { PERSON: '个人 Person', ENTERPRISE: '企业 Enterprise' };

/** A row of the facts table: the Chinese label, its English second line, the value (already HTML). */
const row = (zh: string, en: string, valueHtml: string): string => `<tr><th scope="row">${zh}<span class="en">${en}</span></th><td>${valueHtml}</td></tr>`;

function page(title: string, body: string, bodyClass: string): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${STYLESHEET}">
</head>
<body class="${bodyClass}">
<main>
${body}
</main>
</body>
</html>
`;
}

/** How a verified proof stands towards its holder, in Chinese with English. */
function holderText(result: ProofVerified): string {
  if (result.keyBindingMissing) return '已绑定持有人：须由持有人用其密钥签名（密钥绑定 JWT，含验证方给出的随机数 nonce）出示，此处仅核验了签发部分<span class="en">Bound to a holder key: the holder must present it with a key-binding JWT over the verifier’s nonce; only the issuer’s part was verified here</span>';
  if (result.holderBound) return '已绑定持有人，持有人签名已核验<span class="en">Bound to a holder key; the holder’s key-binding JWT verified</span>';
  return '未绑定持有人，适用于纸质<span class="en">Not bound to a holder: a paper document, valid for whoever presents it</span>';
}

/** The facts of a verified proof: subject, what is proven, by whom, as of when, purpose, validity, holder, status; `forPrint`: identifiers among the claims masked (`maskIdentifiers`). */
function factsTable(display: ProofDisplay, result: ProofVerified, forPrint = false): string {
  const labels = display.claimLabels ?? {};
  const claims = Object.entries(result.disclosed);
  const proven = display.parts
    ? `<ul class="parts">${display.parts.map((part) => `<li>${escapeHtml(part.title ?? (part.result.valid ? part.result.kind : ''))}（${escapeHtml(part.departmentName ?? (part.result.valid ? part.result.department : ''))}，见下）</li>`).join('')}</ul>`
    : claims.length === 0
      ? '<p class="muted">（未出示任何项目）<span class="en">No claim disclosed</span></p>'
      : `<dl class="claims">${claims
          .map(([name, value]) => {
            const label = Object.hasOwn(labels, name) ? labels[name]! : name;
            return `<div><dt>${escapeHtml(label)}</dt><dd>${escapeHtml(valueText(forPrint ? maskIdentifiers(value) : value))}</dd></div>`;
          })
          .join('')}</dl>`;
  const subjectKind = Object.hasOwn(SUBJECT_KIND_ZH, result.subjectKind) ? SUBJECT_KIND_ZH[result.subjectKind]! : result.subjectKind;
  return `<table class="facts"><tbody>
${row('证明对象', 'Subject', `${display.subject !== undefined ? `${escapeHtml(display.subject)} · ` : ''}${escapeHtml(subjectKind)}`)}
${row('证明内容', 'What is proven', proven)}
${row('签发部门', 'Issued by', escapeHtml(display.departmentName ?? result.department))}
${row('截至时间', 'As of', escapeHtml(beijingTime(result.asOf)))}
${row('事由', 'Purpose', escapeHtml(display.purposeName ?? result.purpose))}
${row('签发时间', 'Issued', escapeHtml(beijingTime(result.issuedAt)))}
${row('有效期至', 'Valid until', escapeHtml(beijingTime(result.expiresAt)))}
${row('持有人绑定', 'Holder binding', holderText(result))}
${row('状态', 'Status', `${escapeHtml(PROOF_STATUS_ZH[result.status])}<span class="en">${result.status}</span>`)}
</tbody></table>`;
}

/** A bundle's parts, each a department's proof with its own facts (nothing for a single proof). */
function partsSections(display: ProofDisplay): string {
  return (display.parts ?? [])
    .map((part, i) => {
      if (!part.result.valid) return '';
      const title = titleOf(part, part.result);
      return `<section class="part">
<h2>${i + 1}. ${escapeHtml(title.zh)}<span class="en">${escapeHtml(title.en)}</span></h2>
${factsTable(part, part.result)}
</section>`;
    })
    .join('\n');
}

function titleOf(display: ProofDisplay, result: ProofVerified): { zh: string; en: string } {
  return { zh: display.title ?? result.kind, en: display.titleEn ?? result.kind };
}

/** Options of `renderProofPage`. */
export interface ProofPageOptions {
  /** The QR code's text (`encodeProofForQr`). */
  readonly qrText: string;
  /** The hub's public base URL: the /verify address printed on the page. */
  readonly hubUrl: string;
}

/**
 * The printable page of a proof (A4, no navigation): title, subject, what is proven, by whom, as
 * of when, purpose, validity, holder binding, the status-list hint, how to verify, and the QR
 * code; identity numbers and credit codes among the claims masked (the QR code holds them). A
 * proof that does not verify gets a page saying so and why, without its contents.
 */
export function renderProofPage(display: ProofDisplay, options: ProofPageOptions): string {
  const { result } = display;
  const verifyUrl = `${options.hubUrl.replace(/\/+$/, '')}/verify`;
  if (!result.valid) {
    return page('证明无效 Proof not valid', `<h1>证明无效<span class="en">This proof is not valid</span></h1>
<p class="verdict bad">${escapeHtml(proofReasonZh(result.reason))}<span class="en">${escapeHtml(result.reason)}</span></p>`, 'proof');
  }
  const title = titleOf(display, result);
  const embedded = options.qrText.startsWith(PROOF_QR_PREFIX);
  return page(`${title.zh} ${title.en}`, `<header class="doc-head">
<h1>${escapeHtml(title.zh)}<span class="en">${escapeHtml(title.en)}</span></h1>
<p class="issuer">${escapeHtml(display.departmentName ?? result.department)}</p>
</header>
<div class="doc-body">
${factsTable(display, result, true)}
<figure class="qr-box">
${qrSvg(options.qrText, `${title.zh}的二维码`)}
<figcaption>${embedded ? '二维码内含完整证明，可离线核验<span class="en">The QR code holds the whole proof: verifiable offline</span>' : '二维码为证明的查询地址<span class="en">The QR code is the proof’s address on the hub</span>'}</figcaption>
</figure>
</div>
${partsSections(display)}
<section class="how">
<h2>状态与核验<span class="en">Status and verification</span></h2>
<p>签发部门可随时撤销本证明（状态列表登记）：请以核验时的结果为准，不要只看纸面。<span class="en">The issuing department can revoke this proof at any time (status list): rely on a verification made now, not on the paper.</span></p>
<p>核验方法：扫描二维码，或打开 <strong>${escapeHtml(verifyUrl)}</strong> 粘贴二维码内容；也可使用 <code>datarun verify</code>。<span class="en">To verify: scan the QR code, or open ${escapeHtml(verifyUrl)} and paste its text; or run datarun verify.</span></p>
</section>`, 'proof');
}

/** The /verify form: paste a proof or a QR code's text. */
export function renderVerifyForm(message?: string): string {
  return page('核验证明 Verify a proof', `<h1>核验证明<span class="en">Verify a proof</span></h1>
${message ? `<p class="verdict bad" role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/verify">
<label for="proof">粘贴证明（SD-JWT）或二维码内容（DRP1:… 或 /p/… 地址）<span class="en">Paste the proof (SD-JWT) or the QR code’s text</span></label>
<textarea id="proof" name="proof" rows="10" required spellcheck="false" autocomplete="off"></textarea>
<button type="submit">核验 Verify</button>
</form>
<p class="muted">本页不记录、不保存您提交的内容。<span class="en">This page neither logs nor keeps what you submit.</span></p>`, 'verify');
}

/** The verdict of /verify: valid or not and why, then what the proof says. */
export function renderVerifyResult(display: ProofDisplay): string {
  const { result } = display;
  const again = '<p class="again"><a href="/verify">核验另一份证明<span class="en">Verify another proof</span></a></p>';
  if (!result.valid) {
    return page('证明无效 Proof not valid', `<h1>核验结果<span class="en">Verification result</span></h1>
<p class="verdict bad" role="status">证明无效：${escapeHtml(proofReasonZh(result.reason))}<span class="en">Not valid (${escapeHtml(result.reason)})</span></p>
${again}`, 'verify');
  }
  const title = titleOf(display, result);
  const verdict = result.keyBindingMissing
    ? `<p class="verdict partial" role="status">签发部分有效，但此证明绑定了持有人：须由持有人用其密钥签名（密钥绑定 JWT，含验证方给出的随机数 nonce）出示后方可作为依据。<span class="en">The issuer’s part is valid, but the proof is bound to a holder: rely on it only when the holder presents it with a key-binding JWT over your nonce.</span></p>`
    : result.status === 'SUSPENDED'
      ? `<p class="verdict partial" role="status">签名有效，但证明已被签发部门暂停。<span class="en">Signature valid, but the proof is suspended by its department.</span></p>`
      : `<p class="verdict good" role="status">证明有效<span class="en">Valid</span></p>`;
  return page(`核验结果 ${title.zh}`, `<h1>核验结果：${escapeHtml(title.zh)}<span class="en">Verification result: ${escapeHtml(title.en)}</span></h1>
${verdict}
${factsTable(display, result)}
${partsSections(display)}
${again}`, 'verify');
}

/** The text of a QR-payload or input problem for the form page. */
function problemText(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  return `内容无法识别：${message}`;
}

function sendHtml(res: http.ServerResponse, status: number, html: string, extra: Record<string, string> = {}): void {
  const bytes = Buffer.from(html, 'utf8');
  res.writeHead(status, {
    ...pageSecurityHeaders(PROOF_PAGES_CSP),
    'content-type': 'text/html; charset=utf-8',
    'content-length': bytes.length,
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(bytes);
}

/** Options of `createProofPageRoutes`. */
export interface ProofPageRoutesOptions {
  readonly source: ProofPagesSource;
}

/** The page of a reference that is unknown, expired, revoked or not a reference at all. */
function unknownProofPage(): string {
  return page('未找到证明 Not found', '<h1>未找到此证明<span class="en">No such proof</span></h1><p>证明编号不存在或已过期。<span class="en">The reference is unknown or has expired.</span></p>', 'proof');
}

/**
 * The proof pages' routes; `handle` answers `/p/<ref>`, `/verify`, `/proof/…`, or returns
 * undefined. Nothing here logs: a failure reaches the server's `settle`, which logs its name only.
 */
export function createProofPageRoutes(options: ProofPageRoutesOptions): {
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> | undefined;
} {
  const { source } = options;
  const files = readStaticFolder(path.join(__dirname, 'proof'), { '.css': 'text/css; charset=utf-8' });
  // Read per request: the source may learn its address once the server listens.
  const publicUrlOf = (): string => source.publicUrl.replace(/\/+$/, '');

  async function storedPage(res: http.ServerResponse, ref: string): Promise<void> {
    const token = await source.byReference(ref);
    if (token === undefined) {
      sendHtml(res, 404, unknownProofPage());
      return;
    }
    const display = await source.display(token);
    const publicUrl = publicUrlOf();
    const qrText = encodeProofForQr(token, { referenceUrl: `${publicUrl}/p/${ref}` }).text;
    sendHtml(res, 200, renderProofPage(display, { qrText, hubUrl: publicUrl }));
  }

  /** The token a pasted text stands for, or the problem to show. */
  async function tokenOf(text: string): Promise<{ token: string } | { problem: string; status: number }> {
    const trimmed = text.trim();
    if (trimmed === '') return { problem: '请粘贴证明或二维码内容。', status: 400 };
    if (trimmed.startsWith(PROOF_QR_PREFIX) || /^https?:\/\//i.test(trimmed)) {
      let decoded;
      try {
        // Whitespace before the prefix is never part of the payload; after it, a space may be (Base45).
        decoded = decodeProofFromQr(trimmed.startsWith(PROOF_QR_PREFIX) ? text.replace(/^\s+/, '') : trimmed);
      } catch (error) {
        return { problem: problemText(error), status: 200 };
      }
      if ('token' in decoded) return { token: decoded.token };
      if (new URL(decoded.reference).origin !== new URL(publicUrlOf()).origin) return { problem: `该二维码指向另一个网站（${new URL(decoded.reference).origin}），请在该网站核验。`, status: 200 };
      const token = await source.byReference(decoded.ref);
      return token === undefined ? { problem: '证明编号不存在或已过期。', status: 200 } : { token };
    }
    return { token: trimmed };
  }

  async function verifyPost(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const type = mediaTypeOf(headerValue(req.headers['content-type']));
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      sendHtml(res, 415, renderVerifyForm('请通过本页表单提交（application/x-www-form-urlencoded）。'));
      return;
    }
    const body = await readBody(req, VERIFY_BODY_LIMIT);
    if (!Buffer.isBuffer(body)) {
      res.setHeader('connection', 'close');
      sendHtml(res, 413, renderVerifyForm(`提交的内容超过 ${VERIFY_BODY_LIMIT / 1024} KiB。`));
      res.once('finish', () => req.destroy());
      return;
    }
    const found = await tokenOf(new URLSearchParams(body.toString('utf8')).get('proof') ?? '');
    if ('problem' in found) {
      sendHtml(res, found.status, renderVerifyForm(found.problem));
      return;
    }
    sendHtml(res, 200, renderVerifyResult(await source.display(found.token)));
  }

  return {
    handle(req, res, url) {
      const p = url.pathname;
      const ref = REF_PATH.exec(p)?.[1];
      // Every /p/… path is a proof's page: one that cannot be a reference (too long, other characters) is an unknown one.
      const ours = p.startsWith('/p/') || p === '/verify' || p.startsWith('/proof/');
      if (!ours) return undefined;
      const method = req.method ?? 'GET';
      if (p === '/verify' && method === 'POST') return verifyPost(req, res);
      req.resume();
      if (method !== 'GET' && method !== 'HEAD') {
        sendHtml(res, 405, renderVerifyForm(), { allow: p === '/verify' ? 'GET, HEAD, POST' : 'GET, HEAD' });
        return Promise.resolve();
      }
      if (ref !== undefined) return storedPage(res, ref);
      if (p.startsWith('/p/')) {
        sendHtml(res, 404, unknownProofPage());
        return Promise.resolve();
      }
      if (p === '/verify') {
        sendHtml(res, 200, renderVerifyForm());
        return Promise.resolve();
      }
      const file = files.get(p.slice('/proof/'.length));
      if (!file) {
        sendHtml(res, 404, page('未找到 Not found', '<h1>未找到<span class="en">Not found</span></h1>', 'proof'));
        return Promise.resolve();
      }
      res.writeHead(200, { ...pageSecurityHeaders(PROOF_PAGES_CSP), 'content-type': file.type, 'content-length': file.bytes.length, 'cache-control': 'no-cache' });
      res.end(file.bytes);
      return Promise.resolve();
    },
  };
}
