// Drives the real documentation page (GET /docs/, Swagger UI) in headless Chromium, as a person would.
// Run by scripts/check-docs-page.sh under scripts/with-service.sh; needs BOOKSTORE_URL.
//
// Checks:
//   - /docs redirects to /docs/, and the page renders every operation of the OpenAPI document;
//   - the page loads nothing from anywhere but the service (no CDN, no validator badge, no fonts);
//   - "Try it out" on GET /books/{author}/{title} with John Grisham / The Rainmaker shows a 200;
//   - no JavaScript errors on the page.
// Writes a screenshot to DOCS_PAGE_SCREENSHOT (default /tmp/docs-page.png).
// Prints one line per check and `N passed, N failed`; exits 1 if any failed.

import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(new URL('./openapi/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const base = (process.env.BOOKSTORE_URL || '').replace(/\/$/, '');
if (!base) {
  console.error('docs-page-test: BOOKSTORE_URL is not set (run it under scripts/with-service.sh)');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const screenshot = process.env.DOCS_PAGE_SCREENSHOT || '/tmp/docs-page.png';
const committedDoc = new URL('../openapi/openapi.json', import.meta.url);

const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  return ok;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
function operationsOf(doc) {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      if (item[method]) ops.push({ method, path, operationId: item[method].operationId, tags: item[method].tags || [] });
    }
  }
  return ops;
}

// The operations the page should show: the served document's (and it should be the committed one).
const served = await (await fetch(`${base}/openapi.json`)).json();
const committed = JSON.parse(readFileSync(committedDoc, 'utf8'));
check('served /openapi.json equals openapi/openapi.json', JSON.stringify(served) === JSON.stringify(committed));
const expected = operationsOf(served);

const userDataDir = mkdtempSync(join(tmpdir(), 'docs-page-chromium-'));
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
// Playwright takes the fresh --user-data-dir as launchPersistentContext's first argument.
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args,
  viewport: { width: 1280, height: 900 },
});
let exitCode = 1;
try {
  const page = context.pages()[0] || (await context.newPage());
  const requests = [];
  const pageErrors = [];
  const consoleErrors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.setDefaultTimeout(15000);

  // /docs (no slash) is what README tells people to open.
  const nav = await page.goto(`${base}/docs`, { waitUntil: 'load' });
  check('/docs redirects to /docs/ and loads', nav !== null && nav.ok() && new URL(page.url()).pathname === '/docs/',
    `${nav && nav.status()} at ${page.url()}`);

  let rendered = [];
  try {
    await page.waitForSelector('.opblock', { timeout: 20000 });
    // Let every tag section finish rendering.
    await page.waitForFunction((n) => document.querySelectorAll('.opblock').length >= n, expected.length, { timeout: 5000 })
      .catch(() => {});
    rendered = await page.$$eval('.opblock', (els) => els.map((el) => ({
      id: el.id,
      method: (el.querySelector('.opblock-summary-method')?.textContent || '').trim().toLowerCase(),
      path: (el.querySelector('.opblock-summary-path')?.getAttribute('data-path')
        || el.querySelector('.opblock-summary-path')?.textContent || '').replace(/\u200b/g, '').trim(),
    })));
  } catch (e) {
    check('Swagger UI renders operations', false, String(e).split('\n')[0]);
  }
  check(`page shows ${expected.length} operations (.opblock count)`, rendered.length === expected.length,
    `${rendered.length} rendered`);
  const key = (o) => `${o.method.toUpperCase()} ${o.path}`;
  const renderedKeys = new Set(rendered.map(key));
  const renderedIds = rendered.map((r) => r.id);
  const missing = expected.filter((o) => !renderedKeys.has(key(o)));
  check('every operation of the document is listed (method + path)', missing.length === 0,
    missing.map(key).join(', '));
  const missingIds = expected.filter((o) => o.operationId && !renderedIds.some((id) => id.endsWith(`-${o.operationId}`)));
  check('every operationId is rendered', missingIds.length === 0, missingIds.map((o) => o.operationId).join(', '));
  const title = await page.locator('.info .title').first().textContent().catch(() => '');
  check('document title is shown', (title || '').includes(served.info.title), JSON.stringify((title || '').trim()));
  const authorize = await page.locator('button.authorize').count();
  check('"Authorize" button is offered for the bearer token', authorize > 0);

  // Try it out: GET /books/{author}/{title}.
  let status = '';
  try {
    const op = page.locator('.opblock-get').filter({ has: page.locator('[data-path="/books/{author}/{title}"]') }).first();
    await op.locator('.opblock-summary').first().click();
    await op.locator('button.try-out__btn').click();
    await op.locator('tr[data-param-name="author"] input').fill('John Grisham');
    await op.locator('tr[data-param-name="title"] input').fill('The Rainmaker');
    await op.locator('button.execute').click();
    const statusCell = op.locator('.live-responses-table .response .response-col_status').first();
    await statusCell.waitFor();
    status = ((await statusCell.textContent()) || '').trim();
    const body = ((await op.locator('.live-responses-table .response-col_description pre, .live-responses-table .microlight').first()
      .textContent().catch(() => '')) || '');
    check('Try it out: GET /books/John Grisham/The Rainmaker answers 200', status.startsWith('200'), `status ${status}`);
    check('Try it out: the response body shows the book', body.includes('The Rainmaker') && body.includes('Suspense'),
      body.slice(0, 120).replace(/\s+/g, ' '));
    await op.scrollIntoViewIfNeeded();
  } catch (e) {
    check('Try it out: GET /books/{author}/{title}', false, String(e).split('\n')[0]);
  }

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);

  const foreign = requests.filter((u) => {
    let url;
    try { url = new URL(u); } catch { return true; }
    if (url.protocol === 'data:' || url.protocol === 'blob:') return false;
    return !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  });
  check(`no request leaves localhost (${requests.length} requests)`, foreign.length === 0,
    [...new Set(foreign)].join(', '));
  check('no JavaScript errors on the page', pageErrors.length === 0, pageErrors.join(' | '));
  if (consoleErrors.length) console.log(`console errors (informational): ${consoleErrors.join(' | ')}`);

  const failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  exitCode = failed === 0 ? 0 : 1;
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
