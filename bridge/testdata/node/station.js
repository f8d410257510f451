// What the Node tests share about the station bridge/e2e_test.go runs for
// them: the simulator's gateway (inject an MT, list what reached it) and the
// harness's control requests. node --test runs only *.test.js: this file is
// imported, not run.
import assert from "node:assert/strict";

const { SIM_URL, SIM_IMEI, HARNESS_URL } = process.env;

export const hex = (s) => Buffer.from(s, "utf8").toString("hex");

// injectMT queues an MT of text at the default simulator's gateway, as a
// sender on Rock7's web services does.
export async function injectMT(text) {
  const body = new URLSearchParams({ imei: SIM_IMEI, data: hex(text), username: "u", password: "p" });
  const r = await fetch(`${SIM_URL}/rockblock/MT`, { method: "POST", body });
  const out = await r.text();
  assert.match(out, /^OK,/, `simulator refused the MT: ${out}`);
}

// delivered returns the MO messages of that text that a simulator's
// gateway received (the default simulator's unless simURL says).
export async function delivered(text, simURL = SIM_URL) {
  const r = await fetch(`${simURL}/mo`);
  const list = await r.json();
  return list.filter((m) => m.data.toLowerCase() === hex(text));
}

// waitDelivered waits until an MO of that text reached the default
// simulator's gateway and returns what it received.
export async function waitDelivered(text, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const got = await delivered(text);
    if (got.length > 0) return got;
    if (Date.now() > end) throw new Error(`${text} never reached the gateway`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// harness asks bridge/e2e_test.go's control server to do what (restart the
// bridge, stop or start the broker, publish as rbd would), with form fields.
export async function harness(what, form) {
  const r = await fetch(`${HARNESS_URL}/${what}`, { method: "POST", body: form ? new URLSearchParams(form) : undefined });
  assert.equal(r.status, 200, `${what}: ${await r.text()}`);
}
