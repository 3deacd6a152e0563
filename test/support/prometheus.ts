/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every
 * line must be a HELP, a TYPE or a sample of a family whose TYPE came first, with well-formed
 * names, label pairs, escapes and values; anything else throws, naming the line.
 */

/** One sample: its full name (`x_bucket`…), labels and value. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family: its type, help text and samples. */
export interface PromFamily {
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  readonly samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;
const SUFFIXES: Record<PromFamily['type'], readonly string[]> = { counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

const unescape = (s: string): string => s.replace(/\\([\\"n])/g, (_, c: string) => (c === 'n' ? '\n' : c));

function value(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value in: ${line}`);
  return Number(text);
}

/** Parses a scrape; throws on the first line that does not follow the format. */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === 'TYPE') {
        if (families.get(name)?.samples.length) throw new Error(`TYPE after samples in: ${line}`);
        if (!(rest in SUFFIXES)) throw new Error(`bad type in: ${line}`);
        families.set(name, { type: rest as PromFamily['type'], help: families.get(name)?.help ?? '', samples: [] });
      } else {
        const family = families.get(name) ?? { type: 'untyped' as const, help: '', samples: [] };
        family.help = rest.replace(/\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        families.set(name, family);
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const [, name, labelText = '', raw] = m as unknown as [string, string, string | undefined, string];
    const family = [...families.entries()].find(([f, fam]) => SUFFIXES[fam.type].some((s) => name === f + s));
    if (!family) throw new Error(`sample of no declared family: ${line}`);
    const labels: Record<string, string> = {};
    for (let rest = labelText; rest.length > 0; ) {
      const l = LABEL.exec(rest);
      if (!l) throw new Error(`bad labels in: ${line}`);
      if (l[1]! in labels) throw new Error(`repeated label ${l[1]} in: ${line}`);
      labels[l[1]!] = unescape(l[2]!);
      rest = rest.slice(l[0].length);
      if (l[3] === ',' && rest.length === 0) throw new Error(`trailing comma in: ${line}`);
    }
    family[1].samples.push({ name, labels, value: value(raw, line) });
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none, an error when several. */
export function sampleValue(families: Map<string, PromFamily>, family: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = families.get(family)?.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) ?? [];
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
