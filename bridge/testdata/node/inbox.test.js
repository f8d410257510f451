// The web chat as an inbox, in a real headless Chromium (as browser.test.js:
// playwright-core drives the system's /usr/bin/chromium), run by
// bridge/e2e_test.go against the whole station: the unread count in the
// title, a notification for an MT while the page is hidden, a draft kept per
// station across reloads, times as the screen shows them, a sentence for an
// over-limit message, a wrong token forgotten, a cancel that came too late,
// and the signal unknown with its age while the broker is gone. The page
// runs in Los Angeles with a 12-hour locale: its times must still be the
// screen's 24-hour UTC.
// The broker test stops the broker: it runs last (this file sorts after the
// others, and node runs the files one at a time).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { harness, injectMT } from "./station.js";

const { BRIDGE_URL, BRIDGE_TOKEN, STATION, STATION_B } = process.env;
if (!BRIDGE_URL) throw new Error("run through go test ./bridge -run TestNodeClients");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const required = process.env.RB_REQUIRE_BROKER === "1";
const skip = !existsSync(CHROMIUM) && !required ? `no Chromium at ${CHROMIUM}` : false;
const wanted = !process.env.RB_NODE_TRANSPORTS || process.env.RB_NODE_TRANSPORTS.split(",").includes("browser");
const BASE_TITLE = "RockBLOCK station";

// Spies on the page before its script runs: the notifications it makes
// (still made for real), and a switch that makes the page hidden or
// visible as a phone's lock or another tab would.
function spies() {
  window.__notes = [];
  const Real = window.Notification;
  if (Real) {
    const Spy = function (title, opts) { window.__notes.push({ title, body: opts && opts.body, tag: opts && opts.tag }); return new Real(title, opts); };
    Object.defineProperty(Spy, "permission", { get: () => Real.permission });
    Spy.requestPermission = (...a) => Real.requestPermission(...a);
    window.Notification = Spy;
  }
  window.__hide = (hidden) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event("visibilitychange"));
  };
}

describe("web chat as an inbox in Chromium", { skip: skip || !wanted }, () => {
  let browser, page, profile;
  const problems = [];

  async function open(p, hash = `#token=${BRIDGE_TOKEN}`) {
    await p.goto(`${BRIDGE_URL}/${hash}`);
    await p.waitForFunction(() => document.getElementById("broker").dataset.broker === "up", null, { timeout: 30000 });
  }

  before(async () => {
    profile = mkdtempSync(join(tmpdir(), "rb-chromium-inbox-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"],
      viewport: { width: 360, height: 740 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true,
      timezoneId: "America/Los_Angeles", locale: "en-US",
    });
    await browser.grantPermissions(["notifications"], { origin: new URL(BRIDGE_URL).origin });
    await browser.addInitScript(spies);
    page = await browser.newPage();
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
    await open(page);
  });

  after(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("times are the screen's: 24-hour UTC, the whole time in the title", async () => {
    const text = `what time is it ${Date.now()}`;
    await injectMT(text);
    const time = page.locator("li.msg.mt", { hasText: text }).locator(".time");
    await time.waitFor({ timeout: 30000 });
    const shown = await time.textContent();
    const full = await time.getAttribute("title");
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC$/.exec(full);
    assert.ok(m, `title ${full}`);
    assert.equal(shown, `${m[4]}:${m[5]}`, "the list time is the clock time of the title");
    const at = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    assert.ok(Math.abs(Date.now() - at) < 120000, `${full} is not now in UTC`);
    assert.doesNotMatch(shown, /AM|PM/);
  });

  test("an MT while hidden: a notification, the unread count in the title, read once shown", async () => {
    await page.waitForFunction((t) => document.title === t, BASE_TITLE, { timeout: 30000 });
    assert.equal(await page.evaluate(() => Notification.permission), "granted");
    assert.equal(await page.locator("#notify").isHidden(), true, "the button asks for what is granted");
    await page.evaluate(() => window.__hide(true));
    const text = `while you were away ${Date.now()}`;
    await injectMT(text);
    const li = page.locator("li.msg.mt", { hasText: text });
    await li.waitFor({ timeout: 30000 });
    await page.waitForFunction((t) => document.title === `(1) ${t}`, BASE_TITLE, { timeout: 30000 });
    assert.match(await li.getAttribute("class"), /\bunread\b/);
    const notes = await page.evaluate(() => window.__notes);
    assert.deepEqual(notes.map((n) => [n.title, n.body]), [[`${STATION}: new message`, text]]);
    // Shown again: it is read, here and for every surface (the count comes from the bridge).
    await page.evaluate(() => window.__hide(false));
    await page.waitForFunction((t) => document.title === t, BASE_TITLE, { timeout: 30000 });
    await page.waitForFunction((t) => ![...document.querySelectorAll("li.msg.mt.unread")].some((e) => e.textContent.includes(t)), text);
    // An MT while the page is visible makes no notification.
    const seen = `while you look ${Date.now()}`;
    await injectMT(seen);
    await page.locator("li.msg.mt", { hasText: seen }).waitFor({ timeout: 30000 });
    assert.equal((await page.evaluate(() => window.__notes)).length, 1);
  });

  test("a draft is kept per station across reloads, and goes once sent", async () => {
    const from = page.locator("#from");
    await from.waitFor({ state: "visible", timeout: 30000 });
    const a = `half typed for ${STATION}`, b = `half typed for ${STATION_B}`;
    await page.locator("#text").fill(a);
    await from.selectOption(STATION_B);
    assert.equal(await page.locator("#text").inputValue(), "", "the other station has no draft yet");
    await page.locator("#text").fill(b);
    await page.reload();
    await page.waitForFunction(() => document.getElementById("broker").dataset.broker === "up", null, { timeout: 30000 });
    assert.equal(await from.inputValue(), STATION);
    assert.equal(await page.locator("#text").inputValue(), a);
    await from.selectOption(STATION_B);
    assert.equal(await page.locator("#text").inputValue(), b);
    // Sent, the draft goes: after a reload the box is empty.
    await page.locator("#send").click();
    await page.locator("li.msg.mo", { hasText: b }).locator('.state[data-state="sent"]').waitFor({ timeout: 30000 });
    assert.equal(await page.locator("#text").inputValue(), "");
    await page.reload();
    await page.waitForFunction(() => document.getElementById("broker").dataset.broker === "up", null, { timeout: 30000 });
    await from.selectOption(STATION_B);
    assert.equal(await page.locator("#text").inputValue(), "");
    await from.selectOption(STATION);
    await page.locator("#text").fill("");
  });

  test("an over-limit message says why and by how much", async () => {
    const over = page.locator("#over");
    await page.locator("#text").fill("x".repeat(345));
    assert.equal(await over.textContent(), "345 bytes is 5 over the 340-byte limit of one satellite message: shorten it to send.");
    assert.equal(await page.locator("#send").isDisabled(), true);
    await page.locator("#text").fill("é".repeat(171)); // 171 letters, 342 bytes
    assert.match(await over.textContent(), /^342 bytes is 2 over the 340-byte limit.*take 2 to 4 bytes each\.$/);
    await page.locator("#text").fill("short");
    assert.equal(await over.isHidden(), true);
    assert.equal(await page.locator("#send").isDisabled(), false);
    await page.locator("#text").fill("");
  });

  test("a wrong token is refused plainly and forgotten; no outage is suggested", async () => {
    const other = await browser.newPage();
    try {
      await other.goto(`${BRIDGE_URL}/#token=wrong-token-0000000000`);
      await other.locator("#auth").waitFor({ state: "visible", timeout: 30000 });
      assert.match(await other.locator("#authmsg").textContent(), /token was refused.*forgot it/);
      assert.equal(await other.evaluate(() => localStorage.getItem("rb-token")), null, "the bad token is kept");
      for (const sel of ["#signal", "#broker", "#service", "#compose", "#away"]) {
        assert.equal(await other.locator(sel).isHidden(), true, `${sel} shows while the token is refused`);
      }
      // A reload does not try the bad token again: the form asks at once.
      await other.reload();
      await other.locator("#auth").waitFor({ state: "visible", timeout: 30000 });
      assert.match(await other.locator("#authmsg").textContent(), /needs its access token/);
      await other.locator("#token").fill(BRIDGE_TOKEN);
      await other.locator("#authform button[type=submit]").click();
      await other.waitForFunction(() => document.getElementById("broker").dataset.broker === "up", null, { timeout: 30000 });
      assert.equal(await other.locator("#signal").isVisible(), true);
      assert.equal(await other.evaluate(() => localStorage.getItem("rb-token")), BRIDGE_TOKEN);
    } finally {
      await other.close();
    }
  });

  test("rbd's reason shows beside the signal", async () => {
    await page.locator("#from").selectOption(STATION);
    const reason = `state directory not writable (disk full ${Date.now()}): holding; taking no messages, starting no sessions`;
    await harness("signal-reason", { reason });
    await page.waitForFunction((r) => document.getElementById("reason").textContent === "rbd: " + r, reason, { timeout: 30000 });
    assert.equal(await page.locator("#reason").isVisible(), true);
    // rbd's next report without one clears it.
    await harness("signal-reason", { reason: "" });
    await page.locator("#reason").waitFor({ state: "hidden", timeout: 30000 });
  });

  test("a cancel that came too late says so under the message, also after a reload", async () => {
    await page.locator("#from").selectOption(STATION);
    const text = `cancel me too late ${Date.now()}`;
    await page.locator("#text").fill(text);
    await page.locator("#send").click();
    const li = page.locator("li.msg.mo", { hasText: text });
    await li.locator('.state[data-state="sent"]').waitFor({ timeout: 30000 });
    const id = await li.getAttribute("data-id");
    assert.equal(await li.locator(".toolate").count(), 0, "a message nobody cancelled says nothing");
    // The cancel reaches rbd after the session sent the message: rbd answers it too late.
    await harness("late-cancel", { id });
    const line = "Cancel too late: the session had started — it was sent";
    await li.locator(".toolate").waitFor({ timeout: 30000 });
    assert.equal(await li.locator(".toolate").textContent(), line);
    assert.equal(await li.locator(".state").getAttribute("data-state"), "sent", "the state stays sent");
    assert.equal(await li.locator("button.act").count(), 0, "a sent message offers no cancel");
    // The page loads the message from the history: the line is there again.
    await page.reload();
    await page.waitForFunction(() => document.getElementById("broker").dataset.broker === "up", null, { timeout: 30000 });
    const again = page.locator(`li.msg.mo[data-id="${id}"]`);
    await again.locator(".toolate").waitFor({ timeout: 30000 });
    assert.equal(await again.locator(".toolate").textContent(), line);
    assert.equal(await again.locator(".state").getAttribute("data-state"), "sent");
  });

  // Last: it stops the broker.
  test("with the broker gone the signal is unknown with its age, not the last bars", async () => {
    await page.waitForFunction(() => document.getElementById("signal").dataset.state === "ok", null, { timeout: 30000 });
    await harness("stop-broker");
    try {
      await page.waitForFunction(() => document.getElementById("signal").dataset.state === "no broker", null, { timeout: 30000 });
      const got = await page.evaluate(() => ({
        bars: document.getElementById("signal").textContent,
        label: document.getElementById("signal").getAttribute("aria-label"),
        service: document.getElementById("service").textContent,
        broker: document.getElementById("broker").dataset.broker,
      }));
      assert.equal(got.bars, "▁▁▁▁▁");
      assert.match(got.service, /^no broker \(\d+[smh] old\)$/);
      assert.match(got.label, /^signal unknown: no broker/);
      assert.equal(got.broker, "down");
    } finally {
      await harness("start-broker");
    }
    await page.waitForFunction(() => document.getElementById("signal").dataset.state === "ok", null, { timeout: 90000 });
    assert.deepEqual(problems, [], "the page reported errors");
  });
});
