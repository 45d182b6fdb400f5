// convograph as a subgraph under real federation software: composed with a second
// subgraph by @apollo/composition, served by @apollo/gateway (in Apollo Server), with
// queries in both directions, error paths, and convograph's ftv1 traces decoded by
// the gateway itself. Expected values come from convograph queried directly.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { composeServices } from '@apollo/composition';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { Trace } from '@apollo/usage-reporting-protobuf';
import { parse } from 'graphql';

import { CRM_SDL, crmRecords, ghostCallId, startCrm } from './crm.mjs';
import { convographUrl, data, post } from './lib.mjs';

const CONVOGRAPH = convographUrl();

describe('convograph behind @apollo/gateway with a second subgraph', () => {
  let users;
  let calls;
  let records;
  let crm;
  let gateway;
  let gatewayUrl;
  let supergraphSdl;
  /** The gateway's query-plan traces, by operation name. */
  const planTraces = new Map();

  before(async () => {
    const d = await data(
      CONVOGRAPH,
      `{ users(first: 4) { edges { node { id email name title } } }
         calls(first: 8) { edges { node { id title startedAt host { id name } } } } }`,
    );
    users = d.users.edges.map((e) => e.node);
    calls = d.calls.edges.map((e) => e.node);
    assert.equal(users.length, 4);
    assert.equal(calls.length, 8);
    records = crmRecords(users, calls, ghostCallId(calls[0].id));
    crm = await startCrm(records);

    const { _service } = await data(CONVOGRAPH, '{ _service { sdl } }');
    const composed = composeServices([
      { name: 'convograph', typeDefs: parse(_service.sdl), url: CONVOGRAPH },
      { name: 'crm', typeDefs: parse(CRM_SDL), url: crm.url },
    ]);
    assert.deepEqual(composed.errors ?? [], [], 'composition errors');
    supergraphSdl = composed.supergraphSdl;

    const server = new ApolloServer({
      gateway: new ApolloGateway({ supergraphSdl }),
      plugins: [
        {
          // What Apollo's usage reporting does: ask subgraphs for ftv1 traces.
          async requestDidStart(rc) {
            rc.metrics.captureTraces = true;
            return {
              async willSendResponse(rc2) {
                planTraces.set(rc2.operationName, rc2.metrics.queryPlanTrace);
              },
            };
          },
        },
      ],
    });
    ({ url: gatewayUrl } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } }));
    gateway = server;
  });

  after(async () => {
    await gateway?.stop();
    await crm?.stop();
  });

  test('composition joins both subgraphs on User (id and email keys) and Call (id)', () => {
    for (const [type, key] of [
      ['User', 'id'],
      ['User', 'email'],
      ['Call', 'id'],
    ]) {
      for (const graph of ['CONVOGRAPH', 'CRM']) {
        assert.match(
          supergraphSdl,
          new RegExp(`type ${type}[^{]*@join__type\\(graph: ${graph}, key: "${key}"\\)`),
          `${type} @key(fields: "${key}") in ${graph}`,
        );
      }
    }
  });

  test('their Deal reaches our User and Call (their type -> our entities)', async () => {
    const d = await data(
      gatewayUrl,
      `query Deals { deals { id name owner { id email name title } calls { id title startedAt host { name } } } }`,
    );
    assert.equal(d.deals.length, records.deals.length);
    for (const want of records.deals) {
      const got = d.deals.find((x) => x.id === want.id);
      const owner = users.find((u) => u.id === want.ownerId);
      assert.deepEqual(got.owner, owner, `owner of ${want.id}`);
      assert.deepEqual(
        got.calls,
        want.callIds.map((id) => {
          const c = calls.find((x) => x.id === id);
          return { id: c.id, title: c.title, startedAt: c.startedAt, host: c.host && { name: c.host.name } };
        }),
        `calls of ${want.id}`,
      );
    }
  });

  test('our User, found by email, carries their fields (our entity -> their fields)', async () => {
    for (const [i, u] of users.entries()) {
      const d = await data(
        gatewayUrl,
        `query Rep($email: String!) { user(email: $email) { id name territory deals { id name amount } } }`,
        { email: u.email.toUpperCase() },
      );
      const want = records.deals.filter((x) => x.ownerId === u.id);
      assert.equal(d.user.id, u.id);
      assert.equal(d.user.name, u.name);
      assert.equal(d.user.territory, `Territory ${i + 1}`);
      assert.deepEqual(
        d.user.deals,
        want.map(({ id, name, amount }) => ({ id, name, amount })),
      );
    }
    assert.ok(crm.seen.userById + crm.seen.userByEmail > 0, 'the gateway called the crm subgraph for User');
  });

  test('our Calls carry their fields, and back again to our User (our Call -> their fields -> our User)', async () => {
    const d = await data(
      gatewayUrl,
      `query CallsWithDeals { calls(first: 8) { edges { node { id title crmNote deal { name owner { name territory } } } } } }`,
    );
    const got = d.calls.edges.map((e) => e.node);
    assert.equal(got.length, calls.length);
    for (const c of got) {
      const deal = records.deals.find((x) => x.callIds.includes(c.id));
      if (!deal) {
        assert.equal(c.deal, null);
        assert.equal(c.crmNote, null);
        continue;
      }
      const ownerIndex = users.findIndex((u) => u.id === deal.ownerId);
      assert.deepEqual(c.deal, {
        name: deal.name,
        owner: { name: users[ownerIndex].name, territory: `Territory ${ownerIndex + 1}` },
      });
      assert.equal(c.crmNote, `Discussed ${deal.name}`);
    }
  });

  test('a call only the other subgraph knows is null with our NOT_FOUND error at its path in the gateway response', async () => {
    const body = await post(gatewayUrl, `query Ghost { ghost: deal(id: "deal-ghost") { id calls { id title } } }`);
    const [real, unknown] = body.data.ghost.calls;
    assert.equal(real.title, calls[0].title, 'the known call of the same fetch resolved');
    assert.equal(unknown.id, records.ghost.callIds[1]);
    assert.equal(unknown.title, null, 'the unknown call has no title');
    assert.equal(body.errors?.length, 1, JSON.stringify(body.errors));
    const [error] = body.errors;
    assert.equal(error.extensions.code, 'NOT_FOUND');
    assert.equal(error.extensions.serviceName, 'convograph');
    assert.deepEqual(error.path, ['ghost', 'calls', 1], 'the gateway placed our error on the right call');
  });

  test('the gateway decodes convograph ftv1 traces into its query-plan trace', async () => {
    await data(gatewayUrl, `query Traced { deals { owner { name title } calls { title } } }`);
    const plan = planTraces.get('Traced');
    assert.ok(plan, 'the gateway recorded a query-plan trace');
    const fetches = [];
    const walk = (n) => {
      if (!n || typeof n !== 'object') return;
      if (n.fetch) fetches.push(n.fetch);
      for (const v of Object.values(n)) if (v && typeof v === 'object') walk(v);
    };
    walk(plan);
    const ours = fetches.filter((f) => f.serviceName === 'convograph');
    assert.ok(ours.length >= 1, `a fetch to convograph: ${JSON.stringify(fetches.map((f) => f.serviceName))}`);
    for (const f of ours) {
      assert.equal(f.traceParsingFailed, false);
      const trace = f.trace;
      assert.ok(trace?.root, 'the decoded trace has a root');
      assert.ok(Number(trace.durationNs) > 0);
      const entities = trace.root.child.find((c) => c.responseName === '_entities');
      assert.ok(entities, `an _entities node: ${JSON.stringify(trace.root.child.map((c) => c.responseName))}`);
      assert.ok(entities.child.length > 0, 'one node per representation');
      for (const item of entities.child) {
        assert.equal(typeof item.index, 'number');
        for (const field of item.child) {
          assert.ok(Number(field.endTime) >= Number(field.startTime), 'end after start');
          assert.ok(Number(field.startTime) >= Number(entities.startTime));
          assert.ok(field.parentType === 'User' || field.parentType === 'Call', field.parentType);
        }
      }
    }
  });

  test('ftv1 from convograph decodes with Apollo\'s own protobuf decoder', async () => {
    const u = users[0];
    const body = await post(
      CONVOGRAPH,
      `query One($id: ID!) { user(id: $id) { name who: email } }`,
      { id: u.id },
      { 'apollo-federation-include-trace': 'ftv1' },
    );
    assert.equal(body.data.user.name, u.name);
    const trace = Trace.decode(Buffer.from(body.extensions.ftv1, 'base64'));
    const start = Number(trace.startTime.seconds) * 1e9 + trace.startTime.nanos;
    const end = Number(trace.endTime.seconds) * 1e9 + trace.endTime.nanos;
    assert.ok(end >= start);
    const user = trace.root.child.find((c) => c.responseName === 'user');
    assert.equal(user.parentType, 'Query');
    assert.equal(user.type, 'User');
    const who = user.child.find((c) => c.responseName === 'who');
    assert.equal(who.originalFieldName, 'email');
    assert.equal(who.parentType, 'User');
    assert.equal(who.type, 'String');
    assert.ok(Number(who.startTime) >= Number(user.startTime) && Number(who.endTime) <= Number(user.endTime));

    const plain = await post(CONVOGRAPH, `{ __typename }`);
    assert.equal(plain.extensions?.ftv1, undefined, 'no trace unless asked for');
  });
});
