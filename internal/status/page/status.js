// The Gatehouse status page. It keeps the Gateway API secret in this tab's sessionStorage and
// sends it only in the X-Tyk-Authorization header of its requests for the report; every value
// of the report goes into the page as text (textContent), never as markup.
"use strict";

(function () {
  const KEY = "gatehouse.status.secret";
  const REPORT = "/tyk/status";
  const POLL_MS = 3000;

  const $ = (id) => document.getElementById(id);
  let timer = null;
  let previous = null; // the last report and when it was made, for rates

  function secret() {
    try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  function showLogin(message) {
    if (timer) { clearTimeout(timer); timer = null; }
    previous = null;
    $("report").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    const err = $("login-error");
    err.textContent = message || "";
    err.hidden = !message;
    $("secret").focus();
  }

  async function poll() {
    timer = null;
    const s = secret();
    if (!s) { showLogin(""); return; }
    let resp;
    try {
      resp = await fetch(REPORT, {
        headers: { "X-Tyk-Authorization": s, "Accept": "application/json" },
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (e) {
      pollError("The gateway does not answer: " + e.message);
      return;
    }
    if (secret() !== s) return; // logged out meanwhile
    if (resp.status === 403) {
      try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
      showLogin("Wrong secret: the Gateway API refused it.");
      return;
    }
    if (!resp.ok) {
      pollError("The gateway answered " + resp.status + ".");
      return;
    }
    let report;
    try {
      report = await resp.json();
    } catch (e) {
      pollError("The report could not be read: " + e.message);
      return;
    }
    $("login").hidden = true;
    $("report").hidden = false;
    $("logout").hidden = false;
    $("poll-error").hidden = true;
    render(report);
    schedule();
  }

  function pollError(message) {
    const el = $("poll-error");
    el.textContent = message + " Trying again.";
    el.hidden = false;
    schedule();
  }

  function schedule() {
    if (!timer) timer = setTimeout(poll, POLL_MS);
  }

  // el makes an element with text content and an optional class.
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
    return tr;
  }

  function fill(tableId, rows, columns, emptyText) {
    const body = $(tableId).tBodies[0];
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = el("tr", null, "empty");
      const td = el("td", emptyText);
      td.colSpan = columns;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    for (const r of rows) body.appendChild(r);
  }

  function num(v, cls) {
    return el("td", v === undefined || v === null ? "–" : v, "num" + (cls ? " " + cls : ""));
  }

  function count(v) {
    return v === undefined || v === null ? null : Math.round(v).toLocaleString("en");
  }

  function rate(now, before, dt) {
    if (now === undefined || now === null || before === undefined || before === null || !(dt > 0)) return null;
    const r = (now - before) / dt;
    return r < 0 ? null : r.toFixed(r >= 10 ? 0 : 1); // a counter that went back was reset
  }

  function seconds(v) {
    if (v === undefined || v === null) return null;
    if (v < 0) return "> 1 s";
    if (v < 0.001) return "≤ " + Math.round(v * 1e6) + " µs";
    if (v < 1) return "≤ " + (v * 1e3).toFixed(v < 0.01 ? 1 : 0) + " ms";
    return "≤ " + v + " s";
  }

  function roundTrip(v) {
    if (!(v > 0)) return "< 1 µs";
    return v < 0.001 ? Math.round(v * 1e6) + " µs" : (v * 1e3).toFixed(1) + " ms";
  }

  function when(t) {
    if (!t) return "";
    const d = new Date(t);
    return isNaN(d) ? String(t) : d.toLocaleString();
  }

  function upstreamCell(upstream, down) {
    const td = el("td", upstream, "mono path");
    for (const h of down || []) td.appendChild(el("span", "down (uptime tests): " + h, "reason error"));
    return td;
  }

  function stateCell(state, reasons) {
    const td = el("td");
    td.appendChild(el("span", state, "state-" + state));
    for (const r of reasons || []) td.appendChild(el("span", r, "reason"));
    return td;
  }

  function pluginKey(p) { return p.api_id + "\u0000" + p.hook + "\u0000" + p.function; }

  function render(r) {
    // Rates use the gateway's own clock: the time between two reports, not between two replies.
    const now = Date.parse(r.time);
    const dt = previous && now > previous.at ? (now - previous.at) / 1000 : 0;
    const beforeAPIs = new Map();
    const beforePlugins = new Map();
    if (previous) {
      for (const a of previous.report.apis || []) if (a.requests) beforeAPIs.set(a.api_id, a.requests.total);
      for (const p of previous.report.plugins || []) if (p.calls !== undefined) beforePlugins.set(pluginKey(p), p.calls);
    }

    const apis = r.apis || [];
    const served = apis.filter((a) => a.state === "served").length;
    $("summary").textContent = (r.version ? "version " + r.version + " · " : "") + r.store + " store · " +
      served + " of " + apis.length + " APIs served" + (r.metrics ? "" : " · metrics off: no counters");
    $("updated").textContent = "Updated " + when(r.time) + " · started " + when(r.started) + " · refreshed every " + POLL_MS / 1000 + " s" +
      (r.unrouted ? " · requests no API took (404, refused before routing): " + count(r.unrouted.total) : "");

    fill("apis", apis.map((a) => row([
      el("td", a.name),
      el("td", a.api_id, "mono"),
      el("td", (a.domain ? a.domain : "") + (a.listen_path || ""), "mono"),
      upstreamCell(a.upstream, a.hosts_down),
      el("td", a.auth),
      stateCell(a.state, a.reasons),
      num(a.requests ? rate(a.requests.total, beforeAPIs.get(a.api_id), dt) : null),
      num(a.requests ? count(a.requests.total) : null),
      num(a.requests ? count(a.requests.errors_5xx) : null),
    ])), 9, "No API definitions.");

    fill("plugins", (r.plugins || []).map((p) => {
      const fn = el("td", p.function, "mono");
      if (p.error) fn.appendChild(el("span", "not loaded: " + p.error, "reason error"));
      const build = el("td", p.plugin_path || "", "mono");
      if (p.sha256) build.appendChild(el("span", "sha256 " + p.sha256.slice(0, 12), "reason"));
      return row([
        el("td", p.api_id, "mono"),
        el("td", p.hook),
        fn,
        el("td", p.file, "mono path"),
        build,
        el("td", p.loaded ? when(p.loaded) : ""),
        num(rate(p.calls, beforePlugins.get(pluginKey(p)), dt)),
        num(count(p.calls)),
        num(count(p.errors)),
        num(count(p.panics), p.panics > 0 ? "error" : ""),
        num(seconds(p.p99_seconds)),
      ]);
    }), 11, "No plugin hooks.");

    fill("bundles", (r.bundles || []).map((b) => row([
      el("td", b.name, "mono"),
      el("td", (b.apis || []).join(", "), "mono"),
      stateCell(b.state, b.error ? [b.error] : []),
      el("td", b.signature),
      (() => {
        const td = el("td", b.last_download ? when(b.last_download) : "not downloaded by this process");
        if (b.last_download_error) td.appendChild(el("span", b.last_download_error, "reason error"));
        return td;
      })(),
    ])), 5, "No API names a bundle.");

    fill("reloads", (r.reloads || []).slice().reverse().map((x) => row([
      el("td", when(x.time) + (x.start ? " (start)" : "")),
      num((x.duration_seconds * 1000).toFixed(1) + " ms"),
      stateCell(x.result === "ok" ? "ok" : "failed", x.error ? [x.error] : []),
      num(x.apis),
      num(x.problems),
    ])), 5, "No reload yet.");

    fill("redis", (r.redis || []).map((x) => row([
      el("td", x.block, "mono"),
      (() => {
        const td = el("td");
        td.appendChild(el("span", x.up ? "answers" : "does not answer", x.up ? "state-ok" : "state-failed"));
        if (x.effect) td.appendChild(el("span", x.effect, "reason"));
        return td;
      })(),
      num(x.up ? roundTrip(x.round_trip_seconds) : null),
    ])), 3, "This gateway uses no Redis: the " + r.store + " store, the response cache in its memory.");

    renderFleet(r);
    previous = { report: r, at: now };
  }

  function renderFleet(r) {
    const box = $("fleet");
    box.replaceChildren();
    const f = r.fleet;
    if (!f) {
      box.appendChild(el("p", "This gateway uses the " + r.store + " store: it is alone, there is no fleet.", "muted"));
      return;
    }
    const p = el("p");
    p.appendChild(el("span", f.node ? "This node: " : "No node_secret: this node sends and hears no notifications and is not announced."));
    if (f.node) p.appendChild(el("span", f.node, "mono"));
    p.appendChild(el("span", " · Redis " + (f.store_up ? "answers" : "does not answer") +
      " · notifications " + (f.listening ? "heard" : "not heard") + " · refused notifications: " + f.rejected +
      (f.dropped ? " · messages dropped unread (too large for a gateway to have sent): " + f.dropped : "") +
      (f.unverified ? " · announcements that did not verify: " + f.unverified : "") +
      (f.unread ? " · announcements not read (too many in Redis): " + f.unread : "") +
      (f.uptime && f.uptime.checks ? " · uptime checks run here: " + f.uptime.run_here + " of " + f.uptime.checks +
        (f.uptime.gateways > 1 ? ", shared by " + f.uptime.gateways + " gateways" : "") +
        (f.uptime.poller_group ? " (poller group " + f.uptime.poller_group + ")" : "") +
        (f.uptime.alone ? ", every one: the claims that share them fail" : "") : "")));
    box.appendChild(p);
    if (f.error) box.appendChild(el("p", f.error, "error"));
    if (!f.node) return;
    const t = el("table");
    t.id = "nodes";
    const head = el("thead");
    head.appendChild(row(["Node", "Host", "Version", "Started", "Last seen", "APIs", "Segment", "Last notification heard"].map((h) => el("th", h))));
    t.appendChild(head);
    t.appendChild(el("tbody"));
    box.appendChild(t);
    fill("nodes", (f.nodes || []).map((n) => {
      const id = el("td", n.node, "mono");
      if (n.self) id.appendChild(el("span", "this node", "reason"));
      const seen = el("td", when(n.last_seen));
      if (n.stale) seen.appendChild(el("span", "not heard from lately: stopped, or cut off from Redis", "reason error"));
      return row([id, el("td", n.hostname), el("td", n.version), el("td", when(n.started)), seen, num(n.apis),
        el("td", n.tags && n.tags.length ? n.tags.join(", ") : "all"),
        el("td", n.last_notification ? n.last_notification + " at " + when(n.last_notification_time) : "")]);
    }), 8, "No node announced yet.");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("secret");
      const s = input.value;
      input.value = "";
      if (!s) return;
      try {
        sessionStorage.setItem(KEY, s);
      } catch (e) {
        showLogin("This browser does not let the page keep the secret (sessionStorage is off).");
        return;
      }
      $("login-error").hidden = true;
      poll();
    });
    $("logout").addEventListener("click", () => {
      try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
      showLogin("");
    });
    if (secret()) poll(); else showLogin("");
  });
})();
