// Drives the storefront (examples/storefront) in headless Chromium, as a person would, against the
// real service and the local OIDC issuer. Run by scripts/storefront-test.sh, which starts them and
// exports BOOKSTORE_URL, BOOKSTORE_CHECK_ENGINE_PORT, STOREFRONT_APP_URL, STOREFRONT_ISSUER, STOREFRONT_USER, STOREFRONT_PASSWORD
// and STOREFRONT_SCREENSHOTS.
//
// Steps (one PASS/FAIL line each, a screenshot after each):
//   browse the categories with their counts, page through "Science Fiction", open an author, a book;
//   sign in through the issuer's login form (a pop-up);
//   add a format;
//   a second client (a token of its own from the same issuer) changes the book; the page's next edit
//   gets the 412, shows the other change, and applies its own on top;
//   remove a format; a 503 (the DynamoDB engine paused) shown as "try again in N s"; delete the book;
//   no console error and no uncaught error in any page.
// Prints `N passed, N failed`; exits 1 if any failed. A failed step stops the ones that need it.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(new URL('./openapi/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`storefront-test: ${name} is not set (run it through scripts/storefront-test.sh)`);
    process.exit(2);
  }
  return value.replace(/\/$/, '');
};
const api = env('BOOKSTORE_URL');
const appUrl = env('STOREFRONT_APP_URL');
const issuer = env('STOREFRONT_ISSUER');
const username = env('STOREFRONT_USER');
const password = env('STOREFRONT_PASSWORD');
const shots = env('STOREFRONT_SCREENSHOTS');
// scripts/dynamodb-engine.sh keeps the pid of the engine it started on a port here.
const engineDir = new URL('../.tools', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

const CATEGORY = 'Science Fiction';
const CATEGORY_BOOKS = 15; // in examples/storefront/seed-books.json
const PAGE_SIZE = 10; // the app's page size

const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  return ok;
}

// ---- The second client: a token of its own from the issuer, through the same login form. --------

/** Signs in to the issuer without a browser (a cookie jar and the form) and returns its tokens. */
async function tokenFromIssuer() {
  const jar = new Map();
  const send = async (url, init = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  };
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const verifier = randomBytes(32).toString('base64url');
  const redirectUri = `${appUrl}/`;
  const authorize = new URL(discovery.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: 'storefront', response_type: 'code', redirect_uri: redirectUri, scope: 'openid bookstore/write',
    resource: api, state: randomBytes(8).toString('hex'), code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
  })) authorize.searchParams.set(k, v);
  let res = await send(authorize);
  let location = new URL(res.headers.get('location'), issuer);
  const form = await (await send(location)).text();
  const action = /<form[^>]*action="([^"]+)"/.exec(form)?.[1];
  if (!action) throw new Error('no login form at the issuer');
  res = await send(new URL(action, issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }),
  });
  for (let hops = 0; hops < 5 && res.status >= 300 && res.status < 400; hops++) {
    location = new URL(res.headers.get('location'), issuer);
    if (location.href.startsWith(redirectUri)) break;
    res = await send(location);
  }
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`the issuer gave no code (${res.status} at ${location})`);
  const token = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: 'storefront',
      code_verifier: verifier, resource: api,
    }),
  });
  const body = await token.json();
  if (!token.ok) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
  return body.access_token;
}

const bookUrl = (author, title) => `${api}/books/${encodeURIComponent(author)}/${encodeURIComponent(title)}`;
async function getBook(author, title) {
  const res = await fetch(bookUrl(author, title));
  return { status: res.status, etag: res.headers.get('etag'), book: res.ok ? await res.json() : null };
}

// ---- The browser. -------------------------------------------------------------------------------

const userDataDir = mkdtempSync(join(tmpdir(), 'storefront-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  viewport: { width: 1100, height: 800 },
});
const consoleErrors = [];
const pageErrors = [];
// Chrome logs every HTTP error answer to fetch() as a console error; the 412 and the 503 this test
// provokes on purpose are expected, each once and only while its step runs. Anything else fails.
const expected = { 412: 0, 503: 0 };
function watch(page, label) {
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const status = /status of (\d{3})/.exec(text)?.[1];
    if (status && expected[status] > 0) {
      expected[status] -= 1;
      return;
    }
    consoleErrors.push(`${label}: ${text} (${m.location().url || 'no url'})`);
  });
}
context.on('page', (p) => watch(p, 'pop-up'));

let exitCode = 1;
let shotNo = 0;
const page = context.pages()[0] || (await context.newPage());
watch(page, 'app');
page.setDefaultTimeout(15000);
page.on('dialog', (d) => d.accept());
async function shot(name, target = page) {
  shotNo += 1;
  await target.screenshot({ path: join(shots, `${String(shotNo).padStart(2, '0')}-${name}.png`), fullPage: true });
}
const texts = (selector) => page.locator(selector).allInnerTexts();

try {
  await steps();
} catch (e) {
  check('the run completed', false, String(e).split('\n')[0]);
  await shot('failure').catch(() => {});
} finally {
  check('no console errors in any page', consoleErrors.length === 0, consoleErrors.join(' | '));
  check('no uncaught errors or unhandled rejections in any page', pageErrors.length === 0, pageErrors.join(' | '));
  const failed = results.filter((r) => !r.ok).length;
  console.log(`screenshots: ${shots}`);
  console.log(`${results.length - failed} passed, ${failed} failed`);
  exitCode = failed === 0 ? 0 : 1;
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);

async function steps() {
  // 1. The categories, with counts.
  await page.goto(`${appUrl}/`);
  const category = page.locator('[data-testid=categories] li').filter({ hasText: CATEGORY });
  await category.waitFor();
  const line = (await category.innerText()).trim();
  await shot('categories');
  if (!check('categories are listed with their counts', line === `${CATEGORY} ${CATEGORY_BOOKS} books`, JSON.stringify(line))) return;

  // 2. Page through the category with the cursor.
  await category.getByRole('link').click();
  await page.locator('[data-testid=books]').waitFor();
  const first = await texts('[data-testid=book-link]');
  await shot('category-page-1');
  await page.locator('[data-testid=next-page]').click();
  await page.locator('[data-testid=page-number]', { hasText: 'Page 2' }).waitFor();
  const second = await texts('[data-testid=book-link]');
  const lastPage = (await page.locator('[data-testid=next-page]').count()) === 0;
  await shot('category-page-2');
  const all = [...first, ...second];
  const sorted = [...all].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (!check('a category pages with "Next page": every book once, in title order',
    first.length === PAGE_SIZE && all.length === CATEGORY_BOOKS && new Set(all).size === all.length
      && JSON.stringify(all) === JSON.stringify(sorted) && lastPage,
    `${first.length} + ${second.length} titles`)) return;

  // 3. An author's page, then one of their books.
  const target = page.locator('[data-testid=books] li').first();
  const title = await target.locator('[data-testid=book-link]').innerText();
  const author = await target.locator('[data-testid=author-link]').innerText();
  await target.locator('[data-testid=author-link]').click();
  await page.locator('h1', { hasText: `Author: ${author}` }).waitFor();
  const byAuthor = await texts('[data-testid=book-link]');
  await shot('author');
  if (!check(`an author's page lists their books (${author})`, byAuthor.includes(title), byAuthor.join(', '))) return;
  await page.locator('[data-testid=book-link]', { hasText: title }).first().click();
  await page.locator('[data-testid=book-title]', { hasText: title }).waitFor();
  const before = await getBook(author, title);
  const shownVersion = await page.locator('[data-testid=version]').innerText();
  await shot('book');
  if (!check(`a book's page shows the book (${title})`, shownVersion.startsWith(`Version ${before.book.version}`), shownVersion)) return;

  // 4. Sign in through the issuer's form, in the pop-up.
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.locator('[data-testid=sign-in]').click()]);
  await popup.waitForURL(/\/interaction\//);
  await popup.locator('#username').fill(username);
  await popup.locator('#password').fill(password);
  await shot('issuer-login-form', popup);
  await Promise.all([popup.waitForEvent('close', { timeout: 15000 }), popup.locator('button[type=submit]').click()]);
  await page.locator('[data-testid=auth-status]', { hasText: `Signed in as ${username}` }).waitFor();
  await page.locator('[data-testid=add-format]').waitFor();
  await shot('signed-in');
  check('signs in through the issuer\'s login form (token in memory)', true);

  // 5. Add a format.
  await page.locator('[data-testid=add-format] input[name=format]').fill('Audiobook');
  await page.locator('[data-testid=add-format] input[name=id]').fill('AUD10021');
  await page.locator('[data-testid=add-format] button').click();
  await page.locator('[data-testid=formats] tr[data-format=Audiobook]').waitFor();
  const added = await getBook(author, title);
  await shot('format-added');
  if (!check('adds a format (merge patch with If-Match, OIDC token)',
    added.book?.formats?.Audiobook === 'AUD10021' && added.book.version === before.book.version + 1,
    `stored version ${added.book?.version}, formats ${JSON.stringify(added.book?.formats)}`)) return;

  // 6. A second client changes the book behind the page's back.
  const token = await tokenFromIssuer();
  const theirs = await fetch(bookUrl(author, title), {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/merge-patch+json', 'if-match': added.etag },
    body: JSON.stringify({ formats: { Ebook: 'EBK00021' } }),
  });
  if (!check('a second client (its own token from the issuer) changes the book', theirs.status === 200,
    `PATCH answered ${theirs.status}`)) return;

  // 7. The page edits with its stale ETag: 412, the other change shown, then applied on top.
  expected[412] = 1;
  await page.locator('[data-testid=change-category] input[name=category]').fill('Classics');
  await page.locator('[data-testid=change-category] button').click();
  const conflict = page.locator('[data-testid=conflict]');
  await conflict.waitFor();
  const changes = await texts('[data-testid=conflict-changes] li');
  await shot('conflict');
  if (!check('the stale edit gets a 412 and the page shows what the other client changed',
    changes.includes('Format Ebook added (EBK00021)'), changes.join(' | '))) return;
  await page.locator('[data-testid=apply-mine]').click();
  await page.locator('[data-testid=category-link]', { hasText: 'Classics' }).waitFor();
  const resolved = await getBook(author, title);
  await shot('conflict-resolved');
  check('"Apply my change on top" keeps both changes',
    resolved.book?.category === 'Classics' && resolved.book.formats?.Ebook === 'EBK00021'
      && resolved.book.formats?.Audiobook === 'AUD10021' && expected[412] === 0,
    JSON.stringify(resolved.book));

  // 8. Remove a format.
  await page.locator('[data-testid=remove-Audiobook]').click();
  await page.locator('[data-testid=formats] tr[data-format=Audiobook]').waitFor({ state: 'detached' });
  const removed = await getBook(author, title);
  await shot('format-removed');
  check('removes a format', removed.book && !('Audiobook' in removed.book.formats) && 'Ebook' in removed.book.formats,
    JSON.stringify(removed.book?.formats));

  // 9. DynamoDB stops answering (the engine paused): the page says when to try again.
  const engine = Number(readFileSync(engineDir + `/engine-${env('BOOKSTORE_CHECK_ENGINE_PORT')}.pid`, 'utf8'));
  expected[503] = 1;
  process.kill(engine, 'SIGSTOP');
  let unavailable = '';
  try {
    await page.locator('[data-testid=author-link]').click();
    unavailable = await page.locator('[data-testid=error]').innerText({ timeout: 20000 });
  } finally {
    process.kill(engine, 'SIGCONT');
  }
  await shot('unavailable');
  check('a 503 reads "try again in N s" from Retry-After', /^Service Unavailable: try again in \d+ s$/.test(unavailable)
    && expected[503] === 0, JSON.stringify(unavailable));
  await page.goBack();
  await page.locator('[data-testid=book-title]', { hasText: title }).waitFor();

  // 10. Delete the book.
  await page.locator('[data-testid=delete]').click();
  await page.locator('[data-testid=deleted]').waitFor();
  const gone = await getBook(author, title);
  await shot('deleted');
  check('deletes the book', gone.status === 404, `GET answered ${gone.status}`);
}
