// Builds the GraphiQL explorer of the open sandbox mode (docs/explorer.md) into
// dist/src/http/explorer/: one minified browser bundle (React, GraphiQL, its CodeMirror 5
// editors) and its CSS with esbuild, next to the page's own HTML and CSS. The hub serves that
// folder; nothing is fetched from anywhere else. `npm run build` runs it; the browser test runs
// it before starting Chromium. The output is generated, never committed (dist/ is git-ignored).
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const source = path.join(root, 'src/http/explorer');
const out = path.join(root, 'dist/src/http/explorer');

async function main() {
  const started = Date.now();
  // Built beside the target and renamed over it, so a hub (or a second build) never reads half a bundle.
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(out), '.explorer-'));
  try {
    await esbuild.build({
      entryPoints: { explorer: path.join(source, 'explorer.js') },
      bundle: true,
      minify: true,
      format: 'iife',
      target: ['chrome109', 'firefox115', 'safari16'],
      platform: 'browser',
      define: { 'process.env.NODE_ENV': '"production"' },
      legalComments: 'linked',
      outdir: tmp,
      logLevel: 'warning',
    });
    for (const name of ['index.html', 'page.css']) fs.copyFileSync(path.join(source, name), path.join(tmp, name));
    // The hub serves the folder once this file is there (src/http/front.ts), and rereads it when it changes.
    fs.writeFileSync(path.join(tmp, 'build.json'), `${JSON.stringify({ builtAt: new Date().toISOString(), esbuild: esbuild.version })}\n`);
    fs.chmodSync(tmp, 0o755);
    // The old folder is moved aside, not removed first: a hub misses the bundle only between two renames.
    const old = path.join(path.dirname(out), `.explorer-old-${process.pid}-${Date.now()}`);
    try {
      fs.renameSync(out, old);
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
    try {
      fs.renameSync(tmp, out);
    } catch (error) {
      // Another build (a test's, `npm run build` beside it) put its identical bundle there first: keep it.
      if (!['ENOTEMPTY', 'EEXIST'].includes(error.code) || !fs.existsSync(path.join(out, 'build.json'))) throw error;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    fs.rmSync(old, { recursive: true, force: true });
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  const sizes = fs.readdirSync(out).map((name) => `${name} ${Math.round(fs.statSync(path.join(out, name)).size / 1024)} KiB`);
  if (!process.argv.includes('--quiet')) process.stdout.write(`explorer built in ${Date.now() - started} ms: ${sizes.join(', ')}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
