// Shared helpers of the Node-side tests. tests/api/gateway.rs starts convograph on a
// loopback port and passes its URL in CONVOGRAPH_URL.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A file of the repository, as text. */
export function repoFile(path) {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** convograph's GraphQL endpoint; the tests refuse to run without it. */
export function convographUrl() {
  const url = process.env.CONVOGRAPH_URL;
  assert.ok(url, 'CONVOGRAPH_URL is not set: run these tests through `cargo test --test api gateway`');
  return url;
}

/** POSTs a GraphQL request; returns the parsed body (any status). */
export async function post(url, query, variables = {}, headers = {}) {
  const resp = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await resp.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url} answered ${resp.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** POSTs a query that must succeed without errors; returns `data`. */
export async function data(url, query, variables = {}) {
  const body = await post(url, query, variables);
  assert.equal(body.errors, undefined, `unexpected errors from ${url}: ${JSON.stringify(body.errors)}`);
  return body.data;
}
