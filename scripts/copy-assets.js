// Copies the non-TypeScript files the compiled code reads at run time into dist/: WSDL documents,
// the auditor console's and the landing page's static files (plain HTML, CSS and browser JS, served as they are).
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const ASSET = /\.(wsdl|xsd)$/;

function copy(dir, pattern = ASSET) {
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) copy(rel, pattern);
    else if (pattern.test(entry.name)) {
      fs.mkdirSync(path.join(root, 'dist', dir), { recursive: true });
      fs.copyFileSync(path.join(root, rel), path.join(root, 'dist', rel));
    }
  }
}
copy('departments');
// Each connector folder's SDL (and data files such as a classification), read next to its compiled module.
copy('connectors', /\.(graphql|json)$/);
copy('src/http/console', /\.(html|css|js|svg|png)$/);
// The signed hub's landing page. (The explorer's sources are not copied: scripts/build-explorer.js bundles them.)
copy('src/http/landing', /\.(html|css|js)$/);
// The proof pages' stylesheet (src/http/proof-pages.ts).
copy('src/http/proof', /\.css$/);
