// GraphiQL in a real browser (Debian's Chromium, driven by playwright-core): the
// page convograph serves loads GraphiQL from local assets, runs its default query,
// and streams its default subscription through the page's own SSE fetcher. Run by
// tests/api/http.rs, which passes CONVOGRAPH_URL (the GraphQL endpoint of a sandbox
// whose simulators file a call every few hundred milliseconds), CHROMIUM (the
// browser) and EXPECTED_GONG_CALLS (the live calls' Gong ids).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { convographUrl } from './lib.mjs';

const url = convographUrl();
const expected = new Set(JSON.parse(process.env.EXPECTED_GONG_CALLS ?? '[]'));
let browser;
let page;
const pageErrors = [];

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
});

after(async () => {
  await browser?.close();
});

/** The text of GraphiQL's result pane. */
async function resultText() {
  return page.evaluate(() => {
    const cm = document.querySelector('.result-window .CodeMirror');
    return cm?.CodeMirror ? cm.CodeMirror.getValue() : document.querySelector('.result-window')?.textContent ?? '';
  });
}

/** Runs the operation `name` of the editor's document through the execute button. */
async function run(name) {
  await page.click('.graphiql-execute-button');
  // The document has two operations: GraphiQL asks which one.
  await page.getByRole('menuitem', { name }).click();
}

test('the page loads GraphiQL with the default document and no script error', async () => {
  const doc = await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue());
  assert.match(doc ?? '', /query FirstCalls/);
  assert.match(doc ?? '', /subscription NewCalls/);
  assert.deepEqual(pageErrors, []);
});

test('the default query answers from the sandbox', async () => {
  await run('FirstCalls');
  await page.waitForFunction(
    () => (document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue() ?? '').includes('totalCount'),
    null,
    { timeout: 20_000 },
  );
  const result = JSON.parse(await resultText());
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  assert.equal(result.data.calls.edges.length, 5);
  assert.ok(result.data.connections.some((c) => c.id === 'gong-demo'));
});

test('the default subscription streams new calls through the SSE fetcher', async (t) => {
  await run('NewCalls');
  // Each event replaces the pane's content: wait for two different live calls.
  const seen = new Set();
  const deadline = Date.now() + 30_000;
  while (seen.size < 2) {
    assert.ok(Date.now() < deadline, `only ${seen.size} live call(s) shown in 30 s: ${await resultText()}`);
    await page.waitForFunction(
      (known) => {
        const text = document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue() ?? '';
        const m = text.match(/"remoteId": "([^"]+)"/);
        return m && !known.includes(m[1]) ? m[1] : false;
      },
      [...seen],
      { timeout: 30_000 },
    );
    const result = JSON.parse(await resultText());
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const call = result.data.callAdded;
    assert.ok(call.provider, JSON.stringify(call));
    if (call.provider === 'GONG') assert.ok(expected.has(call.remoteId), `${call.remoteId} is a live call`);
    seen.add(call.remoteId);
  }
  assert.deepEqual(pageErrors, []);
  t.diagnostic(`live calls shown in GraphiQL: ${[...seen].join(', ')}`);
});
