/**
 * `datarun demo enterprise-startup`, the README's worked scenario of 企业开办一链办理 and 审管联动,
 * run as the command runs it: its own signed hub over the sandboxes, a real webhook receiver, a
 * real subscription stream, every step checked by the command itself (a step that does not hold
 * throws), and the transcript it prints.
 */
import { runDemo } from '../../src/cli/demo';

describe('datarun demo enterprise-startup', () => {
  it('runs every step of the scenario and says so', async () => {
    const lines: string[] = [];
    await expect(runDemo({ scenario: 'enterprise-startup', size: 50 }, (line) => lines.push(line))).resolves.toBe(0);
    const text = lines.join('\n');
    for (const step of ['1. tax-bureau registered webhook', '2. social-security-bureau opened a subscription', '3. market-regulation registered', '4. tax-bureau\'s webhook received ENTERPRISE_REGISTERED', '5. social-security-bureau\'s subscription received it too', '6. the push opened case', '7. tax-bureau claimed it', '8. tax-bureau reported back', '9. the auditor reads', '10. the access log\'s hash chain verifies']) {
      expect(text).toContain(step);
    }
    expect(text).toMatch(/sealed by market-regulation, seal verified/);
    expect(text).toMatch(/case OPEN→PUSHED/);
    expect(text).toMatch(/case CLAIM→CLAIMED/);
    expect(text).toMatch(/case REPORT→REPORTED/);
    expect(lines[lines.length - 1]).toBe('every step held.');
  });

  it('names an unknown scenario, starting nothing', async () => {
    await expect(runDemo({ scenario: 'proof-free' }, () => undefined)).rejects.toThrow('unknown scenario "proof-free": expected enterprise-startup or cross-city');
  });
});
