// The GraphiQL explorer of the open sandbox mode (docs/explorer.md): bundled at build time by
// scripts/build-explorer.js into dist/src/http/explorer/ and served by the hub itself, pointed at
// its own /graphql. No request leaves the hub's origin: the queries go to /graphql, the worked
// examples come from /explorer/examples.json, the fonts are inside the CSS.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';

/** The names of the operations a document defines (enough to check a name against, not a parser). */
function operationNames(query) {
  return [...String(query ?? '').matchAll(/\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/g)].map((m) => m[1]);
}

/** Sends one GraphQL request to the hub's /graphql, unsigned (the open mode takes it). */
async function fetcher(params) {
  // GraphiQL 3 can send the operation name of the tab it just left: a name the document does not define is dropped.
  const body = { ...params };
  if (body.operationName && !operationNames(body.query).includes(body.operationName)) delete body.operationName;
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  return res.json();
}

async function examples() {
  try {
    const res = await fetch('/explorer/examples.json', { credentials: 'same-origin' });
    if (!res.ok) return [];
    const body = await res.json();
    return Array.isArray(body.examples) ? body.examples : [];
  } catch {
    return [];
  }
}

async function main() {
  const tabs = (await examples()).map((e) => ({ query: e.query, variables: JSON.stringify(e.variables ?? {}, null, 2) }));
  const root = createRoot(document.getElementById('explorer'));
  root.render(
    createElement(GraphiQL, {
      fetcher,
      defaultTabs: tabs.length > 0 ? tabs : undefined,
      // GraphiQL 3 fills the variables editor from this prop, not from the first tab.
      variables: tabs.length > 0 ? tabs[0].variables : undefined,
      defaultEditorToolsVisibility: 'variables',
      // Nothing kept between visits: the examples are the seed's, and a hub restarted on another seed has other ones.
      storage: memoryStorage(),
      shouldPersistHeaders: false,
    }),
  );
}

/** GraphiQL's storage interface over a Map: the page writes nothing into the browser's storage. */
function memoryStorage() {
  const map = new Map();
  return {
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => map.set(key, String(value)),
    removeItem: (key) => map.delete(key),
    clear: () => map.clear(),
    get length() {
      return map.size;
    },
  };
}

void main();
