// Same supergraph under Hive Gateway (The Guild's @graphql-hive/gateway-runtime):
// joins in both directions and our error on the right path.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { composeServices } from '@apollo/composition';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { parse } from 'graphql';

import { CRM_SDL, crmRecords, ghostCallId, startCrm } from './crm.mjs';
import { convographUrl, data } from './lib.mjs';

const CONVOGRAPH = convographUrl();

describe('convograph behind Hive Gateway with a second subgraph', () => {
  let users, calls, records, crm, gateway;

  /** Runs a query through the gateway's fetch handler (no port needed). */
  async function viaGateway(query, variables = {}) {
    const resp = await gateway.fetch('http://gateway.local/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query, variables }),
    });
    return resp.json();
  }

  before(async () => {
    const d = await data(CONVOGRAPH, `{ users(first: 4) { edges { node { id email name } } } calls(first: 8) { edges { node { id title } } } }`);
    users = d.users.edges.map((e) => e.node);
    calls = d.calls.edges.map((e) => e.node);
    records = crmRecords(users, calls, ghostCallId(calls[0].id));
    crm = await startCrm(records);
    const { _service } = await data(CONVOGRAPH, '{ _service { sdl } }');
    const { errors, supergraphSdl } = composeServices([
      { name: 'convograph', typeDefs: parse(_service.sdl), url: CONVOGRAPH },
      { name: 'crm', typeDefs: parse(CRM_SDL), url: crm.url },
    ]);
    assert.deepEqual(errors ?? [], []);
    gateway = createGatewayRuntime({ supergraph: supergraphSdl, logging: false, maskedErrors: false });
  });

  after(async () => {
    await gateway?.dispose?.();
    await crm?.stop();
  });

  test('their Deal -> our User and Call', async () => {
    const body = await viaGateway(`{ deals { id owner { id name } calls { id title } } }`);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    for (const want of records.deals) {
      const got = body.data.deals.find((x) => x.id === want.id);
      assert.equal(got.owner.name, users.find((u) => u.id === want.ownerId).name);
      assert.deepEqual(got.calls.map((c) => c.title), want.callIds.map((id) => calls.find((c) => c.id === id).title));
    }
  });

  test('our User by email and our Calls -> their fields', async () => {
    const body = await viaGateway(
      `query($email: String!) { user(email: $email) { name territory deals { id } } calls(first: 8) { edges { node { id deal { id } } } } }`,
      { email: users[1].email },
    );
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.equal(body.data.user.territory, 'Territory 2');
    assert.deepEqual(body.data.user.deals.map((x) => x.id), records.deals.filter((x) => x.ownerId === users[1].id).map((x) => x.id));
    for (const { node } of body.data.calls.edges) {
      assert.equal(node.deal?.id ?? null, records.deals.find((x) => x.callIds.includes(node.id))?.id ?? null);
    }
  });

  test('a call only the other subgraph knows: null, with our NOT_FOUND error passed through', async () => {
    const body = await viaGateway(`{ ghost: deal(id: "deal-ghost") { calls { id title } } }`);
    assert.equal(body.data.ghost.calls[0].title, calls[0].title);
    assert.equal(body.data.ghost.calls[1].title, null);
    const notFound = (body.errors ?? []).filter((e) => e.extensions?.code === 'NOT_FOUND');
    assert.equal(notFound.length, 1, JSON.stringify(body.errors));
    // Hive Gateway (batch delegation) re-roots our error at the field it asked for,
    // without the list index (['ghost', 'calls', 'title']), where Apollo Gateway uses
    // the index convograph reports (['ghost', 'calls', 1]).
    assert.deepEqual(notFound[0].path.slice(0, 2), ['ghost', 'calls']);
  });
});
