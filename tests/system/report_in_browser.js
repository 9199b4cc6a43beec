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

// The overview shown (its "Variables"). On a loaded two-core machine a page has stayed without it past two minutes,
// with no page error and no crash, twice in one CI run of ~40 reports: it is loaded once more before giving up.
async function overviewShown(page, url, result) {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.getByText('Variables', { exact: true }).first().waitFor({ timeout: 90000 });
      return;
    } catch (error) {
      if (attempt >= 2) throw error;
      result.reloads = (result.reloads || 0) + 1;
      await page.goto(url);
    }
  }
}

(async () => {
  const [url, screenshot, ...rest] = process.argv.slice(2);
  const wanted = options(rest);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // --disable-dev-shm-usage: a container's /dev/shm is often 64 MB, and a renderer that runs out of it crashes
    // without a word, leaving the wait below to time out
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const result = { expanded: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    page.on('crash', () => { result.crashed = true; });
    page.on('pageerror', (error) => { result.pageErrors = [...(result.pageErrors || []), String(error).slice(0, 500)]; });
    await page.goto(url);
    await overviewShown(page, url, result);
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
      const tabPage = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      await tabPage.goto(url);
      await overviewShown(tabPage, url, result);
      await tabPage.getByText(wanted.tab, { exact: false }).first().click({ timeout: 60000 });
      await tabPage.waitForTimeout(1000);
      result.tab = await tabPage.evaluate(() => document.body.innerText);
      await tabPage.screenshot({ path: screenshot.replace(/\.png$/, '-tab.png') });
    }
  } catch (error) {
    for (const [i, shown] of browser.contexts().flatMap((context) => context.pages()).entries()) {
      await shown.screenshot({ path: screenshot.replace(/\.png$/, `-error-${i}.png`) }).catch(() => {});
    }
    result.error = String(error).slice(0, 2000) + (result.crashed ? ' (the page crashed)' : '')
      + (result.pageErrors ? ` (the page's errors: ${result.pageErrors.join('; ')})` : '');
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})();
