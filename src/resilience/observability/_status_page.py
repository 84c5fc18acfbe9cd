"""The HTML of the status page: one self-contained document, inline CSS and JavaScript, no
external asset (it works offline and needs no build step). The script fetches
``status.json`` every second and writes every value with ``textContent`` (method names arrive
from the network, so none is ever parsed as HTML). The Content-Security-Policy sent with it
allows exactly this script and style (by hash) and requests to the same origin only."""

from __future__ import annotations

import base64
import hashlib

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#f7f8fa}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em}
#meta{color:#5b6475;margin-bottom:1em}#state.stale{color:#a3320b;font-weight:600}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.13);min-width:40em}
th,td{padding:.35em .7em;border-bottom:1px solid #e3e6eb;text-align:right;white-space:nowrap}
th{background:#eef1f5;font-weight:600}td:first-child,th:first-child,td.l{text-align:left}
td.warn{color:#a3320b;font-weight:600}td.ok{color:#2e6b30}.none{color:#8a93a3}
tbody tr:hover{background:#f1f4f8}
"""

SCRIPT = """
"use strict";
const COLUMNS = ["Method", "Side", "Calls/s", "Errors", "p50", "p99", "In flight",
  "Rejected/s", "Tiers (admitted/s, rejected/s, used/limit)", "Breaker drop", "Timeout",
  "Shedding", "Bulkhead"];
function num(v, digits) { return v === null || v === undefined ? "\\u2013" : v.toFixed(digits); }
function pct(v) { return v === null || v === undefined ? "\\u2013" : (100 * v).toFixed(1) + " %"; }
function ms(v) {
  if (v === null || v === undefined) return "\\u2013";
  return (1000 * v).toFixed(v < 0.001 ? 2 : 1) + " ms";
}
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function pairs(obj, fmt) {
  const keys = Object.keys(obj || {});
  return keys.length ? keys.map(k => k + ": " + fmt(obj[k], k)).join(", ") : "\\u2013";
}
function tiers(m) {
  const busy = {};
  for (const [k, t] of Object.entries(m.tiers || {})) {
    if (t.admitted_per_s !== undefined || t.limit_used) busy[k] = t;
  }
  return pairs(busy, (t) => {
    let text = num(t.admitted_per_s, 1) + ", " + num(t.rejected_per_s, 1);
    if (t.limit_used !== undefined) text += ", " + t.limit_used + "/" + (m.limit ?? "?");
    return text;
  });
}
function table(id, head, rows) {
  const el = document.getElementById(id);
  el.replaceChildren();
  const thead = el.createTHead().insertRow();
  for (const h of head) {
    const th = document.createElement("th");
    th.textContent = h;
    thead.appendChild(th);
  }
  const body = el.createTBody();
  if (!rows.length) { cell(body.insertRow(), "none yet", "l none").colSpan = head.length; }
  for (const values of rows) {
    const tr = body.insertRow();
    for (const v of values) { Array.isArray(v) ? cell(tr, v[0], v[1]) : cell(tr, v); }
  }
}
function render(doc) {
  table("methods", COLUMNS, doc.methods.map(m => [
    m.method, m.side, num(m.calls_per_s, 1),
    [pct(m.error_ratio), m.error_ratio > 0 ? "warn" : ""],
    ms(m.p50_s), ms(m.p99_s), String(m.in_flight),
    [pairs(m.rejected_per_s, v => num(v, 1)), Object.keys(m.rejected_per_s).length ? "warn" : ""],
    [tiers(m), "l"],
    [m.breaker_drop_probability === undefined ? "\\u2013" : pct(m.breaker_drop_probability),
     m.breaker_drop_probability > 0 ? "warn" : ""],
    m.timeout_s === undefined ? "\\u2013" : ms(m.timeout_s),
    m.shedding === undefined ? ["\\u2013", ""] :
      [m.shedding ? "tiers " + (m.shedding_tiers || []).join(", ") : "no",
       m.shedding ? "warn" : "ok"],
    m.bulkhead_active === undefined ? "\\u2013" :
      [num(m.bulkhead_active, 0) + " active, " + num(m.bulkhead_queued, 0) + " queued",
       m.bulkhead_queued > 0 ? "warn" : ""],
  ]));
  table("failover", ["Target", "Window", "Attempted", "Admitted", "Refused", "Succeeded",
    "Failed", "Expired", "Unreplayable"], doc.failover.map(f => [f.target, num(f.window, 0),
    num(f.attempted, 0), num(f.admitted, 0), num(f.refused, 0), num(f.succeeded, 0),
    num(f.failed, 0), num(f.expired, 0), num(f.unreplayable, 0)]));
  table("faults", ["Rule", "Side", "Lapses in"], doc.faults.map(f => [f.rule, f.side,
    [f.remaining_s === null ? "never (no ttl)" : num(f.remaining_s, 1) + " s", "warn"]]));
  table("fallback", ["Limit", "On local fallback"], doc.limiter_fallback.map(l => [l.limit,
    [l.fallback ? "yes" : "no", l.fallback ? "warn" : "ok"]]));
  table("internal", ["Where", "Faults since start"], Object.entries(doc.internal_errors).map(
    ([w, n]) => [w, num(n, 0)]));
  document.getElementById("version").textContent = doc.version;
  document.getElementById("window").textContent = String(doc.window_s);
  document.getElementById("updated").textContent = new Date(doc.time * 1000).toLocaleTimeString();
}
async function refresh() {
  const state = document.getElementById("state");
  try {
    const response = await fetch("status.json", {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
    state.textContent = "live";
    state.className = "";
  } catch (err) {
    state.textContent = "not updating (" + err.message + "); retrying";
    state.className = "stale";
  }
}
refresh();
setInterval(refresh, 1000);
"""

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>resilience status</title>
<style>{STYLE}</style>
</head>
<body>
<h1>resilience status</h1>
<div id="meta">version <span id="version">?</span> &middot; rates over the last
<span id="window">?</span> s &middot; updated <span id="updated">never</span> &middot;
<span id="state">loading</span></div>
<h2>Methods</h2><table id="methods"></table>
<h2>Failover</h2><table id="failover"></table>
<h2>Active faults</h2><table id="faults"></table>
<h2>Shared limits</h2><table id="fallback"></table>
<h2>Internal errors</h2><table id="internal"></table>
<script>{SCRIPT}</script>
</body>
</html>
"""


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
    "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""Allows the page's own inline script and style (by hash) and fetches to its own origin."""
