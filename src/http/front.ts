/**
 * The hub's front page and its public companions (docs/explorer.md):
 *
 * - open mode (`security.mode: open`, the sandbox demo): `GET /` and `GET /explorer` serve the
 *   GraphiQL explorer, a browser bundle built by `scripts/build-explorer.js` into
 *   dist/src/http/explorer/ and served from there, with the worked examples the server was given
 *   at `/explorer/examples.json`;
 * - signed mode: `GET /` serves the landing page (./landing: plain HTML, CSS and one ES module),
 *   which explains how to sign a request and links the public endpoints;
 * - both: `GET /departments`, each connector's id, name, ok/down and probe latency, probed at most
 *   once per `DEPARTMENTS_CACHE_MS` whatever the number of callers (the page cannot be used to
 *   hammer the departments); `GET /docs/…`, the project's documents as plain text.
 *
 * Static files are fixed sets read from known folders: no path from a URL reaches the file
 * system. No personal data is served by any of these routes.
 */
import { existsSync, statSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Gateway } from '../gateway';
import { CONSOLE_CSP } from './console';
import { headerValue, pageSecurityHeaders, readStaticFolder, sendJson, type StaticFile } from './io';

/** One worked query of the explorer's tabs, with its variables. */
export interface ExplorerExample {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
}

/** The landing page's policy: the console's (scripts, styles, fetches from 'self' only). */
export const LANDING_CSP = CONSOLE_CSP;
/**
 * The explorer's policy: as strict as the landing page's for scripts (no eval, no inline script),
 * with two allowances, on the explorer's responses only: GraphiQL's stylesheet carries its fonts
 * and icons as data: URLs (in the file, never a request), and its dialogs' scroll lock adds a
 * <style> element when one opens, so `<style>` elements may be inline ('unsafe-inline' in
 * style-src-elem only); style attributes in markup stay refused (style-src-attr 'none'; the
 * styles React and CodeMirror set through the DOM are not markup).
 */
export const EXPLORER_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-elem 'self' 'unsafe-inline'; style-src-attr 'none'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** How long one round of health probes answers `GET /departments`. */
export const DEPARTMENTS_CACHE_MS = 2000;
/** A department whose probe takes longer is reported down. */
const PROBE_TIMEOUT_MS = 3000;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};


/** The project's root (its package.json), from src/http or dist/src/http. */
function projectRoot(): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Where the built explorer is: next to this module once compiled (dist/src/http/explorer), or in
 * the project's dist/ when the hub runs from its sources (the tests); the build leaves a
 * `build.json` there, which the folder of sources never has.
 */
function explorerDir(): string | undefined {
  const root = projectRoot();
  const candidates = [path.join(__dirname, 'explorer'), ...(root ? [path.join(root, 'dist', 'src', 'http', 'explorer')] : [])];
  return candidates.find((dir) => existsSync(path.join(dir, 'build.json')));
}

/** The front page's routes; `handle` answers `/`, `/explorer…`, `/landing/…`, `/departments` and `/docs/…`, or returns undefined. */
export function createFrontRoutes(options: { gateway: Gateway; examples?: readonly ExplorerExample[] }): {
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> | undefined;
} {
  const { gateway } = options;
  const open = gateway.security === 'open';
  const landing = readStaticFolder(path.join(__dirname, 'landing'), TYPES);
  const root = projectRoot();
  const docs = root ? readStaticFolder(path.join(root, 'docs'), TYPES) : new Map<string, StaticFile>();
  for (const name of [...docs.keys()]) if (!name.endsWith('.md')) docs.delete(name);

  // The explorer's bundle, read when first asked for and again whenever its build.json changes (a rebuild while the hub runs).
  let explorer: { dir: string; stamp: number; files: Map<string, StaticFile> } | undefined;
  function explorerFiles(): Map<string, StaticFile> | undefined {
    const dir = explorerDir();
    if (!dir) return explorer?.files;
    let stamp: number;
    try {
      stamp = statSync(path.join(dir, 'build.json')).mtimeMs;
    } catch {
      // A rebuild is replacing the folder this instant: the bundle read before still serves.
      return explorer?.files;
    }
    if (!explorer || explorer.dir !== dir || explorer.stamp !== stamp) explorer = { dir, stamp, files: readStaticFolder(dir, TYPES, true) };
    return explorer.files;
  }
  const examples = Buffer.from(JSON.stringify({ examples: options.examples ?? [] }), 'utf8');

  let health: { at: number; body: Promise<unknown> } | undefined;
  /** One round of probes shared by every caller within DEPARTMENTS_CACHE_MS (and by those arriving while it runs). */
  function departments(): Promise<unknown> {
    const now = Date.now();
    if (health && now - health.at < DEPARTMENTS_CACHE_MS) return health.body;
    const body = Promise.all(
      gateway.connectors.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<{ ok: false; latencyMs: number }>((resolve) => {
          timer = setTimeout(() => resolve({ ok: false, latencyMs: PROBE_TIMEOUT_MS }), PROBE_TIMEOUT_MS);
        });
        const report = await Promise.race([c.health(), late]).finally(() => clearTimeout(timer));
        // The probe's reason stays in the hub: it may name an internal host.
        return { id: c.id, title: c.title, ok: report.ok, latencyMs: report.latencyMs };
      }),
    ).then((list) => ({ checkedAt: new Date().toISOString(), departments: list }));
    health = { at: now, body };
    return body;
  }

  function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: StaticFile | undefined, csp: string): void {
    if (!file) {
      sendJson(res, 404, { error: 'No such file.' }, pageSecurityHeaders(csp));
      return;
    }
    const gzip = file.gzip && /\bgzip\b/.test(headerValue(req.headers['accept-encoding']) ?? '');
    const bytes = gzip ? file.gzip! : file.bytes;
    res.writeHead(200, {
      ...pageSecurityHeaders(csp),
      'content-type': file.type,
      'content-length': bytes.length,
      'cache-control': 'no-cache',
      ...(file.gzip ? { vary: 'accept-encoding' } : {}),
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(bytes);
  }

  function explorerPage(req: http.IncomingMessage, res: http.ServerResponse, name: string): void {
    if (!open) {
      sendJson(res, 404, { error: 'The explorer runs only in the open sandbox mode; see / for how to sign a request.' }, pageSecurityHeaders(LANDING_CSP));
      return;
    }
    if (name === 'examples.json') {
      res.writeHead(200, { ...pageSecurityHeaders(EXPLORER_CSP), 'content-type': 'application/json; charset=utf-8', 'content-length': examples.length, 'cache-control': 'no-store' });
      res.end(examples);
      return;
    }
    const files = explorerFiles();
    if (!files) {
      sendJson(res, 503, { error: 'The explorer is not built: run `npm run build:explorer` (or `npm run build`).' }, pageSecurityHeaders(EXPLORER_CSP));
      return;
    }
    sendFile(req, res, name === 'build.json' ? undefined : files.get(name), EXPLORER_CSP);
  }

  return {
    handle(req, res, url) {
      const p = url.pathname;
      const ours = p === '/' || p === '/explorer' || p.startsWith('/explorer/') || p.startsWith('/landing/') || p === '/departments' || p === '/docs' || p.startsWith('/docs/');
      if (!ours) return undefined;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        req.resume();
        sendJson(res, 405, { error: `Use GET for ${p.slice(0, 200)}.` }, { ...pageSecurityHeaders(LANDING_CSP), allow: 'GET, HEAD' });
        return Promise.resolve();
      }
      if (p === '/departments') {
        return departments().then((body) => sendJson(res, 200, body, { ...pageSecurityHeaders(LANDING_CSP), 'cache-control': 'no-store' }));
      }
      if (p === '/' || p === '/explorer' || p === '/explorer/') {
        if (open) explorerPage(req, res, 'index.html');
        else if (p === '/') sendFile(req, res, landing.get('index.html'), LANDING_CSP);
        else explorerPage(req, res, '');
      } else if (p.startsWith('/explorer/')) {
        explorerPage(req, res, p.slice('/explorer/'.length));
      } else if (p.startsWith('/landing/')) {
        sendFile(req, res, landing.get(p.slice('/landing/'.length)), LANDING_CSP);
      } else if (p === '/docs' || p === '/docs/') {
        const list = [...docs.keys()].sort();
        const index = Buffer.from(`datarun documents (plain text):\n\n${list.map((n) => `/docs/${n}`).join('\n')}\n`, 'utf8');
        sendFile(req, res, { type: TYPES['.txt']!, bytes: index }, LANDING_CSP);
      } else {
        sendFile(req, res, docs.get(p.slice('/docs/'.length)), LANDING_CSP);
      }
      return Promise.resolve();
    },
  };
}
