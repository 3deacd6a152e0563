// The auditor console. Plain ES module, no framework: every value from the hub goes into the page
// through textContent, never as HTML. All calls are same-origin JSON POSTs carrying the console's
// header; the session lives in an HttpOnly cookie this script cannot read.
import { fetchHeads, fetchProof } from './audit-api.js';
import { leafHash, toBase64url, verifyInclusion, verifyJws } from './merkle.js';

const $ = (id) => document.getElementById(id);
const CSRF_HEADER = 'x-datarun-console';

const state = { session: null, filter: null, cursors: [null], page: 0, nodes: [], opener: null, shown: null, proofTicket: 0, jwks: null };

function setStatus(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

async function post(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  let json = {};
  try {
    json = await res.json();
  } catch {
    json = {};
  }
  if (res.status === 401 && path === '/console/graphql') signedOut('会话已结束,请重新登录。Session ended: sign in again.');
  return { status: res.status, json };
}

function errorText(reply) {
  const error = reply.json.errors && reply.json.errors[0];
  if (!error) return `HTTP ${reply.status}`;
  const code = error.extensions && error.extensions.code;
  return `${code || reply.status}: ${error.message}`;
}

/** A GraphQL call through the hub's pipeline as the session's consumer. */
function gql(query, variables, operationName, context) {
  return post('/console/graphql', { query, variables, operationName, ...context });
}

const auditContext = () => ({ purpose: 'AUDIT', caseNumber: $('audit-case').value.trim() || (state.session && state.session.caseNumber) || '' });
const auditGql = (query, variables, operationName) => gql(query, variables, operationName, auditContext());

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined || text === '' ? '—' : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function field(list, term, value, className) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value === null || value === undefined || value === '' ? '—' : String(value);
  if (className) dd.className = className;
  list.append(dt, dd);
}

const localTime = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—');

// ── Session ─────────────────────────────────────────────────────────────────────────────────

function signedIn(session) {
  state.session = session;
  $('signin').hidden = true;
  $('who').hidden = false;
  $('who-text').textContent = `${session.consumer} · 经办人 ${session.operator} · 至 ${localTime(session.absoluteExpiresAt)}`;
  const auditor = session.roles.includes('auditor');
  $('search').hidden = !auditor;
  $('heads').hidden = !auditor;
  $('citizen').hidden = !session.roles.includes('consent-issuer');
  if (session.caseNumber) {
    $('audit-case').value = session.caseNumber;
    $('citizen-case').value = session.caseNumber;
  }
  if (auditor) void loadHeads();
}

function signedOut(message) {
  state.session = null;
  state.nodes = [];
  for (const id of ['who', 'search', 'heads', 'citizen', 'record', 'results', 'citizen-results']) $(id).hidden = true;
  clear($('results-body'));
  clear($('citizen-body'));
  $('citizen-consent').value = '';
  $('signin').hidden = false;
  setStatus(message || '', Boolean(message));
}

async function exchange(token) {
  setStatus('正在登录… Signing in…');
  const reply = await post('/console/session', { token });
  if (reply.status === 200) {
    setStatus('已登录。Signed in.');
    signedIn(reply.json.session);
    const first = !$('search').hidden ? $('search-title') : $('citizen-title');
    first.focus();
  } else {
    signedOut(`登录失败 Sign-in failed: ${errorText(reply)}`);
    $('signin-code').focus();
  }
}

/** A sign-in URL's token (`#login=…`), taken out of the address bar and the history at once; or undefined. */
function takeLoginToken() {
  const hash = window.location.hash;
  if (!hash.startsWith('#login=')) return undefined;
  window.history.replaceState(null, '', window.location.pathname);
  return decodeURIComponent(hash.slice('#login='.length));
}

/** Fills the department choice of the search form with this hub's departments. */
async function loadDepartments() {
  const res = await fetch('/console/departments', { credentials: 'same-origin' });
  if (!res.ok) return;
  const select = document.getElementById('department');
  for (const { id, title } of (await res.json()).departments) {
    const option = document.createElement('option');
    option.value = id;
    option.textContent = `${title} (${id})`;
    select.append(option);
  }
}

async function start() {
  void loadDepartments();
  // A sign-in URL opened in a tab that already shows the console changes only the fragment.
  window.addEventListener('hashchange', () => {
    const token = takeLoginToken();
    if (token) void exchange(token);
  });
  const token = takeLoginToken();
  if (token) {
    await exchange(token);
    return;
  }
  const reply = await post('/console/session/current', {});
  if (reply.status === 200) signedIn(reply.json.session);
  else signedOut();
}

/** A consumer as shown: a peer hub's request names the consumer there it was made for (跨域通办). */
function viaText(consumer, via) {
  return via ? `${via.consumer} @ ${via.hub}(经 via ${consumer ?? '—'})` : consumer;
}

// ── Search ──────────────────────────────────────────────────────────────────────────────────

const RECORD_FIELDS = 'seq time instance requestId consumer operator purpose caseNumber operationName operationHash outcome errorCodes subjects { kind mask } fields { department coordinates } replyHash receiptId correlationId source count windowFrom windowTo onBehalfOf { hub consumer request } federationRequestId hash';
const SEARCH_QUERY = `query ConsoleSearch($f: AccessLogFilter, $n: Int, $after: String) { accessLog(filter: $f, first: $n, after: $after) { edges { cursor node { ${RECORD_FIELDS} } } pageInfo { hasNextPage endCursor } } }`;

function isoOf(local) {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function filterFromForm() {
  const f = {};
  const subjectId = $('subject-id').value.trim();
  if (subjectId) f.subject = { kind: $('subject-kind').value, id: subjectId };
  for (const [id, key] of [['consumer', 'consumer'], ['department', 'department'], ['purpose', 'purpose'], ['case-number', 'caseNumber'], ['outcome', 'outcome'], ['federation-request-id', 'federationRequestId']]) {
    const value = $(id).value.trim();
    if (value) f[key] = value;
  }
  const from = isoOf($('from').value);
  if (from) f.from = from;
  const to = isoOf($('to').value);
  if (to) f.to = to;
  return f;
}

function updateExportLink() {
  const f = state.filter || {};
  const q = new URLSearchParams();
  q.set('format', $('export-format').value);
  q.set('auditCase', auditContext().caseNumber);
  if (f.consumer) q.set('consumer', f.consumer);
  if (f.subject) {
    q.set('subjectKind', f.subject.kind);
    q.set('subjectId', f.subject.id);
  }
  if (f.caseNumber) q.set('caseNumber', f.caseNumber);
  if (f.from) q.set('from', f.from);
  if (f.to) q.set('to', f.to);
  $('export-link').href = `/console/export?${q.toString()}`;
  const dropped = ['department', 'purpose', 'outcome', 'federationRequestId'].filter((k) => f[k]);
  $('export-note').textContent = dropped.length
    ? `导出按调用方、主体、办件编号和时间筛选,不含 ${dropped.join('、')} 条件。The export filters by consumer, subject, case and time only.`
    : '导出文件附带本中心签名的清单(记录数、序号范围、SHA-256)。The export carries the hub-signed manifest.';
}

async function runSearch(pageIndex) {
  const caseNumber = auditContext().caseNumber;
  if (!caseNumber) {
    setStatus('请填写本次审计编号。Enter the audit case.', true);
    $('audit-case').focus();
    return;
  }
  setStatus('查询中… Searching…');
  const first = Number($('page-size').value) || 50;
  const reply = await auditGql(SEARCH_QUERY, { f: state.filter, n: first, after: state.cursors[pageIndex] }, 'ConsoleSearch');
  if (reply.status !== 200 || reply.json.errors) {
    setStatus(`查询失败 Search failed: ${errorText(reply)}`, true);
    return;
  }
  const connection = reply.json.data.accessLog;
  state.page = pageIndex;
  state.cursors[pageIndex + 1] = connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : undefined;
  state.nodes = connection.edges.map((e) => e.node);
  const body = $('results-body');
  clear(body);
  state.nodes.forEach((node, index) => {
    const row = document.createElement('tr');
    cell(row, node.seq);
    cell(row, localTime(node.time));
    cell(row, viaText(node.consumer, node.onBehalfOf));
    cell(row, node.operator);
    cell(row, node.purpose);
    cell(row, node.caseNumber);
    cell(row, node.outcome);
    const action = document.createElement('td');
    const open = document.createElement('button');
    open.type = 'button';
    open.textContent = '查看';
    open.setAttribute('aria-label', `查看记录 ${node.seq} Open record ${node.seq}`);
    open.dataset.index = String(index);
    open.addEventListener('click', () => openRecord(index, open));
    action.appendChild(open);
    row.appendChild(action);
    body.appendChild(row);
  });
  $('results-caption').textContent = `第 ${pageIndex + 1} 页,${state.nodes.length} 条记录 (page ${pageIndex + 1}, ${state.nodes.length} records, newest first)`;
  $('prev-page').disabled = pageIndex === 0;
  $('next-page').disabled = !connection.pageInfo.hasNextPage;
  $('results').hidden = false;
  $('record').hidden = true;
  updateExportLink();
  setStatus(`找到 ${state.nodes.length} 条记录。${state.nodes.length} records.`);
  $('results-title').focus();
}

// ── One record and its proof ────────────────────────────────────────────────────────────────

async function jwks() {
  if (!state.jwks) {
    const res = await fetch('/.well-known/jwks.json', { credentials: 'omit' });
    state.jwks = await res.json();
  }
  return state.jwks;
}

/** Checks a head's signature, and that what it signs is the head shown. */
async function checkHead(head) {
  const result = await verifyJws(head.jws, await jwks());
  if (!result.valid) return { valid: false, reason: result.reason };
  const p = result.payload;
  const differs = (name, value) => p[name] !== undefined && p[name] !== value;
  if (differs('root', head.root) || differs('size', head.size) || differs('instance', head.instance)) return { valid: false, reason: 'HEAD_MISMATCH' };
  return { valid: true };
}

async function showProof(node) {
  // Only the latest opening of a record writes its proof status.
  const ticket = ++state.proofTicket;
  const current = () => ticket === state.proofTicket && state.shown === node;
  const status = $('proof-status');
  const detail = $('proof-fields');
  clear(detail);
  $('proof-detail').hidden = true;
  status.className = 'proof';
  status.textContent = '正在获取包含证明… Fetching the inclusion proof…';
  let proof = await fetchProof(auditGql, node.instance, node.seq);
  // A record newer than the newest signed head (the unsigned window, about a second): ask again a few times.
  for (let attempt = 0; attempt < 10 && proof.ok && !proof.value && current(); attempt++) {
    status.textContent = '该记录尚未被签名树头覆盖,稍后重试… Not yet covered by a signed head: retrying…';
    await new Promise((resolve) => setTimeout(resolve, 1000));
    proof = await fetchProof(auditGql, node.instance, node.seq);
  }
  if (!current()) return;
  if (!proof.ok) {
    status.textContent = proof.unavailable
      ? `本中心尚未提供包含证明 (auditProof: ${proof.code})。Inclusion proofs are not available on this hub.`
      : `无法获取包含证明 Proof unavailable: ${proof.code} ${proof.message}`;
    status.classList.add('error');
    return;
  }
  const p = proof.value;
  if (!p) {
    status.textContent = '该记录尚未被签名树头覆盖(最多约一秒),请稍后再试。Not yet covered by a signed head: try again shortly.';
    return;
  }
  field(detail, '叶序号 Leaf index', p.leafIndex);
  field(detail, '树大小 Tree size', p.treeSize);
  field(detail, '叶哈希 Leaf hash', p.leafHash, 'hash');
  field(detail, '路径 Path', p.path.join(' '), 'hash');
  field(detail, '根哈希 Root', p.head.root, 'hash');
  $('proof-detail').hidden = false;
  // The leaf is this record: the stored line hashes to the leaf and names the record shown.
  let stored = null;
  try {
    stored = JSON.parse(p.line);
  } catch {
    stored = null;
  }
  const lineMatches = !!stored && stored.seq === node.seq && stored.instance === node.instance && stored.requestId === node.requestId && stored.hash === node.hash && toBase64url(await leafHash(p.line)) === p.leafHash;
  const sameRecord = lineMatches && p.instance === node.instance && p.seq === node.seq && p.leafIndex === node.seq - 1 && p.head.instance === node.instance && p.treeSize === p.head.size;
  const included = sameRecord && (await verifyInclusion({ leafIndex: p.leafIndex, treeSize: p.treeSize, leafHash: p.leafHash, path: p.path, root: p.head.root }));
  const signature = await checkHead(p.head);
  if (!current()) return;
  if (included && signature.valid) {
    status.textContent = `已验证:包含于大小为 ${p.head.size} 的树头,签名于 ${p.head.time}。Verified against head of size ${p.head.size} signed at ${p.head.time}.`;
    status.classList.add('ok');
  } else {
    status.textContent = `验证失败 Verification FAILED: ${included ? '' : lineMatches ? '包含证明不成立 inclusion proof invalid; ' : '证明不属于此记录 the proof is not about this record; '}${signature.valid ? '' : `树头签名无效 head signature ${signature.reason}`}`;
    status.classList.add('error');
  }
}

function openRecord(index, opener) {
  const node = state.nodes[index];
  state.opener = opener;
  state.shown = node;
  const list = $('record-fields');
  clear(list);
  field(list, '序号 Seq', node.seq);
  field(list, '实例 Instance', node.instance);
  field(list, '时间 Time', `${localTime(node.time)} (${node.time})`);
  field(list, '请求编号 Request id', node.requestId);
  field(list, '调用方 Consumer', node.consumer);
  if (node.onBehalfOf) field(list, '代办 On behalf of', `${node.onBehalfOf.consumer} @ ${node.onBehalfOf.hub} (对方请求编号 its request id ${node.onBehalfOf.request})`);
  if (node.federationRequestId) field(list, '跨域请求编号 Federation request id', node.federationRequestId);
  field(list, '经办人 Operator', node.operator);
  field(list, '事由 Purpose', node.purpose);
  field(list, '办件编号 Case', node.caseNumber);
  field(list, '操作名 Operation', node.operationName);
  field(list, '结果 Outcome', node.outcome);
  field(list, '错误码 Error codes', node.errorCodes.join(', '));
  field(list, '主体(已脱敏)Subjects (masked)', node.subjects.map((s) => `${s.kind} ${s.mask}`).join('; '));
  field(list, '读取字段 Fields read', node.fields.map((f) => `${f.department}: ${f.coordinates.join(', ')}`).join('; '));
  field(list, '来源 Source', node.source);
  if (node.count !== 1) field(list, '合计请求数 Requests counted', `${node.count} (${node.windowFrom} – ${node.windowTo})`);
  field(list, '应答哈希 Reply hash', node.replyHash, 'hash');
  field(list, '记录哈希 Record hash', node.hash, 'hash');
  $('record').hidden = false;
  $('record-title').focus();
  void showProof(node);
}

// ── Heads ───────────────────────────────────────────────────────────────────────────────────

async function loadHeads() {
  const status = $('heads-status');
  status.textContent = '正在获取… Loading…';
  const heads = await fetchHeads(auditGql);
  const body = $('heads-body');
  clear(body);
  if (!heads.ok) {
    $('heads-table').hidden = true;
    status.textContent = heads.unavailable
      ? `本中心尚未提供签名树头 (auditHeads: ${heads.code})。Signed tree heads are not available on this hub.`
      : `无法获取 Unavailable: ${heads.code} ${heads.message}`;
    return;
  }
  for (const head of heads.value) {
    const row = document.createElement('tr');
    cell(row, head.instance);
    cell(row, head.size);
    cell(row, head.root, 'hash');
    cell(row, localTime(head.time));
    const check = await checkHead(head);
    cell(row, check.valid ? '有效 valid' : `无效 INVALID (${check.reason})`);
    body.appendChild(row);
  }
  $('heads-table').hidden = false;
  status.textContent = `${heads.value.length} 个实例 instances`;
}

// ── Citizen view ────────────────────────────────────────────────────────────────────────────

const CITIZEN_QUERY = 'query ConsoleCitizen($id: ID!, $n: Int) { dataAccesses(idNumber: $id, first: $n) { edges { node { time consumer via { hub consumer } purpose caseNumber departments outcome } } pageInfo { hasNextPage } } }';

async function runCitizen() {
  const idNumber = $('citizen-id').value.trim();
  const consent = $('citizen-consent').value.trim();
  const caseNumber = $('citizen-case').value.trim();
  setStatus('查询中… Searching…');
  const reply = await gql(CITIZEN_QUERY, { id: idNumber, n: 100 }, 'ConsoleCitizen', { purpose: 'CITIZEN_ACCESS_VIEW', caseNumber, consent });
  // The consent token is not kept in the page once used.
  $('citizen-consent').value = '';
  if (reply.status !== 200 || reply.json.errors) {
    setStatus(`查询失败 Failed: ${errorText(reply)}`, true);
    return;
  }
  const edges = reply.json.data.dataAccesses.edges;
  const body = $('citizen-body');
  clear(body);
  for (const { node } of edges) {
    const row = document.createElement('tr');
    cell(row, localTime(node.time));
    cell(row, viaText(node.consumer, node.via));
    cell(row, node.purpose);
    cell(row, node.caseNumber);
    cell(row, node.departments.join('、'));
    cell(row, node.outcome);
    body.appendChild(row);
  }
  $('citizen-caption').textContent = `${edges.length} 次访问 (${edges.length} accesses, newest first)`;
  $('citizen-results').hidden = false;
  setStatus(`找到 ${edges.length} 次访问。${edges.length} accesses.`);
  $('citizen-results-title').focus();
}

// ── Wiring ──────────────────────────────────────────────────────────────────────────────────

function wire() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const code = $('signin-code').value.trim();
    $('signin-code').value = '';
    void exchange(code.includes('#login=') ? code.slice(code.indexOf('#login=') + 7) : code);
  });
  $('search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    state.filter = filterFromForm();
    state.cursors = [null];
    void runSearch(0);
  });
  $('next-page').addEventListener('click', () => void runSearch(state.page + 1));
  $('prev-page').addEventListener('click', () => void runSearch(Math.max(0, state.page - 1)));
  $('export-format').addEventListener('change', updateExportLink);
  $('audit-case').addEventListener('change', updateExportLink);
  $('close-record').addEventListener('click', () => {
    state.shown = null;
    $('record').hidden = true;
    if (state.opener && document.body.contains(state.opener)) state.opener.focus();
    else $('results-title').focus();
  });
  $('refresh-heads').addEventListener('click', () => void loadHeads());
  $('citizen-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void runCitizen();
  });
  $('logout').addEventListener('click', async () => {
    await post('/console/logout', {});
    signedOut('已退出登录。Signed out.');
    $('signin-code').focus();
  });
}

wire();
void start();
