// The investigator's ring explorer: log in, work the queue, open a ring, decide.
// Every view is drawn from API answers; data reaches the page as text only.
import { ApiError, api, session, whenUnauthenticated } from "./api.js";
import { $, $$, clear, el, risk, show, when } from "./dom.js";
import { exportCsv, exportPng } from "./exporting.js";
import { RingGraph, accountNode, identifierNode } from "./graph.js";
import { bindKeys } from "./keys.js";
import { accountPanel, casePanel, identifierPanel } from "./panels.js";

const MAX_EXPAND = 5000;  // accounts drawn from one hub at most: past that the graph stops being readable

const state = {
  me: null,           // whoami
  canLabel: false,
  rings: [],          // the queue as loaded so far
  cursor: null,
  ring: null,         // the open Ring
  account: null,      // the account in the panel
  identifier: null,   // {type, id} selected
  benign: new Set(),  // "type:id" marked benign from this page
  graph: null,
};

function status(message, error = false) {
  const node = $("#status");
  node.textContent = message;
  node.classList.toggle("error", error);
}

async function guarded(action) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError) status(`${error.status} ${error.code}: ${error.message}`, true);
    else status(String(error), true);
    return undefined;
  }
}

// -- asking -----------------------------------------------------------------------------------

/** A modal question; resolves to {ok, checked, value}. */
function ask(text, { check = null, input = null, value = "" } = {}) {
  const dialog = $("#ask");
  $("#ask-text").textContent = text;
  show($("#ask-check-label"), !!check);
  $("#ask-check-text").textContent = check || "";
  $("#ask-check").checked = false;
  show($("#ask-input-label"), !!input);
  $("#ask-input-text").textContent = input || "";
  $("#ask-input").value = value;
  return new Promise((resolve) => {
    const done = (ok) => {
      dialog.removeEventListener("close", onClose);
      $("#ask-cancel").removeEventListener("click", onCancel);
      if (dialog.open) dialog.close();
      resolve({ ok, checked: $("#ask-check").checked, value: $("#ask-input").value });
    };
    const onClose = () => done(dialog.returnValue === "ok");
    const onCancel = () => { dialog.returnValue = "cancel"; done(false); };
    dialog.returnValue = "";
    dialog.addEventListener("close", onClose);
    $("#ask-cancel").addEventListener("click", onCancel);
    dialog.showModal();
    (input ? $("#ask-input") : $("#ask-ok")).focus();
  });
}

// -- login ------------------------------------------------------------------------------------

function view(name) {
  for (const id of ["login-view", "queue-view", "ring-view"]) show($(`#${id}`), id === `${name}-view`);
  document.body.dataset.view = name;
}

function loggedOut(message = "") {
  session.forget();
  state.me = null;
  $("#who").textContent = "";
  show($("#logout"), false);
  $("#login-error").textContent = message;
  view("login");
  $("#key-input").focus();
}

async function start() {
  if (!session.key()) return loggedOut();
  try {
    state.me = await api.whoami();
  } catch (error) {
    return loggedOut(error instanceof ApiError ? error.message : String(error));
  }
  state.canLabel = state.me.scopes.includes("label") || state.me.scopes.includes("admin");
  document.body.dataset.scopes = state.me.scopes.join(" ");
  for (const node of $$("[data-needs=label]")) show(node, state.canLabel);
  $("#who").textContent = `${state.me.key_id} · ${state.me.scopes.join(", ")}`;
  show($("#logout"), true);
  const ringId = decodeURIComponent(location.hash.replace(/^#ring\//, ""));
  if (location.hash.startsWith("#ring/") && ringId) await openRing(ringId);
  else await showQueue(true);
}

// -- queue ------------------------------------------------------------------------------------

function filters() {
  const mine = $("#f-mine").checked;
  return { min_risk: $("#f-min-risk").value, case_status: $("#f-case").value,
    assignee: mine ? state.me.key_id : $("#f-assignee").value.trim(), limit: 25 };
}

async function showQueue(reload = false) {
  view("queue");
  history.replaceState(null, "", "#queue");
  if (reload) {
    state.rings = [];
    state.cursor = null;
    clear($("#queue tbody"));
    await loadMore();
  }
  const current = $("#queue tbody tr.current") || $("#queue tbody tr");
  if (current) mark(current);
}

async function loadMore() {
  const page = await guarded(() => api.rings({ ...filters(), cursor: state.cursor || undefined }));
  if (!page) return;
  state.rings.push(...page.data);
  state.cursor = page.next_cursor;
  const body = $("#queue tbody");
  for (const r of page.data) {
    body.append(el("tr", { dataset: { ring: r.id }, onclick: (e) => { mark(e.currentTarget); }, ondblclick: () => openRing(r.id) },
      el("td", {}, el("a", { href: `#ring/${encodeURIComponent(r.id)}`, onclick: (e) => { e.preventDefault(); openRing(r.id); } }, r.id)),
      el("td", { class: r.risk >= 0.8 ? "risk-high" : "" }, risk(r.risk)), el("td", {}, r.size),
      el("td", {}, r.case_status ?? "–"), el("td", {}, r.assignee ?? "–"), el("td", {}, when(r.updated_at))));
  }
  show($("#queue-empty"), state.rings.length === 0);
  show($("#load-more"), !!state.cursor);
  if (!$("#queue tbody tr.current") && body.firstElementChild) mark(body.firstElementChild);
  status(`${state.rings.length} rings${state.cursor ? " (more to load)" : ""}`);
}

function mark(row) {
  if (!row) return;
  for (const other of $$("tr.current", row.parentElement)) other.classList.remove("current");
  row.classList.add("current");
  row.scrollIntoView({ block: "nearest" });
}

// -- ring -------------------------------------------------------------------------------------

async function openRing(id) {
  const ring = await guarded(() => api.ring(id));
  if (!ring) return;
  state.ring = ring;
  state.account = null;
  state.identifier = null;
  view("ring");
  history.replaceState(null, "", `#ring/${encodeURIComponent(id)}`);
  $("#ring-title").textContent = `Ring ${ring.id}`;
  $("#ring-meta").textContent = `risk ${risk(ring.risk)} · ${ring.size} members · updated ${when(ring.updated_at)} · sweep ${ring.sweep_id}`;
  show($("#truncated"), false);
  show($("#account-panel"), false);
  show($("#identifier-panel"), false);
  if (!state.graph) state.graph = new RingGraph($("#graph"), onNode, renderGraphNotes);
  const painted = performance.now();
  state.graph.toggleBenign($("#show-benign").checked);
  state.graph.load(ring, state.benign);
  performance.measure("ring-paint", { start: painted, end: performance.now() });
  renderCase();
  renderTables();
  status(`Ring ${ring.id}: ${ring.members.length} members, ${ring.identifiers.length} identifiers`);
}

function renderTables() {
  const ring = state.ring;
  clear($("#members tbody")).append(...ring.members.map((m) => el("tr", {
    dataset: { account: m.account_id }, onclick: (e) => { if (e.target.type !== "checkbox") openAccount(m.account_id); },
  }, el("td", {}, state.canLabel ? el("input", { type: "checkbox", class: "pick", value: m.account_id, "aria-label": "pick" }) : ""),
  el("td", {}, m.account_id), el("td", {}, risk(m.risk)),
  el("td", {}, el("span", { class: `pill ${m.label || ""}` }, m.label ?? "none")))));
  // Most shared first: the identifiers that tie the ring.
  const identifiers = [...ring.identifiers].sort((a, b) => b.accounts - a.accounts || a.id.localeCompare(b.id));
  clear($("#identifiers tbody")).append(...identifiers.map((i) => el("tr", {
    dataset: { type: i.type, identifier: i.id }, onclick: () => openIdentifier(i.type, i.id),
  }, el("td", {}, i.type), el("td", {}, i.id), el("td", {}, i.accounts))));
  clear($("#timeline")).append(...ring.history.map((h) => el("li", {},
    `${when(h.at)} · ${h.event} · ${h.size} members · sweep ${h.sweep_id}`)));
}

function renderCase() {
  clear($("#case-panel")).append(...casePanel(state.ring.case, state.canLabel, {
    move: (status, note) => moveCase(status, note, false),
    confirm: async (note) => {
      const answer = await ask(`Confirm ring ${state.ring.id} as fraud?`, { check: `Label all ${state.ring.members.length} members fraud` });
      if (answer.ok) await moveCase("confirmed_fraud", note, answer.checked);
    },
  }));
}

async function moveCase(status, note, labelMembers) {
  const body = { status, assignee: state.me.key_id, note: note || undefined };
  if (labelMembers) body.label_members = true;
  const updated = await guarded(() => api.putCase(state.ring.id, body));
  if (!updated) return;
  await reloadRing(`Case ${status}`);
}

async function reloadRing(message) {
  const ring = await guarded(() => api.ring(state.ring.id));
  if (!ring) return;
  state.ring = ring;
  for (const m of ring.members) state.graph.setLabel(m.account_id, m.label);
  renderCase();
  renderTables();
  if (state.account) await openAccount(state.account.id);
  status(message);
}

/** Beside the canvas, as text: the hubs (with their degree) and the collapsed "+N others". */
function renderGraphNotes(graph) {
  const { hubs, others } = graph.summaries();
  clear($("#graph-notes")).append(
    ...hubs.map((h) => el("li", { class: "hub-note" }, el("a", { href: "#", dataset: { type: h.type, identifier: h.id },
      onclick: (e) => { e.preventDefault(); openIdentifier(h.type, h.id); } }, `${h.type} ${h.id}`), ` · hub · degree ${h.degree}`)),
    ...others.map((o) => el("li", { class: "others-note" }, el("a", { href: "#", dataset: { type: o.type, identifier: o.id },
      onclick: (e) => { e.preventDefault(); expandIdentifier(o.type, o.id); } }, `+${o.count} others`), ` via ${o.type} ${o.id}`)));
}

function onNode(data) {
  if (data.kind === "account") openAccount(data.ref);
  else if (data.kind === "others") expandIdentifier(data.type, data.ref);
  else openIdentifier(data.type, data.ref);
}

// -- identifiers ------------------------------------------------------------------------------

async function openIdentifier(type, id) {
  state.identifier = { type, id };
  state.graph.highlight(identifierNode(type, id));
  state.graph.select(identifierNode(type, id));
  const members = new Set((state.ring?.links || []).filter((l) => l.type === type && l.id === id).map((l) => l.account_id));
  for (const row of $$("#members tbody tr")) row.classList.toggle("lit", members.has(row.dataset.account));
  for (const row of $$("#identifiers tbody tr")) row.classList.toggle("current", row.dataset.type === type && row.dataset.identifier === id);
  const info = await guarded(() => api.identifier(type, id, { limit: 20 }));
  if (!info) return;
  show($("#identifier-panel"), true);
  clear($("#identifier-panel")).append(...identifierPanel(info, state.canLabel, {
    benign: (benign) => markBenign(type, id, benign),
    expand: () => expandIdentifier(type, id),
  }));
}

async function markBenign(type, id, benign) {
  const done = await guarded(() => api.benign(type, id, benign));
  if (!done) return;
  if (benign) state.benign.add(`${type}:${id}`);
  else state.benign.delete(`${type}:${id}`);
  state.graph.setBenign(type, id, benign);
  await openIdentifier(type, id);
  status(benign ? `${type} ${id} marked benign (from the next sweep on it links nobody)` : `${type} ${id} no longer benign`);
}

async function expandIdentifier(type, id) {
  const node = state.graph.cy.getElementById(identifierNode(type, id));
  let limit = 100;
  if (node.data("hub")) {
    // A hub never expands by itself: ask how many of its accounts to draw.
    const answer = await ask(`${type} ${id} is shared by ${node.data("degree")} accounts. How many to draw?`,
      { input: "Accounts", value: "50" });
    if (!answer.ok) return;
    limit = Math.max(1, Math.min(MAX_EXPAND, Number.parseInt(answer.value, 10) || 50));
  }
  // Pages of at most 1,000 (the API's cap) until `limit` accounts are in hand.
  let page = { data: [], next_cursor: null, accounts: 0 };
  let cursor;
  do {
    const next = await guarded(() => api.identifier(type, id, { limit: Math.min(1000, limit - page.data.length), cursor }));
    if (!next) return;
    page = { ...next, data: [...page.data, ...next.data] };
    cursor = next.next_cursor;
  } while (cursor && page.data.length < limit);
  const drawn = performance.now();
  state.graph.mergeIdentifierAccounts(type, id, page.data);
  performance.measure("expand-draw", { start: drawn, end: performance.now() });
  show($("#truncated"), !!page.next_cursor);
  $("#truncated").textContent = page.next_cursor ? `Showing ${page.data.length} of ${page.accounts} accounts sharing ${type} ${id}.` : "";
  status(`Expanded ${type} ${id}: ${page.data.length} accounts`);
}

// -- accounts ---------------------------------------------------------------------------------

async function openAccount(id) {
  const [account, labels] = await Promise.all([guarded(() => api.account(id)), guarded(() => api.labelHistory(id))]);
  if (!account || !labels) return;
  const reasons = await api.reasons(id).catch(() => null);
  state.account = account;
  state.graph?.select(accountNode(id));
  for (const row of $$("#members tbody tr")) row.classList.toggle("current", row.dataset.account === id);
  show($("#account-panel"), true);
  clear($("#account-panel")).append(...accountPanel(account, reasons, labels, state.canLabel, {
    expand: () => expandAccount(),
    label: (label) => labelAccounts([id], label),
    identifier: (type, identifier) => openIdentifier(type, identifier),
  }));
}

async function expandAccount() {
  if (!state.account) return;
  const id = state.account.id;
  const sub = await guarded(() => api.subgraph(id));
  if (!sub) return;
  state.graph.mergeSubgraph(id, sub);
  show($("#truncated"), sub.truncated);
  $("#truncated").textContent = sub.truncated ? "The API cut this subgraph (truncated): hubs were not expanded past their cap." : "";
  status(`Expanded ${id}`);
}

async function labelAccounts(ids, label) {
  if (!ids.length) return status("No account chosen", true);
  const answer = await ask(`Label ${ids.length === 1 ? ids[0] : `${ids.length} accounts`} ${label}?`, { input: "Note" });
  if (!answer.ok) return;
  const done = await guarded(() => api.label(ids, label, answer.value));
  if (!done) return;
  for (const id of ids) state.graph?.setLabel(id, label);
  if (state.ring) await reloadRing(`Labelled ${done.applied} ${label}`);
}

async function jumpToAccount() {
  const answer = await ask("Jump to account", { input: "Account id" });
  if (!answer.ok || !answer.value.trim()) return;
  const account = await guarded(() => api.account(answer.value.trim()));
  if (!account) return;
  if (account.ring_id && account.ring_id !== state.ring?.id) await openRing(account.ring_id);
  if (!state.ring) view("ring");
  await openAccount(account.id);
}

// -- wiring -----------------------------------------------------------------------------------

function rows() {
  if (document.body.dataset.view === "queue") return $$("#queue tbody tr");
  if (document.body.dataset.view === "ring") return $$("#members tbody tr");
  return [];
}

function step(delta) {
  const list = rows();
  if (!list.length) return;
  const at = list.findIndex((r) => r.classList.contains("current"));
  const next = list[Math.max(0, Math.min(list.length - 1, at + delta))] || list[0];
  mark(next);
  if (document.body.dataset.view === "ring") openAccount(next.dataset.account);
}

async function nextRing() {
  if (!state.rings.length) await showQueue(true);
  const at = state.rings.findIndex((r) => r.id === state.ring?.id);
  const next = state.rings[at + 1];
  if (next) await openRing(next.id);
  else status("No next ring in the queue");
}

function back() {
  if (document.body.dataset.view !== "ring") return;
  if (!$("#account-panel").hidden || !$("#identifier-panel").hidden) {
    show($("#account-panel"), false);
    show($("#identifier-panel"), false);
    state.account = null;
    state.graph.highlight(null);
    for (const row of $$("#members tbody tr, #identifiers tbody tr")) row.classList.remove("lit");
    return;
  }
  showQueue(state.rings.length === 0).then(() => {
    const row = $(`#queue tbody tr[data-ring="${CSS.escape(state.ring?.id || "")}"]`);
    if (row) mark(row);
  });
}

whenUnauthenticated((message) => loggedOut(message));

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  session.save($("#key-input").value.trim());
  $("#key-input").value = "";
  start();
});
$("#logout").addEventListener("click", () => loggedOut());
$("#filters").addEventListener("submit", (event) => { event.preventDefault(); showQueue(true); });
$("#load-more").addEventListener("click", () => loadMore());
$("#back").addEventListener("click", () => { show($("#account-panel"), false); show($("#identifier-panel"), false); back(); });
$("#help-button").addEventListener("click", () => $("#help").showModal());
$("#export-csv").addEventListener("click", () => state.ring && exportCsv(state.ring));
$("#export-png").addEventListener("click", () => state.ring && exportPng(state.graph, state.ring));
$("#show-benign").addEventListener("change", (e) => state.graph?.toggleBenign(e.target.checked));
$("#ask-input").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); $("#ask").close("ok"); } });
const picked = () => $$("#members input.pick:checked").map((c) => c.value);
$("#label-selected-fraud").addEventListener("click", () => labelAccounts(picked(), "fraud"));
$("#label-selected-legit").addEventListener("click", () => labelAccounts(picked(), "legit"));

bindKeys({
  down: () => step(1),
  up: () => step(-1),
  open: () => {
    const row = rows().find((r) => r.classList.contains("current"));
    if (row && row.dataset.ring) openRing(row.dataset.ring);
    else if (row && row.dataset.account) openAccount(row.dataset.account);
  },
  back,
  jump: jumpToAccount,
  expand: () => expandAccount(),
  fraud: () => state.account && state.canLabel && labelAccounts([state.account.id], "fraud"),
  legit: () => state.account && state.canLabel && labelAccounts([state.account.id], "legit"),
  benign: () => state.identifier && state.canLabel && markBenign(state.identifier.type, state.identifier.id, true),
  next: nextRing,
  help: () => $("#help").showModal(),
});

start();
