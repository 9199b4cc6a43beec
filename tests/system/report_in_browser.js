// Opens a run's Allure report in headless Chromium (Debian's /usr/bin/chromium, driven by the pinned
// playwright-core) and prints, as JSON, what a reader sees: the overview's text, the tree's text after expanding
// groups, a test's page, whether an attached plot decoded, a tab's text, and what the page asked of other hosts
// (result.elsewhere); saves screenshots.
// Usage: node report_in_browser.js <report URL> <screenshot.png> [--expand GROUP]... [--tab TAB]
//        [--test TITLE_REGEX [--plot PLOT_NAME]]
const fs = require('fs');
const os = require('os');
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

// /dev/shm (memory) when it has room for a renderer's shared memory, else Chromium's files in TMPDIR on disk:
// playwright passes --disable-dev-shm-usage by default (a container's /dev/shm is often 64 MB, and a renderer that
// runs out of it crashes without a word), which puts them on a disk the campaigns beside it keep busy.
const SHM_ROOM = 512 * 1024 * 1024;
function shmFree() {
  try { const s = fs.statfsSync('/dev/shm'); return s.bavail * s.bsize; } catch { return 0; }
}
const LAUNCH_ARGS = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
  ignoreDefaultArgs: shmFree() >= SHM_ROOM ? ['--disable-dev-shm-usage'] : [],
};

// What a page that has not shown its overview is doing, for the failure's message. Allure's app shows a spinner
// for good when its list of environments did not load (its fetch of the data: URL the single-file report holds
// failed: the error is kept, not shown), so the page fetches that entry again here and says what came back.
async function stuckState(page) {
  const state = await page.evaluate(async () => {
    const key = 'widgets/environments.json';
    const data = globalThis.allureReportData || {};
    let environments;
    try {
      const response = await Promise.race([
        fetch(`data:application/octet-stream;base64,${data[key]}`),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 10 s')), 10000))]);
      environments = `${response.status} ${(await response.text()).slice(0, 100)}`;
    } catch (error) {
      environments = `fetch failed: ${String(error).slice(0, 200)}`;
    }
    return {
      readyState: document.readyState,
      dataReady: globalThis.allureReportDataReady,
      loaderShown: Boolean(document.getElementById('allure-app-loader')),
      text: document.body ? document.body.innerText.slice(0, 200) : null,
      environmentsEntry: key in data,
      environments,
    };
  }).catch((error) => ({ unreadable: String(error).slice(0, 200) }));
  return { ...state, ...roomForChromium() };
}

// Free space where Chromium keeps its shared memory and profile, in MB: short of it, a fetch in the page fails.
function roomForChromium() {
  const free = (folder) => {
    try { const s = fs.statfsSync(folder); return Math.round(s.bavail * s.bsize / 2 ** 20); } catch { return null; }
  };
  return { freeMB: { devShm: free('/dev/shm'), tmp: free(os.tmpdir()) }, memoryFreeMB: Math.round(os.freemem() / 2 ** 20) };
}

// A browser with the report's overview shown (its "Variables"). On a loaded two-core machine a page has stayed
// without it, with no page error and no crash (four times in CI runs of ~40 reports, once in three new browsers
// in a row; not reproduced alone or under six busy processes). The page CI kept showed what Allure's app shows
// when its fetch of the report's environments failed (reproduced by failing that fetch): each attempt is a new
// browser after a pause that grows, and what the stuck page showed, with a fetch of that entry again and the room
// Chromium had, is kept in result.stuck and a screenshot.
const PAUSE_BEFORE_ATTEMPT_S = [0, 20, 60];
async function browserWithOverview(url, screenshot, result) {
  for (let attempt = 1; ; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, PAUSE_BEFORE_ATTEMPT_S[attempt - 1] * 1000));
    const browser = await chromium.launch(LAUNCH_ARGS);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    page.on('crash', () => { result.crashed = true; });
    page.on('pageerror', (error) => { result.pageErrors = [...(result.pageErrors || []), String(error).slice(0, 500)]; });
    page.on('request', (request) => {  // the report is one file: anything else it asks for leaves the machine
      const asked = new URL(request.url());
      if (asked.protocol !== 'data:' && asked.origin !== new URL(url).origin) {
        result.elsewhere = [...new Set([...(result.elsewhere || []), request.url().slice(0, 200)])];
      }
    });
    page.on('console', (message) => {  // Allure's app logs some failed loads, and shows none of them
      if (message.type() === 'error') result.consoleErrors = [...(result.consoleErrors || []), message.text().slice(0, 300)];
    });
    try {
      await page.goto(url);
      await page.getByText('Variables', { exact: true }).first().waitFor({ timeout: 60000 });
      return { browser, page };
    } catch (error) {
      result.stuck = [...(result.stuck || []), { attempt, error: String(error).slice(0, 300), ...await stuckState(page) }];
      await page.screenshot({ path: screenshot.replace(/\.png$/, `-stuck-${attempt}.png`) }).catch(() => {});
      await browser.close();
      if (attempt >= PAUSE_BEFORE_ATTEMPT_S.length) throw error;
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
      + (result.consoleErrors ? ` (its console's errors: ${result.consoleErrors.join('; ')})` : '')
      + (result.stuck ? ` (the pages without an overview: ${JSON.stringify(result.stuck)})` : '');
  } finally {
    if (browser) await browser.close();
  }
  console.log(JSON.stringify(result));
})();
