// End-to-end tests of `rbtui serve` with the official socket.io-client 4.x,
// run by bridge/e2e_test.go against a real broker, rbd and the simulator:
// BRIDGE_URL, BRIDGE_TOKEN, SIM_URL, SIM_IMEI and HARNESS_URL come from it.
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { delivered, harness, injectMT, waitDelivered } from "./station.js";

const { BRIDGE_URL, BRIDGE_TOKEN } = process.env;
if (!BRIDGE_URL) throw new Error("run through go test ./bridge -run TestNodeClients");

// The web chat carries its own copy of the client (it must work with no
// network): it is the very file of the socket.io-client version that
// package-lock.json pins and these tests run.
test("the web chat's socket.io.min.js is the locked socket.io-client's", () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const pkg = join(here, "node_modules", "socket.io-client", "package.json");
  const locked = readFileSync(join(dirname(pkg), "dist", "socket.io.min.js"));
  const vendored = readFileSync(join(here, "..", "..", "web", "vendor", "socket.io.min.js"));
  const version = JSON.parse(readFileSync(pkg, "utf8")).version;
  assert.ok(vendored.equals(locked), `bridge/web/vendor/socket.io.min.js differs from socket.io-client ${version}'s dist/socket.io.min.js: copy it again`);
});

// recorder keeps every event a socket gets, and lets a test wait for one.
function connect(transports, opts = {}) {
  const sock = io(BRIDGE_URL, {
    transports, upgrade: false, reconnectionDelay: 200, reconnectionDelayMax: 1000,
    auth: { token: BRIDGE_TOKEN }, forceNew: true, ...opts,
  });
  const seen = [];
  const waiters = [];
  sock.onAny((ev, ...args) => {
    seen.push({ ev, args });
    for (const w of [...waiters]) {
      if (w.ev === ev && w.pred(...args)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(args[0]);
      }
    }
  });
  sock.waitFor = (ev, pred = () => true, ms = 30000) => {
    const hit = seen.find((s) => s.ev === ev && pred(...s.args));
    if (hit) return Promise.resolve(hit.args[0]);
    return new Promise((resolve, reject) => {
      const w = { ev, pred };
      // The timer goes with the wait, so a finished run does not linger.
      const timer = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) { waiters.splice(i, 1); reject(new Error(`timed out waiting for ${ev}; got ${JSON.stringify(seen.filter((s) => s.ev === ev).slice(-8).map((s) => s.args[0]))}`)); }
      }, ms);
      w.resolve = (v) => { clearTimeout(timer); resolve(v); };
      waiters.push(w);
    });
  };
  // A transport that drops and silently reconnects loses what was emitted
  // meanwhile: the tests say so instead of timing out on a missing event.
  sock.drops = [];
  sock.on("disconnect", (reason) => sock.drops.push(reason));
  sock.seen = seen;
  sock.forget = () => { seen.length = 0; };
  return sock;
}

const once = (sock, ev, ms = 15000) => new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`timed out waiting for ${ev}`)), ms);
  sock.once(ev, (...a) => { clearTimeout(t); resolve(a); });
});

const STATES = ["queued", "submitted", "accepted", "sending", "retrying", "sent"];

const TRANSPORTS = (process.env.RB_NODE_TRANSPORTS || "polling,websocket").split(",").filter((t) => t !== "browser");

for (const transport of TRANSPORTS) {
  describe(`over ${transport}`, () => {
    let sock;
    before(async () => {
      sock = connect([transport]);
      await once(sock, "connect");
    });
    after(() => sock.close());
    afterEach(() => {
      assert.deepEqual(sock.drops, [], `the ${transport} connection dropped during the test`);
    });

    test("both event sets on connect", async () => {
      assert.equal(sock.io.engine.transport.name, transport);
      const st = await sock.waitFor("station");
      for (const k of ["station", "bars", "service", "modem", "broker", "stale", "last_contact", "outbox", "credits_today"]) {
        assert.ok(k in st, `station lacks ${k}`);
      }
      const bars = await sock.waitFor("signal");
      assert.equal(typeof bars, "number");
      assert.ok(bars >= 0 && bars <= 5);
      const msgs = await sock.waitFor("messages");
      assert.ok(Array.isArray(msgs) && msgs.every((m) => typeof m === "string"));
      const h = await sock.waitFor("history");
      assert.ok(Array.isArray(h.messages));
      // The station comes alive: rbd reports the modem with bars.
      const live = await sock.waitFor("station", (s) => s.modem === "ok" && s.bars > 0 && s.broker === "up");
      assert.equal(live.stale, false);
      await sock.waitFor("signal", (b) => b > 0);
    });

    test("an injected MT arrives as mt_recv and in messages", async () => {
      const text = `hello over ${transport} ${Date.now()}`;
      await injectMT(text);
      const m = await sock.waitFor("mt_recv", (m) => m.text === text);
      assert.equal(m.dir, "mt");
      assert.equal(Buffer.from(m.data, "base64").toString("utf8"), text);
      await sock.waitFor("messages", (l) => l.some((s) => / MT /.test(s) && s.endsWith(text)));
    });

    test("mo_send reaches the gateway once and ends sent", async () => {
      const text = `mo_send over ${transport} ${Date.now()}`;
      const ack = await sock.timeout(20000).emitWithAck("mo_send", { text });
      assert.ok(ack.id, `no id in ${JSON.stringify(ack)}`);
      assert.ok(!ack.error || ack.state === "queued", JSON.stringify(ack));
      const states = [];
      await sock.waitFor("mo_status", (s) => { if (s.id === ack.id) states.push(s.state); return s.id === ack.id && s.state === "sent"; });
      const sent = sock.seen.find((e) => e.ev === "mo_status" && e.args[0].id === ack.id && e.args[0].state === "sent").args[0];
      assert.equal(typeof sent.momsn, "number");
      for (const s of states) assert.ok(STATES.includes(s), `unexpected state ${s}`);
      await sock.waitFor("messages", (l) => l.some((s) => s.endsWith(`MO sent: ${text}`)));
      const got = await waitDelivered(text);
      await new Promise((r) => setTimeout(r, 1000)); // a second send would show by now
      assert.equal((await delivered(text)).length, 1, "delivered more than once");
      assert.equal(got[0].momsn, sent.momsn);
    });

    test("send (the original UI's event) reaches the gateway once", async () => {
      const text = `legacy send over ${transport} ${Date.now()}`;
      sock.emit("send", text);
      await sock.waitFor("messages", (l) => l.some((s) => s.endsWith(`MO sent: ${text}`)));
      const h = await sock.timeout(10000).emitWithAck("history", { limit: 20 });
      const m = h.messages.find((m) => m.text === text);
      assert.ok(m, "not in history");
      await sock.waitFor("mo_status", (s) => s.id === m.id && s.state === "sent").catch((e) => {
        throw new Error(`${e.message}: ${m.id} ${m.state}; seen ${JSON.stringify(sock.seen.filter((x) => x.ev === "mo_status").map((x) => x.args[0]))}`);
      });
      await waitDelivered(text);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await delivered(text)).length, 1, "delivered more than once");
    });

    test("bad events get errors and change nothing", async () => {
      const before = (await sock.timeout(10000).emitWithAck("history", { limit: 200 })).messages.length;
      for (const [arg, code] of [[{ text: "" }, "empty"], [{ text: "x".repeat(341) }, "too_long"], [42, "bad_request"],
        [{ data: "not base64!" }, "bad_request"], [{ text: "a", data: "YQ==" }, "bad_request"]]) {
        const ack = await sock.timeout(10000).emitWithAck("mo_send", arg);
        assert.equal(ack.id, undefined);
        assert.equal(ack.error.code, code, JSON.stringify(ack));
        assert.ok(ack.error.message.length > 0);
      }
      sock.emit("send", { not: "a string" });
      const err = await sock.waitFor("bridge_error", (e) => e.event === "send");
      assert.equal(err.code, "bad_request");
      const after = (await sock.timeout(10000).emitWithAck("history", { limit: 200 })).messages.length;
      assert.equal(after, before);
    });

    test("a bad token is refused", async () => {
      for (const opts of [{ auth: { token: "wrong-token-0000000000" } }, { auth: {} },
        { auth: {}, query: { token: "wrong-token-0000000000" } }]) {
        const bad = connect([transport], { ...opts, reconnection: false });
        const [err] = await once(bad, "connect_error");
        assert.ok(err, "no error");
        assert.equal(bad.connected, false);
        bad.close();
      }
    });

    test("reconnects after the bridge restarts and gets the history again", async () => {
      sock.forget();
      const gone = once(sock, "disconnect", 20000);
      await harness("restart-bridge");
      await gone;
      await once(sock, "connect", 30000);
      const h = await sock.waitFor("history");
      assert.ok(h.messages.length > 0, "empty history after reconnect");
      await sock.waitFor("station");
      await sock.waitFor("messages");
      sock.drops.length = 0; // this one was meant
    });
  });
}
