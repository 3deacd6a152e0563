/** The delivery library's errors are coded HubErrors whose codes are in the registry. */
import { PushError, PushErrorCode, PushInputError, TargetRefusedError, WebhookVerifyError } from '../../../src/push';
import { ERROR_CODES, HubError } from '../../../src/sdk';

describe('push errors', () => {
  it('has every code in the error registry, at operator level', () => {
    for (const [name, code] of Object.entries(PushErrorCode)) {
      expect(name).toBe(code);
      expect(ERROR_CODES[code].level).toBe('operator');
    }
  });

  it('makes coded HubErrors', () => {
    for (const error of [new PushInputError('x'), new TargetRefusedError('x'), new WebhookVerifyError('BAD_SIGNATURE', 'x'), new PushError(PushErrorCode.PUSH_NOT_DEAD, 'x')]) {
      expect(error).toBeInstanceOf(HubError);
      expect(error.extensions.code).toBe(error.code);
    }
  });
});
