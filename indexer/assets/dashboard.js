// Fairtrain dashboard: reads the indexer's JSON API and refreshes on every `status` event of
// /api/live (Server-Sent Events), falling back to polling. No build step, no dependencies.
"use strict";

const $ = (sel) => document.querySelector(sel);
const fmt = (v) => { try { return BigInt(v).toLocaleString("en-US"); } catch { return String(v); } };
const short = (a) => (a && a.length > 14 ? a.slice(0, 8) + "…" + a.slice(-6) : a || "");
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

// Payment tokens that stated their symbol and decimals (/api/tokens), by address.
let tokens = {};
// Base units of `token` as whole tokens and symbol (`10.14 fUSD`), or the base units when the
// token did not say.
function amt(units, token) {
  const t = tokens[token];
  if (!t) return fmt(units);
  try {
    const v = BigInt(units), scale = 10n ** BigInt(t.decimals);
    const frac = (v % scale).toString().padStart(t.decimals, "0").replace(/0+$/, "");
    return (v / scale).toLocaleString("en-US") + (frac ? "." + frac : "") + " " + t.symbol;
  } catch { return String(units); }
}

async function api(path, init) {
  const r = await fetch(path, init);
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function rows(tbody, html) { $(tbody).innerHTML = html.join("") || '<tr><td class="note" colspan="9">none yet</td></tr>'; }

async function creators() {
  const list = await api("/api/creators");
  rows("#creators tbody", list.map((c) => `<tr data-creator="${esc(c.creator)}">
    <td class="addr" title="${esc(c.creator)}">${esc(short(c.creator))}</td>
    <td class="addr" title="${esc(c.token)}">${esc(short(c.token))}</td>
    <td class="n" data-field="licenses">${c.licenses}</td><td class="n" data-field="samples">${fmt(c.samples)}</td>
    <td class="n" data-field="gross">${amt(c.gross, c.token)}</td><td class="n" data-field="fee">${amt(c.fee, c.token)}</td>
    <td class="n" data-field="claimed">${amt(c.claimed, c.token)}</td><td class="n" data-field="unclaimed">${amt(c.unclaimed, c.token)}</td></tr>`));
}

async function licenses() {
  const fin = $("#finalized").checked ? "&finalized=true" : "";
  const [ls, paid] = await Promise.all([
    api("/api/licenses?per_page=1000"),
    api("/api/royalties?group=license&per_page=1000" + fin),
  ]);
  const by = {};
  for (const r of paid.items) by[r.key] = r;
  rows("#licenses tbody", ls.items.map((l) => {
    const p = by[l.license_id] || { samples: 0, net: "0" };
    return `<tr data-license="${esc(l.license_id)}"><td>#${esc(l.license_id)}</td>
      <td class="addr" title="${esc(l.creator)}">${esc(short(l.creator))}</td>
      <td class="addr" title="${esc(l.holder)}">${esc(short(l.holder))}</td>
      <td class="n">${amt(l.price_per_sample || 0, l.payment_token)}</td><td class="n">${fmt(p.samples)}</td>
      <td class="n" data-field="net">${p.token ? amt(p.net, p.token) : fmt(p.net)}</td></tr>`;
  }));
}

async function usage() {
  const fin = $("#finalized").checked ? "&finalized=true" : "";
  const days = (await api("/api/royalties?group=day&per_page=1000" + fin)).items;
  const perDay = new Map();
  for (const d of days) perDay.set(d.key, (perDay.get(d.key) || 0) + d.samples);
  const keys = [...perDay.keys()].sort((a, b) => a - b);
  const svg = $("#usage-chart");
  const w = svg.clientWidth || 800, h = 180, pad = 24;
  const max = Math.max(1, ...perDay.values());
  const bw = Math.max(2, Math.min(40, (w - pad) / Math.max(1, keys.length) - 4));
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.innerHTML = keys.map((k, i) => {
    const v = perDay.get(k), bh = ((h - 2 * pad) * v) / max, x = pad + i * (bw + 4), y = h - pad - bh;
    const day = new Date(k * 86400000).toISOString().slice(0, 10);
    return `<rect x="${x}" y="${y}" width="${bw}" height="${bh}" data-day="${day}" data-samples="${v}"><title>${day}: ${fmt(v)} samples</title></rect>
      <text x="${x}" y="${h - 8}">${day.slice(5)}</text>`;
  }).join("") + (keys.length ? `<text x="0" y="12">${fmt(max)}</text>` : `<text x="0" y="12">no usage yet</text>`);
}

// An audit status as a badge; the tooltip says why (failed checks, last error) and when.
function auditBadge(a) {
  const at = (t) => new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  const tip = [a.reason, a.checked_at ? "last report " + at(a.checked_at) : "",
    a.next_retry_at ? `next attempt ${at(a.next_retry_at)}` + (a.attempts ? ` (${a.attempts} failed)` : "") : ""]
    .filter(Boolean).join("\n");
  const status = ["pending", "unavailable", "passed", "failed"].includes(a.status) ? a.status : "pending";
  return `<span class="badge ${status}" data-field="audit" title="${esc(tip)}">${esc(a.status)}</span>`;
}

async function batches() {
  const list = await api("/api/batches?per_page=100");
  rows("#batches tbody", list.items.map((b) => `<tr data-root="${esc(b.root)}">
    <td class="addr" title="${esc(b.root)}">${esc(short(b.root))}</td><td>${b.block_number}</td>
    <td class="n">${b.receipt_count}</td><td class="n">${fmt(b.reserved)}</td><td class="n" data-field="settled">${fmt(b.settled)}</td>
    <td class="n">${b.claims}</td>
    <td>${auditBadge(b.audit)}</td>
    <td><button data-audit="${esc(b.root)}">audit</button></td></tr>`));
}

async function payers() {
  const list = await api("/api/balances?per_page=1000");
  rows("#payers tbody", list.items.map((p) => `<tr data-payer="${esc(p.payer)}">
    <td class="addr" title="${esc(p.payer)}">${esc(short(p.payer))}</td><td class="addr">${esc(short(p.token))}</td>
    <td class="n">${amt(p.available, p.token)}</td><td class="n">${amt(p.credit, p.token)}</td><td class="n">${amt(p.reserved, p.token)}</td><td class="n">${amt(p.deposited, p.token)}</td>
    <td class="n">${amt(p.spent, p.token)}</td><td class="n">${amt(p.withdrawn, p.token)}</td></tr>`));
}

// A Unix time as an ISO date and time, or "–" for 0 (none).
function when(t) {
  return t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 16) : "–";
}

async function lines() {
  const list = await api("/api/credit-lines?per_page=1000");
  rows("#lines tbody", list.items.map((l) => `<tr data-line="${esc(l.payer)}:${esc(l.relayer)}:${esc(l.token)}">
    <td class="addr" title="${esc(l.payer)}">${esc(short(l.payer))}</td><td class="addr" title="${esc(l.relayer)}">${esc(short(l.relayer))}</td>
    <td class="addr" title="${esc(l.token)}">${esc(short(l.token))}</td>
    <td class="n" data-field="credit">${amt(l.credit, l.token)}</td><td class="n" data-field="reserved">${amt(l.reserved, l.token)}</td><td class="n">${amt(l.fees, l.token)}</td>
    <td>${when(l.reserved_until)}</td><td class="n">${amt(l.reduction_amount, l.token)}</td><td>${when(l.reduction_effective_at)}</td></tr>`));
}

// A rate (token base units per second × 1e18) as a decimal number of units per second.
function rate(r) {
  try {
    const v = BigInt(r), whole = v / 10n ** 18n, frac = (v % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
    return whole.toLocaleString("en-US") + (frac ? "." + frac.slice(0, 6) : "");
  } catch { return String(r); }
}

async function streams() {
  const list = await api("/api/streams?per_page=1000");
  rows("#streams tbody", list.items.map((s) => `<tr data-stream="${esc(s.stream_id)}">
    <td>${esc(s.stream_id)}</td><td>#${esc(s.license_id)}</td>
    <td class="addr" title="${esc(s.payer)}">${esc(short(s.payer))}</td>
    <td class="addr" title="${esc(s.token)}">${esc(short(s.token))}</td>
    <td class="n" title="${esc(s.rate)} × 1e-18">${rate(s.rate)}</td>
    <td><span class="badge ${esc(s.state)}" data-field="state">${esc(s.state)}</span></td>
    <td class="n" data-field="deposited">${amt(s.deposited, s.token)}</td><td class="n" data-field="streamed">${amt(s.streamed, s.token)}</td>
    <td class="n" data-field="withdrawn">${amt(s.withdrawn, s.token)}</td><td class="n" data-field="balance">${amt(s.balance, s.token)}</td>
    <td class="n" data-field="debt">${amt(s.uncovered_debt, s.token)}</td></tr>`));
}

async function pools() {
  const list = await api("/api/pools?per_page=1000");
  rows("#pools tbody", list.items.flatMap((p) => p.tokens.map((t) => `<tr data-pool="${esc(p.pool)}" data-token="${esc(t.token)}">
    <td class="addr" title="${esc(p.pool)}">${esc(short(p.pool))}</td><td>${esc(p.name)}</td>
    <td class="addr" title="${esc(t.token)}">${esc(short(t.token))}</td><td class="n">${p.holders}</td>
    <td class="n" data-field="distributed">${amt(t.distributed, t.token)}</td><td class="n" data-field="claimed">${amt(t.claimed, t.token)}</td>
    <td class="n" data-field="unclaimed">${amt(t.unclaimed, t.token)}</td></tr>`)));
}

function showStatus(s) {
  $("#status").textContent = `chain ${s.chain_id} · indexed block ${s.indexed_block} · finalized ${s.finalized_block} · head ${s.head_block} · ${fmt(s.events)} events`;
  document.body.dataset.indexedBlock = s.indexed_block;
}

let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = api("/api/tokens")
    .then((list) => { tokens = Object.fromEntries(list.map((t) => [t.token, t])); })
    .catch((e) => console.error(e))
    .then(() => Promise.all([creators(), licenses(), usage(), batches(), payers(), lines(), streams(), pools()]))
    .catch((e) => console.error(e))
    .finally(() => { refreshing = null; document.body.dataset.refreshed = String(Date.now()); });
  return refreshing;
}

function live() {
  const es = new EventSource("/api/live");
  es.addEventListener("status", (e) => { showStatus(JSON.parse(e.data)); refresh(); });
  es.onopen = () => { $("#live").className = "on"; $("#live").innerHTML = "●&nbsp;live"; };
  es.onerror = () => { $("#live").className = "off"; $("#live").innerHTML = "●&nbsp;reconnecting"; };
}

document.addEventListener("click", async (e) => {
  const root = e.target.dataset && e.target.dataset.audit;
  if (!root) return;
  e.target.disabled = true;
  try { await api(`/api/batches/${root}/audit`, { method: "POST" }); } catch (err) { console.error(err); }
  e.target.disabled = false;
  refresh();
});
$("#finalized").addEventListener("change", refresh);

api("/api/status").then(showStatus).catch(() => {});
refresh();
live();
setInterval(refresh, 15000);
