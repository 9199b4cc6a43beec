// Opens a run's Allure report in headless Chromium (Debian's /usr/bin/chromium, driven by the pinned
// playwright-core) and prints what rendered as JSON: the areas, the requirement ids under them, one test's
// verdict, whether an attached plot decoded, and the audit pages; saves a screenshot.
// Usage: node report_in_browser.js <report URL> <screenshot.png> <area>... -- <test title prefix> <plot name>
const { chromium } = require('playwright-core');

(async () => {
  const [url, screenshot, ...rest] = process.argv.slice(2);
  const split = rest.indexOf('--');
  const areas = rest.slice(0, split);
  const [testPrefix, plotName] = rest.slice(split + 1);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const result = { areas: {}, text: '' };
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(url);
    for (const area of areas) {
      const group = page.getByText(area, { exact: true }).first();
      await group.click({ timeout: 120000 });
      result.areas[area] = true;
    }
    result.text = await page.evaluate(() => document.body.innerText);
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-tree.png') });
    await page.getByText(testPrefix.split(':')[0], { exact: true }).first().click({ timeout: 10000 });
    await page.getByText(new RegExp('^' + testPrefix)).first().click({ timeout: 10000 });
    await page.waitForTimeout(1000);
    result.testPage = await page.evaluate(() => document.body.innerText);
    await page.getByText('Attachments', { exact: false }).first().click({ timeout: 10000 });
    const plot = page.getByText(plotName, { exact: true }).first();
    await plot.scrollIntoViewIfNeeded();
    await plot.click({ timeout: 10000 });
    await page.waitForFunction(() => Array.from(document.images).some(i => i.complete && i.naturalWidth > 0),
                               null, { timeout: 30000 });
    result.images = await page.evaluate(() => Array.from(document.images).map(i => ({ alt: i.alt, width: i.naturalWidth })));
    await page.locator('img').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshot });
  } catch (error) {
    result.error = String(error).slice(0, 2000);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})();
