// Exports made in the browser from what the API answered: nothing leaves the page.
import { download } from "./dom.js";

// A spreadsheet runs cells starting with these as formulas: quote them.
const cell = (value) => {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** The ring as CSV: one row per member, identifier and link, with a `record` column saying which. */
export function ringCsv(ring) {
  const rows = [["record", "account_id", "identifier_type", "identifier_id", "risk", "label", "accounts"]];
  for (const m of ring.members) rows.push(["member", m.account_id, "", "", m.risk, m.label, ""]);
  for (const i of ring.identifiers) rows.push(["identifier", "", i.type, i.id, "", "", i.accounts]);
  for (const l of ring.links) rows.push(["link", l.account_id, l.type, l.id, "", "", ""]);
  return `${rows.map((r) => r.map(cell).join(",")).join("\r\n")}\r\n`;
}

export function exportCsv(ring) {
  download(new Blob([ringCsv(ring)], { type: "text/csv" }), `ring-${ring.id}.csv`);
}

export function exportPng(graph, ring) {
  download(graph.png(), `ring-${ring.id}.png`);
}
