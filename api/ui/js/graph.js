// The ring's graph: accounts coloured by risk, one shape per identifier type, and no hairballs
// (hubs are one node with a degree badge, accounts outside the ring behind a "+N others" node).
import cytoscape from "../vendor/cytoscape.esm.min.mjs";

/** An identifier shared by this many accounts or more is a hub: drawn as one node, never auto-expanded. */
export const HUB_DEGREE = 50;
const SHAPES = { card: "round-rectangle", device: "diamond", bank_account: "hexagon" };
const BIG = 400;  // above this many elements a force layout costs seconds: concentric instead

// Style as objects, not a stylesheet text: nothing for CSP to refuse.
const STYLE = [
  { selector: "node", style: { label: "data(label)", "font-size": 7, "text-valign": "bottom", "text-margin-y": 2, color: "#263238" } },
  { selector: "node.account", style: { shape: "ellipse", width: 18, height: 18,
    "background-color": "mapData(risk, 0, 1, #43a047, #d32f2f)" } },
  { selector: "node.account.norisk", style: { "background-color": "#9e9e9e" } },
  { selector: "node.outside", style: { opacity: 0.65, width: 12, height: 12 } },
  { selector: "node.fraud", style: { "border-width": 3, "border-color": "#000000" } },
  { selector: "node.legit", style: { "border-width": 3, "border-color": "#1e88e5", "border-style": "double" } },
  { selector: "node.identifier", style: { shape: "data(shape)", width: 13, height: 13, "background-color": "#546e7a" } },
  { selector: "node.hub", style: { width: 30, height: 30, "background-color": "#fb8c00", "font-weight": "bold" } },
  { selector: "node.others", style: { shape: "tag", width: 20, height: 20, "background-color": "#cfd8dc" } },
  { selector: "node.hidden", style: { display: "none" } },
  { selector: "edge", style: { width: 1, "line-color": "#b0bec5", "curve-style": "haystack" } },
  { selector: ".faded", style: { opacity: 0.12 } },
  { selector: "node.highlight", style: { "border-width": 4, "border-color": "#fdd835", opacity: 1 } },
  { selector: "edge.highlight", style: { "line-color": "#f9a825", width: 3, opacity: 1 } },
  { selector: "node:selected", style: { "overlay-color": "#1e88e5", "overlay-opacity": 0.35, "overlay-padding": 4 } },
];

export const accountNode = (id) => `a:${id}`;
export const identifierNode = (type, id) => `i:${type}:${id}`;
const othersNode = (type, id) => `o:${type}:${id}`;

export class RingGraph {
  constructor(container, onTap, onChange = () => {}) {
    this.container = container;
    this.onChange = onChange;
    this.members = new Set();
    this.showBenign = false;
    this.cy = cytoscape({ container, style: STYLE, elements: [], minZoom: 0.02, maxZoom: 6 });
    this.cy.on("tap", "node", (event) => onTap(event.target.data()));
  }

  /** Draw `ring` (a Ring of the API: members, identifiers, links) from scratch. */
  load(ring, benign = new Set()) {
    this.members = new Set(ring.members.map((m) => m.account_id));
    const elements = ring.members.map((m) => this.#account(m.account_id, m.risk, m.label, true));
    for (const i of ring.identifiers) elements.push(this.#identifier(i.type, i.id, i.accounts, benign.has(`${i.type}:${i.id}`), false));
    for (const l of ring.links) elements.push(this.#edge(l.account_id, l.type, l.id));
    this.cy.elements().remove();
    this.cy.add(elements);
    this.#others();
    this.#layout();
  }

  /** Merge an account's 1-hop subgraph (the API's `subgraph`): capped hubs keep their "+N others". */
  mergeSubgraph(centre, sub) {
    const capped = new Set(sub.nodes.filter((n) => n.kind !== "account" && n.capped).map((n) => `${n.kind}:${n.id}`));
    const has = (id) => this.cy.getElementById(id).length > 0;
    // Through a capped hub only the centre's own link is drawn: the rest stay "+N others".
    const edges = sub.edges.filter((e) => !capped.has(`${e.type}:${e.target}`) || e.source === centre || has(accountNode(e.source)));
    const reached = new Set([centre, ...edges.map((e) => e.source)]);
    const add = [];
    for (const n of sub.nodes) {
      if (n.kind === "account") {
        if (reached.has(n.id) && !has(accountNode(n.id))) add.push(this.#account(n.id, n.risk, n.label, false));
      } else if (!has(identifierNode(n.kind, n.id))) {
        add.push(this.#identifier(n.kind, n.id, n.degree || 1, !!n.benign, !!n.capped));
      } else if (n.benign) {
        this.cy.getElementById(identifierNode(n.kind, n.id)).addClass("benign");
      }
    }
    this.cy.add(add);
    this.cy.add(edges.filter((e) => !has(`e:${e.source}|${e.type}:${e.target}`)).map((e) => this.#edge(e.source, e.type, e.target)));
    this.#others();
    this.#layout();
  }

  /** Merge the accounts an identifier page listed (`GET /v1/identifiers/...`). */
  mergeIdentifierAccounts(type, id, accounts) {
    const add = [];
    for (const a of accounts) {
      if (!this.cy.getElementById(accountNode(a.account_id)).length) add.push(this.#account(a.account_id, a.risk, a.label, false));
      if (!this.cy.getElementById(`e:${a.account_id}|${type}:${id}`).length) add.push(this.#edge(a.account_id, type, id));
    }
    this.cy.add(add);
    this.#others();
    this.#layout();
  }

  setBenign(type, id, benign) {
    const node = this.cy.getElementById(identifierNode(type, id));
    node.toggleClass("benign", benign);
    this.#hideBenign();
  }

  toggleBenign(show) {
    this.showBenign = show;
    this.#hideBenign();
  }

  setLabel(accountId, label) {
    const node = this.cy.getElementById(accountNode(accountId));
    node.removeClass("fraud legit");
    if (label) node.addClass(label);
  }

  /** Light up `nodeId` and its neighbours; `null` clears. */
  highlight(nodeId) {
    this.cy.elements().removeClass("faded highlight");
    if (!nodeId) return;
    const node = this.cy.getElementById(nodeId);
    const near = node.closedNeighborhood();
    this.cy.elements().not(near).addClass("faded");
    near.addClass("highlight");
  }

  select(nodeId) {
    this.cy.nodes(":selected").unselect();
    const node = this.cy.getElementById(nodeId);
    node.select();
    if (node.length) this.cy.animate({ center: { eles: node } }, { duration: 150 });
  }

  counts() {
    // From the classes, not `:visible`, which lags until the next style pass.
    const shown = (e) => !e.hasClass("hidden") && !e.source().hasClass("hidden") && !e.target().hasClass("hidden");
    const visible = { nodes: () => this.cy.nodes().not(".hidden"), edges: () => this.cy.edges().filter(shown) };
    return { accounts: this.cy.nodes(".account").length, identifiers: this.cy.nodes(".identifier").length,
      others: this.cy.nodes(".others").length, hubs: this.cy.nodes(".hub").length, edges: this.cy.edges(".link").length,
      visibleNodes: visible.nodes().length, visibleEdges: visible.edges().length };
  }

  png() {
    return this.cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff" });
  }

  #account(id, risk, label, member) {
    const classes = ["account", member ? "member" : "outside"];
    if (risk === null || risk === undefined) classes.push("norisk");
    if (label) classes.push(label);
    return { group: "nodes", data: { id: accountNode(id), ref: id, kind: "account", risk: risk ?? 0, label: id },
      classes: classes.join(" ") };
  }

  #identifier(type, id, degree, benign, capped) {
    const hub = capped || degree >= HUB_DEGREE;
    const classes = ["identifier", type];
    if (hub) classes.push("hub");
    if (benign) classes.push("benign");
    return { group: "nodes", classes: classes.join(" "),
      data: { id: identifierNode(type, id), ref: id, kind: type, type, degree, hub, shape: SHAPES[type] || "ellipse",
        label: hub ? `${type} · degree ${degree}` : type } };
  }

  #edge(accountId, type, id) {
    return { group: "edges", classes: "link", data: { id: `e:${accountId}|${type}:${id}`, source: accountNode(accountId),
      target: identifierNode(type, id), type } };
  }

  /** One "+N others" node per identifier for the accounts sharing it that are not drawn. */
  #others() {
    const add = [];
    this.cy.batch(() => {
      for (const node of this.cy.nodes(".identifier")) {
        const { type, ref, degree } = node.data();
        const outside = degree - node.neighborhood("node.account").length;
        const others = this.cy.getElementById(othersNode(type, ref));
        if (outside <= 0) {
          others.remove();
        } else if (others.length) {
          others.data({ count: outside, label: `+${outside} others` });
        } else {
          add.push({ group: "nodes", classes: "others",
            data: { id: othersNode(type, ref), kind: "others", type, ref, count: outside, label: `+${outside} others` } });
          add.push({ group: "edges", data: { id: `x:${type}:${ref}`, source: othersNode(type, ref), target: node.id() } });
        }
      }
    });
    this.cy.add(add);
    this.#hideBenign();
  }

  #hideBenign() {
    const benign = this.cy.nodes(".benign");
    this.cy.nodes(".hidden").removeClass("hidden");
    if (!this.showBenign) benign.union(benign.neighborhood("node.others")).addClass("hidden");
    this.#publish();
  }

  #layout() {
    const big = this.cy.elements().length > BIG;
    const layout = big
      ? { name: "concentric", animate: false, minNodeSpacing: 4, concentric: (n) => (n.hasClass("member") ? 3 : n.hasClass("identifier") ? 2 : 1), levelWidth: () => 1 }
      : { name: "cose", animate: false, randomize: false, nodeRepulsion: () => 6000, idealEdgeLength: () => 40, numIter: 250, initialTemp: 400, coolingFactor: 0.97 };
    this.cy.layout(layout).run();
    this.cy.fit(undefined, 20);
    this.#publish();
  }

  /** The drawn counts as data attributes: what a reader (or a browser test) can check against the API. */
  #publish() {
    const c = this.counts();
    Object.assign(this.container.dataset, { accounts: c.accounts, identifiers: c.identifiers, others: c.others, hubs: c.hubs,
      edges: c.edges, visibleNodes: c.visibleNodes, visibleEdges: c.visibleEdges });
    this.onChange(this);
  }

  /** The hubs and "+N others" nodes drawn, as plain records (for a list beside the canvas). */
  summaries() {
    const hubs = this.cy.nodes(".hub").map((n) => ({ type: n.data("type"), id: n.data("ref"), degree: n.data("degree") }));
    const others = this.cy.nodes(".others").map((n) => ({ type: n.data("type"), id: n.data("ref"), count: n.data("count") }));
    return { hubs, others };
  }
}
