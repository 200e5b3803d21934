// Drives the viewer in headless Chromium (Debian's, through playwright-core): the list, a
// trace's waterfall and detail panel, a live span, escaping, and a screenshot.
//
//   node viewer.mjs URL SCREENSHOT LIVE_SIGNAL_FILE
//
// Prints one JSON line of findings; the Rust test (tests/viewer.rs) checks them.
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";

const [url, screenshot, signal] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
let alerted = false;
page.on("dialog", async (d) => { alerted = true; await d.dismiss(); });

await page.goto(url);
await page.waitForSelector("#traces tbody tr");
const rows = await page.$$eval("#traces tbody tr", (trs) => trs.map((tr) => tr.textContent));

// Live: the test writes a new trace once this file exists; it must appear without a reload.
writeFileSync(signal, "ready");
await page.waitForFunction(() => [...document.querySelectorAll("#traces tbody tr")].some((tr) => tr.textContent.includes("live-conversation")), null, { timeout: 20000 });
const liveSeen = true;

// Open the known conversation's trace.
await page.click("#traces tbody tr:has-text('conv-viewer')");
await page.waitForSelector("#waterfall .row");
const bars = await page.$$eval("#waterfall .bar", (b) => b.length);
const errorBars = await page.$$eval("#waterfall .bar.ERROR", (b) => b.length);
await page.click("#waterfall .row:has-text('execute_tool search')");
await page.waitForSelector("#detail dl");
const detail = await page.$eval("#detail", (d) => d.textContent);
// The keys marked as inherited (the marker itself is CSS, not text).
const inherited = await page.$$eval("#detail dt.inherited", (dts) => dts.map((d) => d.textContent));
const scriptText = await page.$$eval("#detail dd", (dds) => dds.map((d) => d.textContent).find((t) => t.includes("<script>")) || null);
const injected = await page.$$eval("#detail script", (s) => s.length);
const turns = await page.$eval("#turns", (t) => t.textContent);
await page.screenshot({ path: screenshot, fullPage: true });
await browser.close();
console.log(JSON.stringify({ rows, liveSeen, bars, errorBars, detail, inherited, scriptText, injected, alerted, turns, errors }));
