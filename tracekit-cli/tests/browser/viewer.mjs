// Drives the viewer in headless Chromium (Debian's, through playwright-core): the list
// (paging, sorting, live rows), a trace's waterfall (axis, labels, marks, folding, keyboard,
// deep links, the span's conversation, escaping), the conversations pages, a 2 000-span
// trace (minimap zoom), the dark theme, and screenshots.
//
//   node viewer.mjs URL SCREENSHOT_DIR LIVE_SIGNAL_FILE
//
// Prints one JSON line of findings; the Rust test (tests/viewer.rs) checks them.
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";

const [url, shots, signal] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const errors = [];
let alerted = false;
async function open(colorScheme = "light") {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 }, colorScheme });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("dialog", async (d) => { alerted = true; await d.dismiss(); });
  return page;
}
const found = {};
const page = await open();
await page.goto(url);
await page.waitForSelector("#traces tbody tr");
found.rows = await page.$$eval("#traces tbody tr", (trs) => trs.map((tr) => tr.textContent));
await page.screenshot({ path: `${shots}/viewer-list.png` });

// Live: the test sends a new trace over OTLP once this file exists; it must appear without a
// reload, and the header's collector counts it.
writeFileSync(signal, "ready");
await page.waitForFunction(() => [...document.querySelectorAll("#traces tbody tr")].some((tr) => tr.textContent.includes("live-conversation")), null, { timeout: 20000 });
found.liveSeen = true;
await page.waitForFunction(() => !document.getElementById("collector").hidden && document.getElementById("collector").textContent.includes("1 span"), null, { timeout: 10000 });
found.collector = await page.$eval("#collector", (b) => b.textContent);

// Paging with the cursor, in the URL.
found.firstPage = await page.$$eval("#traces tbody tr", (trs) => trs.map((tr) => tr.textContent));
await page.click("#next");
await page.waitForFunction(() => location.hash.includes("after="));
await page.waitForFunction((first) => document.querySelector("#traces tbody tr")?.textContent !== first, found.firstPage[0]);
found.secondPage = await page.$$eval("#traces tbody tr", (trs) => trs.map((tr) => tr.textContent));
found.secondHash = await page.evaluate(() => location.hash);
await page.goBack();
await page.waitForFunction(() => !location.hash.includes("after=") && document.querySelector("#traces tbody tr")?.textContent.includes("live-conversation"));

// Sorting a page by tokens, most first.
await page.click("th:has-text('Tokens')");
found.sortedFirst = await page.$eval("#traces tbody tr", (tr) => tr.textContent);
found.sortedClass = await page.$eval("th:has-text('Tokens')", (th) => th.className);

// Open the top trace (the conversation's first turn): bars, axis, labels, marks.
await page.click("#traces tbody tr");
await page.waitForSelector(".waterfall .row");
found.bars = await page.$$eval(".waterfall .bar", (b) => b.length);
found.errorBars = await page.$$eval(".waterfall .bar.error", (b) => b.length);
found.cancelledBars = await page.$$eval(".waterfall .bar.cancelled", (b) => b.length);
found.labels = await page.$$eval(".waterfall .bar-label", (l) => l.map((x) => x.textContent));
found.ticks = await page.$$eval(".axis .tick", (t) => t.map((x) => x.textContent));
found.colours = await page.$$eval(".waterfall .bar", (bars) => [...new Set(bars.map((b) => getComputedStyle(b).backgroundColor))].length);

// Folding the root hides its subtree and says how much.
await page.click(".waterfall .row >> nth=0 >> .toggle");
found.foldedRows = await page.$$eval(".waterfall .row", (r) => r.length);
found.hiddenCount = await page.$eval(".hidden-count", (h) => h.textContent);
await page.click(".waterfall .row >> nth=0 >> .toggle");

// Keyboard: j selects the root, j the LLM call, whose conversation the panel shows.
await page.keyboard.press("j");
await page.keyboard.press("j");
found.selectedByKeys = await page.$eval(".row.selected .label", (l) => l.textContent);
found.spanInUrl = await page.evaluate(() => location.hash);
found.userMessage = await page.$eval("aside.detail .msg.user", (m) => m.textContent);
found.toolCall = await page.$eval("aside.detail .msg.assistant .call .fn", (m) => m.textContent);
found.llmChips = await page.$eval("aside.detail .chips", (c) => c.textContent);
found.evaluations = await page.$eval("aside.detail dl.evaluations", (d) => d.textContent);
await page.screenshot({ path: `${shots}/viewer-trace.png` });

// The tool span: its result as a foldable tree, the hostile attribute as text.
await page.click(".waterfall .row:has-text('execute_tool search')");
await page.waitForSelector("aside.detail h3:has-text('execute_tool search')");
found.detail = await page.$eval("aside.detail", (d) => d.textContent);
found.inherited = await page.$$eval("aside.detail dt.inherited", (dts) => dts.map((d) => d.textContent));
found.scriptText = await page.$$eval("aside.detail dd", (dds) => dds.map((d) => d.textContent).find((t) => t.includes("<script>")) || null);
found.injected = await page.$$eval("aside.detail script, aside.detail img", (s) => s.length);
found.foldable = await page.$$eval("aside.detail .msg.tool details", (d) => d.map((x) => x.textContent));
const deepLink = await page.evaluate(() => location.href);

// A deep link opens the same trace with the same span selected.
const linked = await open();
await linked.goto(deepLink);
await linked.waitForSelector("aside.detail h3");
found.deepLinked = await linked.$eval("aside.detail h3", (h) => h.textContent);
await linked.close();

// Escape goes back to the list.
await page.keyboard.press("Escape");
await page.waitForSelector("#traces tbody tr");
found.escapedTo = await page.evaluate(() => location.hash);

// Conversations: the list with totals, then one conversation's turns.
await page.click("#nav-conversations");
await page.waitForSelector("#conversations tbody tr");
found.conversations = await page.$$eval("#conversations tbody tr", (trs) => trs.map((tr) => tr.textContent));
await page.screenshot({ path: `${shots}/viewer-conversations.png` });
await page.click("#conversations tbody tr:has-text('conv-viewer') a");
await page.waitForSelector(".turn");
found.turns = await page.$$eval(".turn", (t) => t.map((x) => x.textContent));
await page.screenshot({ path: `${shots}/viewer-conversation.png` });

// The 2 000-span turn: how long until every row is drawn, then zoom on the minimap.
const started = Date.now();
await page.click(".turn >> nth=1 >> a:has-text('open trace')");
await page.waitForFunction(() => document.querySelectorAll(".waterfall .row").length === 2000, null, { timeout: 30000 });
found.bigRenderMs = Date.now() - started;
const before = await page.$$eval(".axis .tick", (t) => t.map((x) => x.textContent).join(" "));
const box = await page.$eval(".minimap", (m) => { const r = m.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; });
await page.mouse.move(box.x + box.w * 0.1, box.y + box.h / 2);
await page.mouse.down();
await page.mouse.move(box.x + box.w * 0.2, box.y + box.h / 2);
await page.mouse.up();
const after = await page.$$eval(".axis .tick", (t) => t.map((x) => x.textContent).join(" "));
found.zoomChangedAxis = before !== after;
found.zoomWindowShown = await page.$eval(".minimap .window", (w) => !w.hidden);
await page.keyboard.press("0");
found.zoomReset = await page.$eval(".minimap .window", (w) => w.hidden);

// The dark theme follows the system.
const dark = await open("dark");
await dark.goto(deepLink);
await dark.waitForSelector("aside.detail h3");
found.darkBackground = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
await dark.screenshot({ path: `${shots}/viewer-trace-dark.png` });

await browser.close();
console.log(JSON.stringify({ ...found, alerted, errors }));
