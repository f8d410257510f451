// The web chat of rbtui serve. Everything from the satellite is put on the
// page as text (textContent), never as HTML.
(function () {
  "use strict";
  var GLYPH = { queued: "◷", submitted: "↑", accepted: "⇡", sending: "…", retrying: "↻",
    sent: "✓", failed: "✗", cancelled: "⊘", unknown: "?", received: "" };
  var $ = function (id) { return document.getElementById(id); };
  var enc = new TextEncoder();
  var msgs = new Map(); // id -> message
  var station = { max_mo: 340, credit_bytes: 50 };
  var cursor = "", more = false;
  var baseTitle = document.title;
  var draftFor = null; // the station whose draft the compose box holds

  // The token: from the page's address once (then kept on this device), or typed in.
  var params = new URLSearchParams(location.search + "&" + location.hash.replace(/^#/, ""));
  var token = params.get("token");
  if (token) {
    try { localStorage.setItem("rb-token", token); } catch (e) { /* private mode */ }
    history.replaceState(null, "", location.pathname);
  } else {
    try { token = localStorage.getItem("rb-token"); } catch (e) { token = null; }
  }

  // The token goes with the handshake (its query) as well as in the
  // Socket.IO auth: a connection that shows it at once takes none of the
  // slots that strangers' connections can fill.
  var socket = io({ query: token ? { token: token } : {}, auth: function (cb) { cb(token ? { token: token } : {}); } });

  function text(el, s) { el.textContent = s; return el; }
  // The bridge sends satellite text made inert: a control character arrives
  // as its Control Picture (U+2400 + code, U+2421 for DEL), which many
  // phones' and Debian's fonts lack. Each is shown as a small boxed name,
  // built as an element whose text is set, never parsed.
  var CTL = ["NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR", "SO", "SI",
    "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US", "SP", "DEL"];
  function ctlName(c) {
    var n = c.charCodeAt(0);
    if (n >= 0x2400 && n <= 0x2420) return CTL[n - 0x2400];
    if (n === 0x2421) return "DEL";
    return null;
  }
  function inert(el, s) {
    el.textContent = "";
    var run = "";
    for (var i = 0; i < s.length; i++) {
      var name = ctlName(s[i]);
      if (name === null) { run += s[i]; continue; }
      if (run) { el.appendChild(document.createTextNode(run)); run = ""; }
      var tag = make("span", "ctl", name);
      tag.title = "control character " + name;
      el.appendChild(tag);
    }
    if (run) el.appendChild(document.createTextNode(run));
    return el;
  }
  function make(tag, cls, s) { var e = document.createElement(tag); if (cls) e.className = cls; if (s != null) e.textContent = s; return e; }
  function bars(n) { var s = ""; for (var i = 0; i < 5; i++) s += i < n ? "▂▃▅▆█"[i] : "▁"; return s; }
  // An age as the screen and the tmux glance show it (glance.Age): 12s, 5m, 3h, 2d.
  function age(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 48 * 3600) return Math.floor(s / 3600) + "h";
    return Math.floor(s / 86400) + "d";
  }
  function ago(iso) { return iso ? "heard " + age(Date.now() - Date.parse(iso)) + " ago" : "never heard"; }
  // Times as the screen shows them, in UTC: the clock time today, the date
  // this year, else the month; the whole time in the title.
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function listTime(iso) {
    var t = new Date(iso), now = new Date();
    if (t.getUTCFullYear() === now.getUTCFullYear() && t.getUTCMonth() === now.getUTCMonth() && t.getUTCDate() === now.getUTCDate()) {
      return two(t.getUTCHours()) + ":" + two(t.getUTCMinutes());
    }
    if (now - t < 300 * 86400000 && t < now) return MONTHS[t.getUTCMonth()] + " " + two(t.getUTCDate());
    return t.getUTCFullYear() + "-" + two(t.getUTCMonth() + 1);
  }
  function fullTime(iso) {
    var t = new Date(iso);
    return t.getUTCFullYear() + "-" + two(t.getUTCMonth() + 1) + "-" + two(t.getUTCDate()) + " " +
      two(t.getUTCHours()) + ":" + two(t.getUTCMinutes()) + ":" + two(t.getUTCSeconds()) + " UTC";
  }
  function credits(n) { return n <= 0 ? 0 : Math.ceil(n / (station.credit_bytes || 50)); }

  // The state shown: the station that sends (a fleet's chat follows
  // several, each in station.states), else the event's own.
  function shownState() {
    var name = fleet() ? $("from").value : station.station;
    var all = station.states || [];
    for (var i = 0; i < all.length; i++) if (all[i].station === name) return all[i];
    return station;
  }

  // The signal by the rule every surface shares (the event's `signal`):
  // bars only while the reading is current; otherwise what is known, or
  // the state and age of the last reading (stale, no broker).
  function showSignal() {
    var st = shownState();
    var state = st.signal || (st.stale ? "stale" : st.modem === "offline" ? "offline" : st.service ? "ok" : "no service");
    var current = state === "ok" || state === "no service";
    var sig = $("signal");
    sig.dataset.state = state;
    var svc = $("service");
    svc.dataset.state = state;
    if (st.link && current) {
      // A station on Rock7's web services has no bars: its link's health.
      sig.dataset.bars = st.link_ok ? "5" : "0";
      text(sig, st.link);
      sig.setAttribute("aria-label", st.link);
      text(svc, st.link_ok ? "Rock7 ok" : "Rock7 down");
      showReason(st);
      return;
    }
    sig.dataset.bars = String(current ? st.bars : 0);
    text(sig, bars(current ? st.bars : 0));
    var words;
    switch (state) {
      case "ok": words = "service"; break;
      case "offline": words = "modem offline"; break;
      case "stale": case "no broker":
        words = st.last_contact ? state + " (" + age(Date.now() - Date.parse(st.last_contact)) + " old)" : state;
        break;
      default: words = state;
    }
    sig.setAttribute("aria-label", current ? st.bars + " of 5 bars" : "signal unknown: " + words);
    text(svc, words);
    showReason(st);
  }

  // showReason shows rbd's reason and the last contact of the station shown.
  function showReason(st) {
    var r = $("reason");
    var words = st.reason ? "rbd: " + st.reason : station.history_gap || "";
    r.hidden = !words;
    text(r, words);
    $("contact").dataset.at = st.last_contact || "";
    text($("contact"), ago(st.last_contact));
  }

  function showStation(st) {
    station = st;
    text($("station"), st.station || "station");
    var b = $("broker"); b.dataset.broker = st.broker; text(b, "broker " + st.broker);
    text($("credits"), st.credits_today + (st.credits_today === 1 ? " credit" : " credits") + " today");
    text($("outbox"), "outbox " + st.outbox);
    showStations(st.stations || []);
    showSignal();
    showUnread();
    if (draftFor === null) loadDraft();
    updateCount();
  }

  // The unread count of every station followed, as the screen counts it,
  // in the page's title.
  function showUnread() {
    var all = station.states && station.states.length ? station.states : [station];
    var n = 0;
    all.forEach(function (s) { n += s.unread || 0; });
    document.title = (n > 0 ? "(" + n + ") " : "") + baseTitle;
  }

  // What the page shows while it is visible counts as read, as opening a
  // message on the screen does: its unread MTs are marked read.
  function markSeen() {
    if (document.visibilityState !== "visible" || !socket.connected) return;
    var ids = [];
    msgs.forEach(function (m) { if (m.dir === "mt" && m.read === false) ids.push(m.id); });
    if (!ids.length) return;
    ids = ids.slice(0, 200);
    socket.emit("read", { ids: ids }, function (res) {
      if (res && res.error) return;
      ids.forEach(function (id) { var m = msgs.get(id); if (m) m.read = true; });
      render();
    });
  }
  document.addEventListener("visibilitychange", markSeen);
  window.addEventListener("focus", markSeen);

  // A notification for an MT that arrives while the page is hidden, once
  // the user allowed them (browsers allow it only on HTTPS or localhost).
  function canNotify() { return window.isSecureContext && "Notification" in window; }
  function showNotify() { $("notify").hidden = !canNotify() || Notification.permission !== "default"; }
  $("notify").addEventListener("click", function () {
    Notification.requestPermission().then(showNotify, showNotify);
  });
  showNotify();
  function notifyMT(m) {
    if (document.visibilityState === "visible" || !canNotify() || Notification.permission !== "granted") return;
    var body = m.binary || (!m.text && m.data) ? "[" + m.bytes + " bytes of data]" : m.text;
    try {
      var n = new Notification((fleet() && m.station ? m.station + ": " : "") + "new message", { body: body, tag: m.id });
      n.onclick = function () { window.focus(); n.close(); };
    } catch (e) { /* a browser that only notifies from a service worker */ }
  }

  // The draft of each station is kept on this device across reloads.
  function draftKey(name) { return "rb-draft:" + name; }
  function sender() { return fleet() ? $("from").value : station.station || ""; }
  function loadDraft() {
    var name = sender();
    if (!name) return;
    var saved = null;
    try { saved = localStorage.getItem(draftKey(name)); } catch (e) { /* private mode */ }
    var t = $("text");
    if (draftFor === null && t.value) saveDraft(name, t.value); // typed before the station was known
    else t.value = saved || "";
    draftFor = name;
  }
  function saveDraft(name, value) {
    if (!name) return;
    try {
      if (value) localStorage.setItem(draftKey(name), value); else localStorage.removeItem(draftKey(name));
    } catch (e) { /* private mode */ }
  }
  $("from").addEventListener("change", function () { loadDraft(); showSignal(); updateCount(); });

  // A fleet's bridge follows several stations: each message then shows its
  // station, and compose asks which one sends (the first by default).
  function fleet() { return (station.stations || []).length > 1; }
  function showStations(names) {
    var sel = $("from");
    var had = Array.from(sel.options).map(function (o) { return o.value; });
    if (had.join("\n") !== names.join("\n")) {
      var keep = sel.value;
      sel.replaceChildren.apply(sel, names.map(function (n) {
        var o = make("option", null, n); o.value = n; return o;
      }));
      if (names.indexOf(keep) >= 0) sel.value = keep;
      render();
    }
    sel.hidden = names.length < 2;
  }
  setInterval(function () { if (station.station) showSignal(); }, 15000);

  function notice(s, info) {
    var n = $("notice");
    n.hidden = !s; n.classList.toggle("info", !!info); text(n, s || "");
  }

  function render() {
    var list = $("list");
    var all = Array.from(msgs.values()).sort(function (a, b) {
      return a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    var atBottom = list.parentNode.scrollHeight - list.parentNode.scrollTop - list.parentNode.clientHeight < 40;
    list.replaceChildren.apply(list, all.map(item));
    $("older").hidden = !more;
    if (atBottom) list.parentNode.scrollTop = list.parentNode.scrollHeight;
  }

  function item(m) {
    var li = make("li", "msg " + m.dir + (m.dir === "mt" && m.read === false ? " unread" : ""));
    li.dataset.id = m.id;
    var body = make("div", "body");
    if (m.binary || (!m.text && m.data)) {
      body.classList.add("binary");
      text(body, "[" + m.bytes + " bytes of data]");
    } else {
      inert(body, m.text);
    }
    li.appendChild(body);
    var meta = make("div", "meta");
    if (fleet() && m.station) meta.appendChild(make("span", "from", m.station));
    var when = make("span", "time", listTime(m.at));
    when.title = fullTime(m.at);
    meta.appendChild(when);
    if (m.dir === "mo") {
      if (m.by || m.via) meta.appendChild(make("span", "by", [m.by, m.via].filter(Boolean).join(" · ")));
      var st = make("span", "state", (GLYPH[m.state] || "") + " " + m.state);
      st.dataset.state = m.state;
      meta.appendChild(st);
      if (m.momsn != null) meta.appendChild(make("span", "momsn", "#" + m.momsn));
      var c = m.credits || credits(m.bytes);
      meta.appendChild(make("span", "cost", c + (c === 1 ? " credit" : " credits")));
      if (m.cancellable) meta.appendChild(action("Cancel", "mo_cancel", m.id));
      if (m.resendable) meta.appendChild(action("Resend", "mo_resend", m.id));
    } else if (m.credits) {
      meta.appendChild(make("span", "cost", m.credits + (m.credits === 1 ? " credit" : " credits")));
    }
    if (m.dir === "mt" && m.position) {
      var p = m.position;
      meta.appendChild(make("span", "position", "near " + p.lat.toFixed(4) + ", " + p.lon.toFixed(4) + " (±" + p.cep_km + " km)"));
    }
    li.appendChild(meta);
    if (m.reason && m.dir === "mo" && m.state !== "sent") {
      li.appendChild(make("div", "reason" + (m.state === "failed" || m.state === "unknown" ? " bad" : ""), m.reason));
    }
    // A cancel that lost the race with the session: rbd's answer, which
    // the message's history keeps (its state stays sent).
    if (m.dir === "mo" && m.cancel_too_late) {
      li.appendChild(make("div", "reason toolate", "Cancel too late: the session had started — it was sent"));
    }
    return li;
  }

  function action(label, ev, id) {
    var b = make("button", "act", label);
    b.type = "button";
    b.addEventListener("click", function () {
      b.disabled = true;
      socket.timeout(15000).emit(ev, { id: id }, function (err, res) {
        b.disabled = false;
        if (err) return notice("No answer from the bridge: try again.");
        if (res && res.error && !res.id) return notice(res.error.message);
        notice("");
        if (res && res.id && res.id !== id) { addLocal(res.id, msgs.get(id), res); }
      });
    });
    return b;
  }

  function merge(list) { list.forEach(function (m) { msgs.set(m.id, m); }); }

  function addLocal(id, src, res) {
    if (msgs.has(id)) return;
    msgs.set(id, { id: id, dir: "mo", station: src.station, text: src.text, data: src.data || "", binary: !!src.binary, bytes: src.bytes,
      state: res.state || "queued", at: new Date().toISOString(), credits: 0, cancellable: true, resendable: false,
      reason: res.error ? res.error.message : "", by: res.by || "", via: res.via || "" });
    render();
  }

  socket.on("connect", function () {
    $("away").hidden = true; $("auth").hidden = true;
    delete document.body.dataset.auth;
  });
  socket.on("disconnect", function () { $("away").hidden = false; });
  socket.io.on("reconnect_attempt", function () { $("away").hidden = false; });
  socket.on("connect_error", function (err) {
    // "unauthorized": the Socket.IO auth was refused; a 401: the token of
    // the handshake (the manager would retry that one forever).
    var refused = err && (err.message === "unauthorized" || err.description === 401);
    if (refused) {
      if (err.description === 401) socket.disconnect();
      // A refused token is forgotten: kept, it would be refused at every
      // visit. The station's state is not shown: nothing is known of it.
      text($("authmsg"), token
        ? "The access token was refused (wrong, or changed on the bridge), and this device forgot it. Enter the right one."
        : "This station's chat needs its access token.");
      token = null;
      try { localStorage.removeItem("rb-token"); } catch (e) { /* private mode */ }
      socket.io.opts.query = {};
      $("token").value = "";
      document.body.dataset.auth = "refused";
      $("auth").hidden = false; $("away").hidden = true;
      text($("away"), "Bridge away: reconnecting…");
      return; // the socket does not retry a refused handshake by itself
    }
    $("away").hidden = false;
  });
  $("authform").addEventListener("submit", function (e) {
    e.preventDefault();
    token = $("token").value.trim();
    try { localStorage.setItem("rb-token", token); } catch (x) { /* private mode */ }
    socket.io.opts.query = token ? { token: token } : {};
    socket.connect();
  });

  socket.on("station", showStation);
  socket.on("history", function (p) {
    merge(p.messages || []);
    if (!cursor || !p.more || (p.cursor && p.cursor < cursor)) { cursor = p.cursor; more = p.more; }
    render();
    markSeen();
  });
  socket.on("mt_recv", function (m) { msgs.set(m.id, m); render(); notifyMT(m); markSeen(); });
  socket.on("mo_status", function (s) {
    var m = msgs.get(s.id);
    if (!m) { // sent from elsewhere: fetch the newest page
      socket.emit("history", { limit: 50 }, function (p) { if (p && p.messages) { merge(p.messages); render(); } });
      return;
    }
    m.state = s.state; m.reason = s.reason || ""; m.momsn = s.momsn; m.attempts = s.attempt;
    m.cancellable = s.cancellable; m.resendable = s.resendable; m.credits = s.credits; m.updated_at = s.at;
    m.cancel_too_late = !!s.cancel_too_late;
    render();
  });
  socket.on("bridge_error", function (e) { notice(e.message); });

  $("older").addEventListener("click", function () {
    socket.emit("history", { before: cursor, limit: 50 }, function (p) {
      if (!p || p.error) return notice(p && p.error ? p.error.message : "No answer");
      merge(p.messages); cursor = p.cursor; more = p.more; render(); markSeen();
    });
  });

  function updateCount() {
    var t = $("text").value;
    var n = enc.encode(t).length, max = station.max_mo || 340;
    var c = $("count");
    text(c, n + "/" + max + " bytes · " + credits(n) + (credits(n) === 1 ? " credit" : " credits"));
    c.classList.toggle("over", n > max);
    // Over the limit, a sentence says why and by how much (as the screen's compose does).
    var o = $("over");
    o.hidden = n <= max;
    if (n > max) {
      var why = n + " bytes is " + (n - max) + " over the " + max + "-byte limit of one satellite message: shorten it to send.";
      if (n > t.length) why += " Letters beyond plain ASCII (é, ü, emoji) take 2 to 4 bytes each.";
      text(o, why);
    }
    $("send").disabled = n === 0 || n > max || t.trim() === "";
  }
  $("text").addEventListener("input", function () {
    if (draftFor !== null) saveDraft(draftFor, $("text").value);
    updateCount();
  });
  $("text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("compose").requestSubmit(); }
  });
  $("compose").addEventListener("submit", function (e) {
    e.preventDefault();
    var t = $("text").value;
    if ($("send").disabled) return;
    $("send").disabled = true;
    var req = { text: t };
    if (fleet()) req.station = $("from").value;
    socket.timeout(15000).emit("mo_send", req, function (err, res) {
      if (err) { updateCount(); return notice("No answer from the bridge: the message may not be stored. Check the list before sending again."); }
      if (!res || (res.error && !res.id)) { updateCount(); return notice(res && res.error ? res.error.message : "Refused"); }
      if ($("text").value === t) { $("text").value = ""; saveDraft(req.station || station.station, ""); }
      updateCount();
      if (res.error) notice(res.error.message, true); else notice("");
      addLocal(res.id, { text: t, bytes: enc.encode(t).length, station: req.station }, res);
    });
  });
  updateCount();
})();
