// Subscriptions with real clients: graphql-ws (WebSocket, graphql-transport-ws) and
// graphql-sse (distinct connections), against a sandbox whose simulators file a new
// call every few hundred milliseconds. Run by tests/api/live.rs, which passes
// CONVOGRAPH_URL and EXPECTED_GONG_CALLS (the Gong ids of the live calls, in order).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import { convographUrl } from './lib.mjs';

const url = convographUrl();
const wsUrl = url.replace(/^http/, 'ws');
const expected = JSON.parse(process.env.EXPECTED_GONG_CALLS ?? '[]');
const QUERY = 'subscription { callAdded(connectionIds: ["gong-demo"]) { remoteId } }';

/** Collects the first `n` events of one subscription made through `client`. */
function firstEvents(client, n) {
  return new Promise((resolve, reject) => {
    const ids = [];
    const dispose = client.subscribe(
      { query: QUERY },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          ids.push(result.data.callAdded.remoteId);
          if (ids.length === n) {
            dispose();
            resolve(ids);
          }
        },
        error: reject,
        complete: () => (ids.length < n ? reject(new Error(`completed after ${ids.length} events`)) : undefined),
      },
    );
  });
}

async function metrics() {
  const text = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
  const sum = (re) =>
    text
      .split('\n')
      .filter((l) => re.test(l))
      .reduce((a, l) => a + Number(l.trim().split(' ').pop()), 0);
  return {
    pollers: sum(/^convograph_live_pollers\{connection="gong-demo"\}/),
    polls: sum(/^convograph_live_polls_total\{connection="gong-demo"\}/),
    upstream: sum(/^convograph_upstream_requests_total\{.*connection="gong-demo"/),
  };
}

test('graphql-sse: new calls arrive once each, in order', async () => {
  const client = createSseClient({ url });
  try {
    const ids = await firstEvents(client, 2);
    assert.equal(new Set(ids).size, ids.length, 'no repeats');
    const at = expected.indexOf(ids[0]);
    assert.ok(at >= 0, `a live call: ${ids[0]}`);
    assert.deepEqual(ids, expected.slice(at, at + ids.length), 'in the order filed');
  } finally {
    client.dispose();
  }
});

test('graphql-ws: 1,000 subscribers on one connection cost the upstream requests of one', async () => {
  const sockets = 10;
  const perSocket = 100;
  const clients = Array.from({ length: sockets }, () =>
    createWsClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 }),
  );
  try {
    const before = await metrics();
    const all = await Promise.all(clients.flatMap((c) => Array.from({ length: perSocket }, () => firstEvents(c, 2))));
    const after = await metrics();
    assert.equal(all.length, sockets * perSocket);
    // Everyone saw the same calls, once each, in the order filed (some subscribed a
    // moment after others, so they may start one call later).
    for (const ids of all) {
      assert.equal(new Set(ids).size, 2);
      const at = expected.indexOf(ids[0]);
      assert.ok(at >= 0, `a live call: ${ids[0]}`);
      assert.deepEqual(ids, expected.slice(at, at + 2));
    }
    assert.equal(after.pollers, 1, 'one poller for the connection');
    const polls = after.polls - before.polls;
    const upstream = after.upstream - before.upstream;
    console.log(`1,000 subscribers: ${polls} polls, ${upstream} upstream requests to Gong`);
    assert.ok(polls > 0);
    // One poll reads Gong's calls once and its scorecards once, plus one lookup of the
    // calls newly answered scorecards are about: what one subscriber costs, whatever
    // the number of subscribers.
    assert.ok(upstream <= 3 * polls + 2, `${upstream} requests for ${polls} polls`);
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
  }
});

test('graphql-ws: an unknown connection gets a coded error', async (t) => {
  const client = createWsClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  try {
    const result = await new Promise((resolve, reject) => {
      client.subscribe({ query: 'subscription { callAdded(connectionIds: ["nope"]) { remoteId } }' }, {
        next: resolve,
        error: reject,
        complete: () => {},
      });
    });
    assert.ok(result.errors, JSON.stringify(result));
    assert.ok(result.errors[0].extensions?.code, JSON.stringify(result.errors));
  } finally {
    client.dispose();
  }
  t.diagnostic('coded error over graphql-ws');
});

test('graphql-ws: a subscription past the query limits is refused with the limit code', async (t) => {
  const client = createWsClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  // 31 aliases: one past the default `limits.max_aliases` (30).
  const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: remoteId`).join(' ');
  try {
    const outcome = await new Promise((resolve) => {
      client.subscribe({ query: `subscription { callAdded(connectionIds: ["gong-demo"]) { ${aliases} } }` }, {
        next: (value) => resolve({ value }),
        error: (error) => resolve({ error }),
        complete: () => resolve({ complete: true }),
      });
    });
    // graphql-ws reports an operation refused before it starts as `error` (a list of
    // GraphQL errors); a result with `errors` is accepted too.
    const errors = Array.isArray(outcome.error) ? outcome.error : outcome.value?.errors;
    assert.ok(errors?.length, JSON.stringify(outcome));
    assert.equal(errors[0].extensions?.code, 'MAX_ALIASES_LIMIT', JSON.stringify(errors));
  } finally {
    client.dispose();
  }
  t.diagnostic('the request guard refuses over-limit subscriptions over graphql-ws');
});
