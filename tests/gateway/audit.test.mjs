// The GraphQL-over-HTTP audit suite of `graphql-http` against convograph: every MUST
// passes and no SHOULD warns. MAY items are reported (as notices) but not required.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { serverAudits } from 'graphql-http';

import { convographUrl } from './lib.mjs';

const url = convographUrl();

describe('graphql-http server audits', () => {
  for (const audit of serverAudits({ url, fetchFn: fetch })) {
    test(audit.name, async (t) => {
      const result = await audit.fn();
      if (result.status === 'notice') {
        t.diagnostic(`notice: ${result.reason}`);
        return;
      }
      const detail =
        result.status === 'ok'
          ? ''
          : `${result.reason}\n  status ${result.response.status}, content-type ${result.response.headers.get('content-type')}\n  body: ${(await result.response.text()).slice(0, 300)}`;
      assert.equal(result.status, 'ok', `${audit.id} ${result.status}: ${detail}`);
    });
  }
});
