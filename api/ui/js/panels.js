// The side panels: the ring's case, an identifier, an account. Pure functions of API answers.
import { el, risk, when } from "./dom.js";

const STATUSES = ["open", "in_review", "confirmed_fraud", "dismissed"];

export function casePanel(ringCase, canLabel, actions) {
  const status = ringCase ? ringCase.status : "none";
  const body = [
    el("h3", {}, "Case"),
    el("p", {}, "Status ", el("strong", { id: "case-status" }, status),
      " · assignee ", el("span", { id: "case-assignee" }, ringCase?.assignee ?? "–"),
      ringCase ? ` · updated ${when(ringCase.updated_at)}` : ""),
  ];
  if (canLabel) {
    const note = el("input", { id: "case-note", type: "text", placeholder: "note", spellcheck: "false" });
    const move = el("select", { id: "case-move" }, STATUSES.map((s) => el("option", { value: s }, s)));
    body.push(el("div", { class: "actions" },
      el("button", { id: "case-open", type: "button", onclick: () => actions.move("open", note.value) },
        ringCase ? "Take it" : "Open case"),
      move, el("button", { id: "case-move-button", type: "button", onclick: () => actions.move(move.value, note.value) }, "Move"),
      el("button", { id: "case-confirm", type: "button", onclick: () => actions.confirm(note.value) }, "Confirm fraud"),
      el("button", { id: "case-dismiss", type: "button", onclick: () => actions.move("dismissed", note.value) }, "Dismiss")),
    el("div", { class: "actions" }, note));
  }
  if (ringCase && ringCase.history.length) {
    body.push(el("h4", {}, "Case history"), el("ol", { id: "case-history" }, ringCase.history.map((h) =>
      el("li", {}, `${when(h.at)} · ${h.status} · ${h.assignee ?? "unassigned"} · ${h.key_id}`, h.note ? ` · ${h.note}` : ""))));
  }
  return body;
}

export function identifierPanel(info, canLabel, actions) {
  const body = [
    el("h3", {}, `${info.type} `, el("span", { id: "identifier-id" }, info.id)),
    el("p", {}, `${info.accounts} accounts · first seen ${when(info.first_seen)} · last seen ${when(info.last_seen)}`),
    el("p", {}, "Benign: ", el("strong", { id: "identifier-benign" }, info.benign ? "yes" : "no"),
      info.ring_ids.length ? ` · rings ${info.ring_ids.join(", ")}` : ""),
  ];
  if (canLabel) {
    body.push(el("div", { class: "actions" }, info.benign
      ? el("button", { id: "identifier-unbenign", type: "button", onclick: () => actions.benign(false) }, "Undo benign")
      : el("button", { id: "identifier-benign-button", type: "button", onclick: () => actions.benign(true) }, "Mark benign (b)")));
  }
  body.push(el("div", { class: "actions" },
    el("button", { id: "identifier-expand", type: "button", onclick: () => actions.expand() }, "Expand its accounts")));
  body.push(el("ul", { id: "identifier-accounts" }, info.data.map((a) =>
    el("li", {}, `${a.account_id} · risk ${risk(a.risk)}`, a.label ? ` · ${a.label}` : "", a.ring_id ? ` · ring ${a.ring_id}` : ""))));
  return body;
}

export function accountPanel(account, reasons, labels, canLabel, actions) {
  const attrs = Object.entries(account.attributes || {});
  const body = [
    el("h3", {}, "Account ", el("span", { id: "account-id" }, account.id)),
    el("p", {}, "Risk ", el("strong", { id: "account-risk" }, risk(account.risk)),
      " · label ", el("span", { id: "account-label", class: `pill ${account.label || ""}` }, account.label ?? "none"),
      account.ring_id ? ` · ring ${account.ring_id}` : "", ` · created ${when(account.created_at)}`),
    el("div", { class: "actions" },
      el("button", { id: "account-expand", type: "button", onclick: () => actions.expand() }, "Expand (e)"),
      canLabel && el("button", { id: "account-fraud", type: "button", onclick: () => actions.label("fraud") }, "Fraud (f)"),
      canLabel && el("button", { id: "account-legit", type: "button", onclick: () => actions.label("legit") }, "Legit (l)")),
    el("h4", {}, "Attributes"),
    el("dl", { id: "account-attributes" }, attrs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])),
    el("h4", {}, "Links"),
    el("ul", { id: "account-links" }, account.links.map((l) => el("li", {},
      el("a", { href: "#", dataset: { type: l.type, identifier: l.id },
        onclick: (e) => { e.preventDefault(); actions.identifier(l.type, l.id); } }, `${l.type} ${l.id}`),
      l.seen_at ? ` · ${when(l.seen_at)}` : ""))),
    el("h4", {}, "Reasons"),
  ];
  if (reasons) {
    const top = Math.max(1e-9, ...reasons.reasons.map((r) => r.weight));
    body.push(el("div", { id: "account-reasons" }, reasons.reasons.length ? reasons.reasons.map((r) =>
      el("div", { class: "bar" },
        el("span", {}, `${r.identifier.type} ${r.identifier.id}`),
        el("span", {}, el("meter", { min: 0, max: top, value: r.weight }),
          ` ${r.weight.toFixed(2)} · shared with ${r.shared_with} · flagged ${r.flagged_accounts}`))) : "none"),
    el("p", {}, `model ${reasons.model_version} · scored ${when(reasons.scored_at)}`));
  } else {
    body.push(el("p", {}, "No score readable with this key."));
  }
  body.push(el("h4", {}, "Label history"), el("ol", { id: "account-label-history" }, labels.data.map((e) =>
    el("li", {}, `${when(e.at)} · ${e.label} · ${e.source}`, e.note ? ` · ${e.note}` : ""))));
  return body;
}
