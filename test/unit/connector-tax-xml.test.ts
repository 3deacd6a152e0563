/**
 * The tax connector's one-pass XML reader against fast-xml-parser with the SOAP client's options:
 * on generated documents it builds the same object, and whenever it answers, the document is
 * well-formed (fast-xml-parser's validator agrees); cut or corrupted documents it leaves to
 * fast-xml-parser (undefined), so they fail as before.
 */
import fc from 'fast-check';
import { XMLValidator } from 'fast-xml-parser';
import { createTaxXmlParser } from '../../connectors/tax/soap';
import { readPlainXml } from '../../connectors/tax/xml';

const REPEATED = new Set(['taxpayer', 'payment', 'unit']);
// The connector's own parser, with this test's repeated names.
const parser = createTaxXmlParser(REPEATED);
const reference = (xml: string): unknown => parser.parse(xml, true);

const SPECIAL: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };
const escape = (text: string): string => text.replace(/[<>&"']/g, (c) => SPECIAL[c]!);

interface Node {
  name: string;
  attributes: [string, string][];
  content: string | Node[];
}

const name = fc.constantFrom('taxpayer', 'payment', 'unit', 'amount', 'name', 'item', 'x-y', 'a.b');
const prefix = fc.constantFrom('', 'tns:', 'soap:');
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('  12.50 ', '张三', 'a & b', '<tag>', ' "q" \'a\' ', '\n\t', ''));
const attributes = fc.array(fc.tuple(fc.constantFrom('id', 'xmlns:tns', 'kind'), fc.string({ maxLength: 6 })), { maxLength: 2 }).map((list) => [...new Map(list)]);
const node: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.record({
    name: fc.tuple(prefix, name).map(([p, n]) => p + n),
    attributes,
    content: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, fc.array(tie('node'), { maxLength: 4 })),
  }),
})).node;

function serialize(n: Node, space: string, selfClose: boolean): string {
  const attrs = n.attributes.map(([k, v]) => ` ${k}="${escape(v)}"`).join('');
  if (typeof n.content === 'string') {
    if (n.content === '' && selfClose) return `<${n.name}${attrs}/>`;
    return `<${n.name}${attrs}>${escape(n.content)}</${n.name}>`;
  }
  return `<${n.name}${attrs}>${n.content.map((c) => space + serialize(c, space, selfClose)).join('')}${space}</${n.name}>`;
}

const documents = fc
  .tuple(node, fc.constantFrom('', ' ', '\n  '), fc.boolean(), fc.boolean())
  .map(([root, space, selfClose, declaration]) => (declaration ? '<?xml version="1.0" encoding="utf-8"?>' : '') + serialize(root, space, selfClose));

describe('readPlainXml', () => {
  it('builds what fast-xml-parser builds from generated documents', () => {
    fc.assert(
      fc.property(documents, (xml) => {
        const fast = readPlainXml(xml, REPEATED);
        if (fast !== undefined) expect(fast).toEqual(reference(xml));
      }),
      { numRuns: 500 },
    );
  });

  it('answers for the documents the tax service sends', () => {
    const reply =
      '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="urn:t">' +
      '<soap:Body><tns:GetTaxpayersResponse><tns:taxpayer><tns:taxpayerId>110101198001019018</tns:taxpayerId><tns:name>张 &amp; 三</tns:name>' +
      '<tns:payment><tns:amount>12.50</tns:amount></tns:payment><tns:payment><tns:amount> 3 </tns:amount></tns:payment></tns:taxpayer>' +
      '<tns:notFound>x</tns:notFound><tns:notFound>y</tns:notFound><tns:empty/></tns:GetTaxpayersResponse></soap:Body></soap:Envelope>';
    const fast = readPlainXml(reply, REPEATED);
    expect(fast).toBeDefined();
    expect(fast).toEqual(reference(reply));
    expect(readPlainXml('<a/>', REPEATED)).toEqual({ a: '' });
  });

  it('never answers for a document that is not well-formed', () => {
    const corrupted = fc.tuple(documents, fc.nat(), fc.constantFrom('cut', 'drop', 'insert')).map(([xml, at, how]) => {
      const i = at % (xml.length + 1);
      if (how === 'cut') return xml.slice(0, i);
      if (how === 'drop') return xml.slice(0, i) + xml.slice(i + 1);
      return `${xml.slice(0, i)}</x>${xml.slice(i)}`;
    });
    fc.assert(
      fc.property(corrupted, (xml) => {
        const fast = readPlainXml(xml, REPEATED);
        if (fast !== undefined) {
          expect(XMLValidator.validate(xml)).toBe(true);
          expect(fast).toEqual(reference(xml));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('leaves cut, mismatched and unusual documents to fast-xml-parser', () => {
    const cases = [
      '',
      '<a>',
      '<a><b>1</b>',
      '<a><b>1</a></b>',
      '<a>1</a><b/>',
      '<a>1</a>x',
      '<a>&#49;</a>',
      '<a>&nbsp;</a>',
      '<a>a & b</a>',
      '<a><!-- c --></a>',
      '<a><![CDATA[x]]></a>',
      '<!DOCTYPE a><a/>',
      '<a>text<b/></a>',
      '<a x="1" x="2"/>',
      '<a x=1/>',
      '<a x="<"/>',
      '<__proto__>1</__proto__>',
      '<a><constructor/></a>',
      '\uFEFF<a/>',
      `${'<a>'.repeat(101)}${'</a>'.repeat(101)}`,
      '<?xml version="1.0"?><soap:Envelope><soap:Body><GetTaxpayersResponse><taxpayer><kind>PER',
    ];
    for (const xml of cases) expect([xml, readPlainXml(xml, REPEATED)]).toEqual([xml, undefined]);
  });
});
