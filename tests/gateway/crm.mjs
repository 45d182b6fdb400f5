// "crm": a small subgraph of the kind users run next to convograph. It owns deals and
// joins its own fields onto convograph's entities:
// - `User` by both of convograph's keys (`email` and `id`): a territory and the
//   user's deals;
// - `Call` by `id`: the deal a call was about;
// and references them from its own type (`Deal.owner`, `Deal.calls`).
// Its records are made from convograph's own users and calls at start (see
// `crmRecords`), so every join has real data on both sides.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

export const CRM_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

type Query {
  "Every open deal."
  deals: [Deal!]!
  "A deal by id (open or not)."
  deal(id: ID!): Deal
}

"A sales opportunity."
type Deal @key(fields: "id") {
  id: ID!
  name: String!
  amount: Int!
  "The rep who owns the deal (a convograph User)."
  owner: User!
  "Calls about the deal (convograph Calls)."
  calls: [Call!]!
}

type User @key(fields: "email") @key(fields: "id") {
  id: ID!
  email: String
  "Sales territory from the CRM."
  territory: String
  "Deals the user owns."
  deals: [Deal!]!
}

type Call @key(fields: "id") {
  id: ID!
  "The deal the call was about."
  deal: Deal
  "A note the rep left in the CRM."
  crmNote: String
}
`;

/** A well-formed convograph call id (kind, connection, remote id) that no provider has. */
export function ghostCallId(realCallId) {
  const [kind, connection] = Buffer.from(realCallId, 'base64url').toString('utf8').split(':');
  return Buffer.from(`${kind}:${connection}:999999999999999999`).toString('base64url');
}

/**
 * CRM records over convograph's `users` and `calls` (each `{ id, email }` /
 * `{ id }`). Deal i is owned by user i and is about calls 2i and 2i+1.
 * `ghostCallId` is a well-formed call id that convograph does not know.
 */
export function crmRecords(users, calls, ghostCallId) {
  const people = users.map((u, i) => ({ id: u.id, email: u.email, territory: `Territory ${i + 1}` }));
  const deals = people.slice(0, Math.min(people.length, Math.floor(calls.length / 2))).map((p, i) => ({
    id: `deal-${i + 1}`,
    name: `Deal ${i + 1}`,
    amount: 1000 * (i + 1),
    ownerId: p.id,
    callIds: [calls[2 * i].id, calls[2 * i + 1].id],
  }));
  // A closed deal (not in `deals`) about a real call and one convograph does not have.
  const ghost = { id: 'deal-ghost', name: 'Ghost deal', amount: 1, ownerId: people[0].id, callIds: [calls[0].id, ghostCallId] };
  return { people, deals, ghost };
}

/** Starts the subgraph on a loopback port; returns `{ url, stop, seen }`. */
export async function startCrm({ people, deals, ghost }) {
  // Which keys the gateway used to reach this subgraph's `User`.
  const seen = { userById: 0, userByEmail: 0 };
  const personByEmail = new Map(people.map((p) => [p.email.toLowerCase(), p]));
  const personById = new Map(people.map((p) => [p.id, p]));
  const dealsOf = (userId) => deals.filter((d) => d.ownerId === userId);
  const dealOfCall = (callId) => deals.find((d) => d.callIds.includes(callId)) ?? null;

  const resolvers = {
    Query: {
      deals: () => deals,
      deal: (_, { id }) => [...deals, ghost].find((d) => d.id === id) ?? null,
    },
    Deal: {
      __resolveReference: (ref) => [...deals, ghost].find((d) => d.id === ref.id) ?? null,
      owner: (d) => personById.get(d.ownerId),
      calls: (d) => d.callIds.map((id) => ({ id })),
    },
    User: {
      __resolveReference(ref) {
        if (ref.id !== undefined) {
          seen.userById += 1;
          return personById.get(ref.id) ?? { id: ref.id, email: null, territory: null };
        }
        seen.userByEmail += 1;
        return personByEmail.get(String(ref.email).toLowerCase()) ?? { email: ref.email, territory: null };
      },
      deals: (u) => (u.id ? dealsOf(u.id) : []),
    },
    Call: {
      __resolveReference: (ref) => ({ id: ref.id }),
      deal: (c) => dealOfCall(c.id),
      crmNote: (c) => (dealOfCall(c.id) ? `Discussed ${dealOfCall(c.id).name}` : null),
    },
  };
  const server = new ApolloServer({ schema: buildSubgraphSchema([{ typeDefs: parse(CRM_SDL), resolvers }]) });
  const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
  return { url, seen, stop: () => server.stop() };
}
