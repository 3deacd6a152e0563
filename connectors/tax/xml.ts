/**
 * A one-pass reader for the plain XML the tax service sends (elements, text, the five predefined
 * entities, attributes it ignores, an XML declaration): it checks well-formedness and builds the
 * same object fast-xml-parser builds with the SOAP client's options, in one scan instead of a
 * validation pass and a parse pass. Anything outside that subset (comments, CDATA, processing
 * instructions, a DOCTYPE, character references, mixed content, deep nesting, names that are
 * properties of Object) and anything not well-formed is left to fast-xml-parser: the reader then
 * answers undefined, so a malformed reply still fails the way it always did.
 */

/** A QName as the subset allows it: an optional prefix, a local name. */
const QNAME = /^[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?$/;
/** A start tag's attributes: `name="value"` or `name='value'`, values without `<` or `&`. */
const ATTRIBUTE = /\s+([A-Za-z_][\w.:-]*)\s*=\s*(?:"[^"<&]*"|'[^'<&]*')/y;
/** The XML declaration: version, optional encoding and standalone, in that order. */
const DECLARATION = /<\?xml\s+version\s*=\s*(?:"1\.[0-9]"|'1\.[0-9]')(?:\s+encoding\s*=\s*(?:"[A-Za-z][\w.-]*"|'[A-Za-z][\w.-]*'))?(?:\s+standalone\s*=\s*(?:"(?:yes|no)"|'(?:yes|no)'))?\s*\?>/y;
/** Space between markup: XML's four whitespace characters only. */
const XML_SPACE = /^[ \t\r\n]*$/;
const ENTITY = /&(lt|gt|amp|quot|apos);/g;
const ENTITY_CHARS: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** Any `&` that is not one of the five predefined entities. */
const OTHER_AMPERSAND = /&(?!(?:lt|gt|amp|quot|apos);)/;
/** fast-xml-parser's limit of nested elements. */
const MAX_DEPTH = 100;
/** Names fast-xml-parser refuses as tag names (they are properties of every object). */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);

interface Frame {
  /** The tag as written, prefix included: the end tag must repeat it. */
  readonly qname: string;
  /** The name without its prefix: the key in the parent. */
  readonly local: string;
  children: Record<string, unknown> | undefined;
  text: string;
}

/**
 * Reads `xml` and returns what `new XMLParser({ removeNSPrefix: true, ignoreAttributes: true,
 * ignoreDeclaration: true, ignorePiTags: true, parseTagValue: false, trimValues: true, isArray:
 * (name) => repeated.has(name) }).parse(xml, true)` returns (leaf values as trimmed text, an
 * empty element as '', elements named in `repeated` always arrays, other repeated names arrays),
 * or undefined when the document is outside the subset or not well-formed.
 */
export function readPlainXml(xml: string, repeated: ReadonlySet<string>): Record<string, unknown> | undefined {
  const n = xml.length;
  let i = skipSpace(xml, 0);
  if (xml.startsWith('<?xml', i)) {
    DECLARATION.lastIndex = i;
    if (!DECLARATION.test(xml)) return undefined;
    i = DECLARATION.lastIndex;
  }
  const document: Record<string, unknown> = {};
  const stack: Frame[] = [];
  let rootDone = false;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        if (!XML_SPACE.test(xml.slice(i, textEnd))) return undefined;
      } else top.text += xml.slice(i, textEnd);
    }
    if (lt < 0) break;
    const gt = xml.indexOf('>', lt + 1);
    if (gt < 0) return undefined;
    const next = xml.charCodeAt(lt + 1);
    if (next === 47 /* / */) {
      const frame = stack.pop();
      if (frame === undefined || xml.slice(lt + 2, gt).trimEnd() !== frame.qname) return undefined;
      const value = valueOf(frame);
      if (value === undefined) return undefined;
      const parent = stack[stack.length - 1];
      if (parent === undefined) {
        document[frame.local] = repeated.has(frame.local) ? [value] : value;
        rootDone = true;
      } else addChild(parent, frame.local, value, repeated);
      i = gt + 1;
      continue;
    }
    // Comments, CDATA, DOCTYPE and processing instructions are left to fast-xml-parser, as is a second root.
    if (next === 33 /* ! */ || next === 63 /* ? */ || (rootDone && stack.length === 0)) return undefined;
    const selfClosing = xml.charCodeAt(gt - 1) === 47 && gt - 1 > lt + 1;
    const tag = xml.slice(lt + 1, selfClosing ? gt - 1 : gt);
    const space = tag.search(/\s/);
    const qname = space < 0 ? tag : tag.slice(0, space);
    if (!QNAME.test(qname) || (space >= 0 && !attributesValid(tag, space))) return undefined;
    const local = qname.slice(qname.indexOf(':') + 1);
    if (RESERVED.has(local) || stack.length >= MAX_DEPTH) return undefined;
    const frame: Frame = { qname, local, children: undefined, text: '' };
    if (selfClosing) {
      const parent = stack[stack.length - 1];
      if (parent === undefined) {
        document[local] = repeated.has(local) ? [''] : '';
        rootDone = true;
      } else addChild(parent, local, '', repeated);
    } else stack.push(frame);
    i = gt + 1;
  }
  return rootDone && stack.length === 0 ? document : undefined;
}

function skipSpace(xml: string, from: number): number {
  let i = from;
  while (i < xml.length && (xml[i] === ' ' || xml[i] === '\n' || xml[i] === '\r' || xml[i] === '\t')) i++;
  return i;
}

/** True when everything after the tag's name is well-formed attributes, each named once. */
function attributesValid(tag: string, from: number): boolean {
  const names = new Set<string>();
  ATTRIBUTE.lastIndex = from;
  let end = from;
  for (let match = ATTRIBUTE.exec(tag); match !== null; match = ATTRIBUTE.exec(tag)) {
    if (names.has(match[1]!)) return false;
    names.add(match[1]!);
    end = ATTRIBUTE.lastIndex;
  }
  return tag.slice(end).trim() === '';
}

/** An element's value: its trimmed, decoded text, or its children; undefined for mixed content or a stray `&`. */
function valueOf(frame: Frame): unknown {
  const text = frame.text.trim();
  if (frame.children !== undefined) return text === '' ? frame.children : undefined;
  if (!text.includes('&')) return text;
  return OTHER_AMPERSAND.test(text) ? undefined : text.replace(ENTITY, (_, name: string) => ENTITY_CHARS[name]!);
}

function addChild(parent: Frame, local: string, value: unknown, repeated: ReadonlySet<string>): void {
  const children = (parent.children ??= {});
  if (repeated.has(local)) {
    const list = children[local] as unknown[] | undefined;
    if (list === undefined) children[local] = [value];
    else list.push(value);
  } else if (Object.prototype.hasOwnProperty.call(children, local)) {
    const existing = children[local];
    if (Array.isArray(existing)) existing.push(value);
    else children[local] = [existing, value];
  } else children[local] = value;
}
