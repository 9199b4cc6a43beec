// Opens a run's Allure report in headless Chromium (Debian's /usr/bin/chromium, driven by the pinned
// playwright-core) and prints, as JSON, what a reader sees: the overview's text, the tree's text after expanding
// groups, a test's page, whether an attached plot decoded, and a tab's text; saves screenshots.
// Usage: node report_in_browser.js <report URL> <screenshot.png> [--expand GROUP]... [--tab TAB]
//        [--test TITLE_REGEX [--plot PLOT_NAME]]
const { chromium } = require('playwright-core');

function options(argv) {
  const parsed = { expand: [], tab: null, test: null, plot: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--expand') parsed.expand.push(value);
    else if (flag === '--tab') parsed.tab = value;
    else if (flag === '--test') parsed.test = value;
    else if (flag === '--plot') parsed.plot = value;
    else throw new Error(`unknown option ${flag}`);
  }
  return parsed;
}

const LAUNCH_ARGS = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // --disable-dev-shm-usage: a container's /dev/shm is often 64 MB, and a renderer that runs out of it crashes
  // without a word, leaving the wait below to time out
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
};
const ATTEMPTS = 3;

// What a page that has not shown its overview is doing, for the failure's message.
async function stuckState(page) {
  return page.evaluate(() => ({
    readyState: document.readyState,
    dataReady: globalThis.allureReportDataReady,
    loaderShown: Boolean(document.getElementById('allure-app-loader')),
    text: document.body ? document.body.innerText.slice(0, 200) : null,
  })).catch((error) => ({ unreadable: String(error).slice(0, 200) }));
}

// A browser with the report's overview shown (its "Variables"). On a loaded two-core machine a page has stayed
// without it past three minutes, reloaded once in the same browser, with no page error and no crash (three times
// in CI runs of ~40 reports; not reproduced alone or under six busy processes): each attempt is a new browser, and
// what the stuck page showed is kept in result.stuck and a screenshot.
async function browserWithOverview(url, screenshot, result) {
  for (let attempt = 1; ; attempt++) {
    const browser = await chromium.launch(LAUNCH_ARGS);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    page.on('crash', () => { result.crashed = true; });
    page.on('pageerror', (error) => { result.pageErrors = [...(result.pageErrors || []), String(error).slice(0, 500)]; });
    try {
      await page.goto(url);
      await page.getByText('Variables', { exact: true }).first().waitFor({ timeout: 60000 });
      return { browser, page };
    } catch (error) {
      result.stuck = [...(result.stuck || []), { attempt, error: String(error).slice(0, 300), ...await stuckState(page) }];
      await page.screenshot({ path: screenshot.replace(/\.png$/, `-stuck-${attempt}.png`) }).catch(() => {});
      await browser.close();
      if (attempt >= ATTEMPTS) throw error;
      result.retries = attempt;
    }
  }
}

(async () => {
  const [url, screenshot, ...rest] = process.argv.slice(2);
  if (!url || !screenshot) throw new Error('usage: report_in_browser.js <report URL> <screenshot.png> [options]');
  const wanted = options(rest);
  const result = { expanded: [] };
  let browser = null;
  try {
    const opened = await browserWithOverview(url, screenshot, result);
    browser = opened.browser;
    const { page } = opened;
    result.overview = await page.evaluate(() => document.body.innerText);
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-overview.png') });
    const shown = () => page.evaluate(() => document.body.innerText.length);
    for (const group of wanted.expand) {  // a group holding a failure opens by itself: a click would close it
      const before = await shown();
      await page.getByText(group, { exact: true }).first().click({ timeout: 30000 });
      await page.waitForTimeout(300);
      if (await shown() < before) {
        await page.getByText(group, { exact: true }).first().click({ timeout: 30000 });
      }
      result.expanded.push(group);
    }
    result.tree = await page.evaluate(() => document.body.innerText);
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-tree.png'), fullPage: true });
    if (wanted.test) {
      await page.getByText(new RegExp(wanted.test)).first().click({ timeout: 10000 });
      await page.waitForTimeout(1000);
      result.testPage = await page.evaluate(() => document.body.innerText);
      await page.screenshot({ path: screenshot });
    }
    if (wanted.plot) {
      await page.getByText('Attachments', { exact: false }).first().click({ timeout: 10000 });
      const plot = page.getByText(wanted.plot, { exact: true }).first();
      await plot.scrollIntoViewIfNeeded();
      await plot.click({ timeout: 10000 });
      await page.waitForFunction(() => Array.from(document.images).some(i => i.complete && i.naturalWidth > 0),
                                 null, { timeout: 30000 });
      result.images = await page.evaluate(() => Array.from(document.images).map(i => ({ alt: i.alt, width: i.naturalWidth })));
      await page.locator('img').first().scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshot });
    }
    if (wanted.tab) {  // on a page of its own, freshly loaded: the first page may be deep in a test
      await browser.close();
      ({ browser } = await browserWithOverview(url, screenshot, result));
      const [tabPage] = browser.contexts().flatMap((context) => context.pages());
      await tabPage.getByText(wanted.tab, { exact: false }).first().click({ timeout: 60000 });
      await tabPage.waitForTimeout(1000);
      result.tab = await tabPage.evaluate(() => document.body.innerText);
      await tabPage.screenshot({ path: screenshot.replace(/\.png$/, '-tab.png') });
    }
  } catch (error) {
    for (const [i, shown] of (browser ? browser.contexts() : []).flatMap((context) => context.pages()).entries()) {
      await shown.screenshot({ path: screenshot.replace(/\.png$/, `-error-${i}.png`) }).catch(() => {});
    }
    result.error = String(error).slice(0, 2000) + (result.crashed ? ' (the page crashed)' : '')
      + (result.pageErrors ? ` (the page's errors: ${result.pageErrors.join('; ')})` : '')
      + (result.stuck ? ` (the pages without an overview: ${JSON.stringify(result.stuck)})` : '');
  } finally {
    if (browser) await browser.close();
  }
  console.log(JSON.stringify(result));
})();
