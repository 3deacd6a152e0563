/** The allow-list of webhook targets and the address classes it refuses. */
import { checkAddresses, createAllowList, forbiddenRange } from '../../../src/push';

describe('the webhook allow-list', () => {
  const list = createAllowList(['https://tax.example.gov.cn/hooks/*', 'https://*.dept.example', { url: 'http://127.0.0.1:*/in', allowPrivate: true }]);

  it.each([
    'https://tax.example.gov.cn/hooks/a',
    'https://tax.example.gov.cn/hooks/',
    'https://a.dept.example/anything?x=1',
    'https://b.c.dept.example/',
    'http://127.0.0.1:8080/in',
  ])('admits %s', (url) => {
    expect(list.match(url).url.href).toBe(new URL(url).href);
  });

  it.each([
    ['http://tax.example.gov.cn/hooks/a', 'http without an http entry'],
    ['https://tax.example.gov.cn/other', 'another path'],
    ['https://tax.example.gov.cn:8443/hooks/a', 'a port the entry does not name'],
    ['https://dept.example/', 'the bare domain of a wildcard'],
    ['https://evil-dept.example/', 'a look-alike suffix'],
    ['https://tax.example.gov.cn.evil.example/hooks/a', 'a longer host'],
    ['https://user:pw@a.dept.example/', 'credentials'],
    ['ftp://a.dept.example/', 'another scheme'],
    ['http://127.0.0.1:8080/in/more', 'an exact path extended'],
    ['not a url', 'garbage'],
    [' https://a.dept.example/', 'a leading space, which the URL parser would drop'],
    ['https://a.dept.example/x\n', 'a trailing line break'],
    ['https://a.dept.ex\tample/', 'a tab inside the host, which the URL parser would drop'],
    ['https://a.dept.example/x#part', 'a fragment, which is never sent'],
    [`https://a.dept.example/${'a'.repeat(2048)}`, 'over 2 048 characters'],
  ])('refuses %s (%s)', (url) => {
    expect(() => list.match(url)).toThrow(expect.objectContaining({ code: 'PUSH_TARGET_REFUSED' }));
  });

  it('says why a target is not a URL as sent', () => {
    expect(() => list.match(' https://a.dept.example/')).toThrow('The webhook target holds a space at character 1: send the URL without it.');
    expect(() => list.match('https://a.dept.ex\tample/')).toThrow('The webhook target holds the control character U+0009 at character 18: send the URL without it.');
    expect(() => list.match('https://a.dept.example/x#part')).toThrow('The webhook target https://a.dept.example/x carries a fragment (#…), which is never sent: leave it out.');
    expect(() => list.match(`https://a.dept.example/${'a'.repeat(2048)}`)).toThrow('The webhook target is 2071 characters long: at most 2048 are accepted.');
  });

  it('parses an admitted target into the form it will be called by', () => {
    expect(list.match('https://A.Dept.Example:443/x/../y?q=1').url.href).toBe('https://a.dept.example/y?q=1');
  });

  it('refuses bad entries naming them', () => {
    expect(() => createAllowList(['tax.example'])).toThrow(/"tax.example"/);
    expect(() => createAllowList(['https://a.example/x*/y'])).toThrow(/inside its path/);
    expect(() => createAllowList('https://a.example' as never)).toThrow(/array/);
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['192.168.1.1', 'private'],
    ['172.16.0.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['::1', 'loopback'],
    ['fd00::1', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'linkLocal'],
  ])('classes %s as %s, refused unless permitted', (address, range) => {
    expect(forbiddenRange(address)).toBe(range);
    expect(() => checkAddresses('hooks.example', [address], false)).toThrow(/does not permit/);
    expect(() => checkAddresses('hooks.example', [address], true)).not.toThrow();
  });

  it('admits public addresses, and refuses a host when any of its addresses is refused', () => {
    expect(forbiddenRange('93.184.216.34')).toBeUndefined();
    expect(forbiddenRange('2606:4700::1')).toBeUndefined();
    expect(() => checkAddresses('h', ['93.184.216.34', '10.0.0.1'], false)).toThrow(/private/);
    expect(() => checkAddresses('h', [], true)).toThrow(/no address/);
  });
});
