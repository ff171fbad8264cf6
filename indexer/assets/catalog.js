// Fairtrain catalog: the licensed datasets of /api/catalog with their filters, and a dataset's
// card (/api/catalog/{license}) at #<license>. Amounts come from the API already in the token's
// units and symbol. No build step, no dependencies.
"use strict";

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const short = (a) => (a && a.length > 14 ? a.slice(0, 8) + "…" + a.slice(-6) : a || "");
const fmt = (v) => { try { return BigInt(v).toLocaleString("en-US"); } catch { return String(v); } };
const earned = (e) => e.earned.map((a) => esc(a.display)).join(", ") || "0";
const device = (d) => (d ? `${esc(d.backend)} · ${d.qubits} qubits${d.max_two_qubit_error == null ? "" : " · 2q error ≤ " + d.max_two_qubit_error}` : "");

async function api(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

async function list() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($("#filters"))) if (v !== "") params.set(k, v);
  params.set("per_page", "100");
  const page = await api("/api/catalog?" + params);
  $("#datasets tbody").innerHTML = page.items.map((e) => `<tr data-license="${esc(e.license_id)}">
    <td><a href="#${esc(e.license_id)}">#${esc(e.license_id)}</a></td><td data-field="name">${esc(e.name)}</td>
    <td>${esc(e.kind)}</td><td class="n" data-field="price">${esc(e.price_per_sample.display)} / ${esc(e.unit)}</td>
    <td class="n">${e.file_count}</td><td class="n">${fmt(e.total_size)}</td><td>${device(e.device)}</td>
    <td class="n">${e.payers}</td><td class="n">${fmt(e.samples)}</td><td class="n" data-field="earned">${earned(e)}</td></tr>`).join("")
    || '<tr><td class="note" colspan="10">no dataset matches</td></tr>';
  document.body.dataset.listed = String(page.total);
}

async function card(id) {
  const c = await api(`/api/catalog/${encodeURIComponent(id)}`);
  const e = c.entry;
  const meta = Object.entries(e.metadata).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
  const d = e.device;
  $("#card").innerHTML = `<h2 id="card-title">${esc(e.name)} <span class="note">license #${esc(e.license_id)}</span></h2>
    <p>${esc(e.description)}</p>
    <h3>Terms</h3><ul id="card-terms">${c.terms.map((t) => `<li>${esc(t)}</li>`).join("")}</ul>
    <h3>Dataset</h3><dl>
      <dt>manifest</dt><dd class="addr">${esc(e.manifest_hash)}</dd>
      <dt>creator</dt><dd class="addr">${esc(e.creator)}</dd>
      <dt>holder (paid)</dt><dd class="addr">${esc(e.holder)}</dd>
      <dt>files</dt><dd>${e.file_count} (${fmt(e.total_size)} bytes) at <a href="${esc(e.gateway)}/v1/datasets/${esc(e.manifest_hash)}">${esc(e.gateway)}</a></dd>
      ${d ? `<dt>device</dt><dd id="card-device">${esc(d.provider)} ${esc(d.backend)}, ${d.qubits} qubits, calibrated ${new Date(d.calibrated_at * 1000).toISOString()}, ${fmt(d.shots)} shots${d.max_two_qubit_error == null ? "" : ", two-qubit error ≤ " + d.max_two_qubit_error}</dd>` : ""}
      ${meta}</dl>
    <table id="card-files"><thead><tr><th>file</th><th class="n">bytes</th><th>keccak256</th></tr></thead><tbody>
      ${c.files.map((f) => `<tr><td>${esc(f.path)}</td><td class="n">${fmt(f.size)}</td><td class="addr">${esc(short(f.hash))}</td></tr>`).join("")}</tbody></table>
    <h3>Who trained on it, and what it earned</h3>
    <p id="card-earned">${e.samples.toLocaleString("en-US")} samples settled, earning ${earned(e)}.</p>
    <table id="card-trainers"><thead><tr><th>payer</th><th>terms</th><th class="n">samples</th></tr></thead><tbody>
      ${c.trainers.map((t) => `<tr><td class="addr">${esc(t.payer)}</td><td>${t.terms_id}</td><td class="n">${fmt(t.samples)}</td></tr>`).join("") || '<tr><td class="note" colspan="3">no payer yet</td></tr>'}</tbody></table>
    <h3>Who accessed it</h3>
    <p id="card-access">${fmt(c.access.grants)} grants and ${fmt(c.access.downloads)} downloads by ${fmt(c.access.payers)} payers${c.entry.unit === "access" ? `, ${fmt(c.access.paid)} grants paid per access` : ""}${c.access.last_at == null ? "" : ", the latest " + new Date(c.access.last_at * 1000).toISOString()} (the gateway's public log).</p>
    <table id="card-accesses"><thead><tr><th>when</th><th>what</th><th>payer</th><th>file</th></tr></thead><tbody>
      ${c.accesses.map((a) => `<tr><td>${new Date(a.at * 1000).toISOString()}</td><td>${esc(a.kind)}${a.receipt ? ` <span class="addr" title="the receipt that paid for it">paid ${esc(a.receipt.slice(0, 10))}…</span>` : ""}</td><td class="addr">${esc(a.payer)}</td><td>${esc(a.path ?? "")}</td></tr>`).join("") || '<tr><td class="note" colspan="4">no access yet</td></tr>'}</tbody></table>
    <p><a href="#">back to the catalog</a> · <a href="/api/catalog/${esc(e.license_id)}/croissant">Croissant</a> · <a href="/api/catalog/${esc(e.license_id)}/tdm-policy">TDMRep policy</a></p>`;
  document.body.dataset.card = String(e.license_id);
}

async function route() {
  const id = location.hash.slice(1);
  $("#card").hidden = !id;
  $("#list").hidden = !!id;
  try {
    if (id) await card(id);
    else await list();
  } catch (err) {
    console.error(err);
    $("#card").hidden = false;
    $("#card").innerHTML = `<p class="note">${esc(err.message)}</p>`;
  }
}

$("#filters").addEventListener("submit", (e) => { e.preventDefault(); list(); });
window.addEventListener("hashchange", route);
route();
