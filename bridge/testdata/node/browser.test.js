// The embedded web chat in a real headless Chromium (playwright-core drives
// the system's /usr/bin/chromium; nothing is downloaded), run by
// bridge/e2e_test.go against the whole station like bridge.test.js.
// SCREENSHOT_DIR, when set, gets chat-360.png: the page 360 px wide.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { delivered, injectMT } from "./station.js";

const { BRIDGE_URL, BRIDGE_TOKEN, SCREENSHOT_DIR, STATION, STATION_B, SIM_URL_B } = process.env;
if (!BRIDGE_URL) throw new Error("run through go test ./bridge -run TestNodeClients");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const required = process.env.RB_REQUIRE_BROKER === "1";
const skip = !existsSync(CHROMIUM) && !required ? `no Chromium at ${CHROMIUM}` : false;
// RB_NODE_TRANSPORTS, when set, runs this only if it names "browser".
const wanted = !process.env.RB_NODE_TRANSPORTS || process.env.RB_NODE_TRANSPORTS.split(",").includes("browser");

// The MT that must stay text: markup, a script and terminal escapes.
const HOSTILE = '<img src=x onerror=alert(1)> \x1b[2J<script>window.pwned=1</script><b>bold</b>';

describe("web chat in Chromium", { skip: skip || !wanted }, () => {
  let browser, page, profile;
  const requests = [];
  const problems = [];
  const dialogs = [];

  before(async () => {
    profile = mkdtempSync(join(tmpdir(), "rb-chromium-"));
    // A fresh profile (playwright passes it as --user-data-dir), a phone 360 px wide.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"],
      viewport: { width: 360, height: 740 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true,
    });
    const ctx = browser;
    page = await ctx.newPage();
    page.on("request", (r) => requests.push(r.url()));
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
    page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
    // The token in the fragment: it never reaches a server log.
    await page.goto(`${BRIDGE_URL}/#token=${BRIDGE_TOKEN}`);
  });

  after(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("loads from the bridge alone and shows the signal", async () => {
    await page.waitForFunction(() => Number(document.getElementById("signal").dataset.bars) > 0, null, { timeout: 30000 });
    const sig = await page.locator("#signal").getAttribute("aria-label");
    assert.match(sig, /^[1-5] of 5 bars$/);
    assert.equal(await page.locator("#broker").getAttribute("data-broker"), "up");
    assert.equal(await page.locator("#away").isHidden(), true);
    const origin = new URL(BRIDGE_URL).origin;
    const foreign = requests.filter((u) => !u.startsWith(origin + "/") && !u.startsWith("data:"));
    assert.deepEqual(foreign, [], "the page asked for something beyond the bridge");
    // The handshake shows the token (its query), so strangers filling the
    // bridge's waiting pool cannot keep this page out.
    assert.ok(requests.some((u) => u.startsWith(`${origin}/socket.io/`) && new URL(u).searchParams.get("token") === BRIDGE_TOKEN),
      "no Socket.IO request carried the token");
    // The token left the address bar.
    assert.ok(!page.url().includes(BRIDGE_TOKEN), page.url());
  });

  test("a message typed and sent ends sent", async () => {
    const text = `from Chromium ${Date.now()}`;
    await page.locator("#text").fill(text);
    await page.locator("#send").click();
    const li = page.locator("li.msg.mo", { hasText: text });
    await li.locator('.state[data-state="sent"]').waitFor({ timeout: 30000 });
    assert.equal(await page.locator("#text").inputValue(), "");
    assert.match(await li.locator(".momsn").textContent(), /^#\d+$/);
    // Who sent it: the web chat has no key, only the way.
    assert.equal(await li.locator(".meta .by").textContent(), "web");
  });

  // The bridge follows two stations (e2e_test.go): the chat is a fleet's.
  test("a fleet's chat sends from the station chosen and shows each message's station", async () => {
    const from = page.locator("#from");
    await from.waitFor({ state: "visible", timeout: 30000 });
    assert.deepEqual(await from.locator("option").allTextContents(), [STATION, STATION_B]);
    assert.equal(await from.inputValue(), STATION, "the first station sends by default");
    await from.selectOption(STATION_B);
    const text = `from the second station ${Date.now()}`;
    await page.locator("#text").fill(text);
    await page.locator("#send").click();
    const li = page.locator("li.msg.mo", { hasText: text });
    await li.locator('.state[data-state="sent"]').waitFor({ timeout: 30000 });
    assert.equal(await li.locator(".meta .from").textContent(), STATION_B);
    // It went out through the second station's modem, once, and not the first's.
    assert.equal((await delivered(text, SIM_URL_B)).length, 1);
    assert.equal((await delivered(text)).length, 0);
    await from.selectOption(STATION);
  });

  test("an injected MT shows", async () => {
    const text = `to Chromium ${Date.now()}`;
    await injectMT(text);
    await page.locator("li.msg.mt .body", { hasText: text }).waitFor({ timeout: 30000 });
  });

  test("an MT full of markup and escapes stays inert text", async () => {
    const before = await page.evaluate(() => ({
      scripts: document.scripts.length, imgs: document.images.length, bolds: document.querySelectorAll("b").length,
    }));
    await injectMT(HOSTILE);
    const body = page.locator("li.msg.mt .body", { hasText: "<img src=x onerror=alert(1)>" });
    await body.waitFor({ timeout: 30000 });
    const got = await body.evaluate((el) => ({
      text: el.textContent,
      // The page's own marks for control characters are the only elements allowed.
      foreign: [...el.querySelectorAll("*")].filter((e) => !(e.tagName === "SPAN" && e.className === "ctl" && e.childElementCount === 0)).map((e) => e.outerHTML),
      marks: [...el.querySelectorAll("span.ctl")].map((e) => ({ name: e.textContent, width: e.getBoundingClientRect().width })),
    }));
    assert.deepEqual(got.foreign, [], "the message made elements");
    // ESC arrives as its Control Picture and shows as a boxed name, which
    // needs no font with that picture.
    assert.deepEqual(got.marks.map((m) => m.name), ["ESC"], JSON.stringify(got.marks));
    assert.ok(got.marks[0].width > 0, "the ESC mark is not drawn");
    assert.ok(got.text.includes("<script>window.pwned=1</script>"), got.text);
    assert.ok(got.text.includes("<b>bold</b>"), got.text);
    assert.ok(!got.text.includes("\x1b"), `a raw escape reached the page: ${JSON.stringify(got.text)}`);
    const after = await page.evaluate(() => ({
      scripts: document.scripts.length, imgs: document.images.length, bolds: document.querySelectorAll("b").length,
      pwned: window.pwned === 1,
    }));
    assert.deepEqual(after, { ...before, pwned: false });
    assert.deepEqual(dialogs, [], "a dialog opened");
    assert.deepEqual(problems, [], "the page reported errors");
  });

  test("fits 360 px", async () => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, "the page scrolls sideways");
    for (const sel of ["#bar", "#compose", "#send"]) {
      const box = await page.locator(sel).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `${sel} sticks out: ${JSON.stringify(box)}`);
    }
    if (SCREENSHOT_DIR) await page.screenshot({ path: join(SCREENSHOT_DIR, "chat-360.png") });
  });

  // The token goes with the handshake: a wrong one is refused there (401),
  // and the page asks for the token instead of retrying forever.
  test("a wrong token asks for the token, and the right one typed in connects", async () => {
    const other = await browser.newPage();
    try {
      await other.goto(`${BRIDGE_URL}/#token=wrong-token-0000000000`);
      await other.locator("#auth").waitFor({ state: "visible", timeout: 30000 });
      await other.locator("#token").fill(BRIDGE_TOKEN);
      await other.locator("#authform button[type=submit]").click();
      await other.waitForFunction(() => Number(document.getElementById("signal").dataset.bars) > 0, null, { timeout: 30000 });
      assert.equal(await other.locator("#auth").isHidden(), true);
      assert.equal(await other.locator("#away").isHidden(), true);
    } finally {
      await other.close();
    }
  });
});
