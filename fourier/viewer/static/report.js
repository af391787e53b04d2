// Fourier pass report: builds the view of the selected pass from the embedded JSON.
// Only the selected pass and tab are in the DOM; all text goes in through textContent.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("fourier-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  // scale: the drawing's zoom; fit: zoom it to fit the view (on opening a pass, until the user zooms)
  const state = { pass: null, tab: "graph", node: null, scale: 1, fit: true };

  function el(tag, props, kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined) continue;
      if (k === "text") e.textContent = v;
      else if (k === "cls") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const kid of kids || []) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  const changedPasses = DATA.passes.filter((p) => DATA.views[p.index]);

  // -- layout ------------------------------------------------------------------------------
  const header = el("header", {}, [
    el("h1", { text: DATA.title }),
    el("span", {
      cls: "meta",
      text: `${DATA.ops_before} ops imported → ${DATA.ops_after} after ${DATA.passes.length} passes ` +
        `(${DATA.ms.toFixed(1)} ms) · fourier ${DATA.fourier}` + (DATA.source ? ` · ${DATA.source}` : ""),
    }),
  ]);
  const search = el("input", { id: "search", type: "search", placeholder: "Search nodes or ops  ( / )", autocomplete: "off" });
  const results = el("div", { id: "results" });
  header.append(el("div", { id: "search-box" }, [search, results]));
  const nav = el("nav", { id: "passes" });
  const view = el("section", { id: "view" });
  const details = el("aside", { id: "details" }, [el("p", { cls: "muted", text: "Select a node to see the rule that made it and the TensorFlow nodes it came from." })]);
  document.body.append(header, el("main", {}, [nav, view, details]));

  // -- pass list ---------------------------------------------------------------------------
  const rows = {};
  const table = el("table", {}, [
    el("thead", {}, [el("tr", {}, ["#", "pass", "ms", "ops", "+ − ~"].map((h) => el("th", { text: h, cls: h === "ms" ? "ms" : null })))]),
  ]);
  const tbody = el("tbody");
  const heaviest = Math.max(1, ...changedPasses.map((p) => p.weight || 0));
  for (const p of DATA.passes) {
    const v = DATA.views[p.index];
    const counts = v
      ? el("td", { cls: "counts" }, p.changed
        ? [el("span", { cls: "c-added", text: `+${p.added}` }), el("span", { cls: "c-removed", text: `−${p.removed}` }),
          el("span", { cls: "c-rewritten", text: `~${p.rewritten}` }),
          el("div", { cls: "weight", style: `width: ${Math.max(2, Math.round(100 * p.weight / heaviest))}%` })]
        : [el("span", { cls: "muted", text: "names only" })])
      : el("td", { cls: "muted", text: "no change" });
    const title = p.name + p.options + (v ? `\n${p.weight} node(s) changed` : "") + (Object.keys(p.stats).length
      ? "\n" + Object.entries(p.stats).map(([k, n]) => `${k}: ${n}`).join("\n") : "");
    const tr = el("tr", {
      cls: "pass " + (v ? "changed" : "unchanged") + (p.index === DATA.start ? " most" : ""), "data-pass": p.index, title: title,
      onclick: v ? () => selectPass(p.index) : null,
    }, [
      el("td", { cls: "num", text: p.index }), el("td", { text: p.name }), el("td", { cls: "num ms", text: p.ms.toFixed(2) }),
      el("td", { cls: "num", text: `${p.ops_before}→${p.ops_after}` }), counts,
    ]);
    rows[p.index] = tr;
    tbody.append(tr);
  }
  table.append(tbody);
  const most = DATA.passes.find((p) => p.index === DATA.start);
  nav.append(table,
    most ? el("p", { cls: "note", id: "start-note", text: `Opened on pass ${most.index} (${most.name}), the pass that changed the most: ` +
      `${most.weight} node(s) added, removed or rewritten (not counting nodes whose inputs were only re-pointed). ` +
      "The bar under + − ~ compares the passes." }) : null,
    el("p", { cls: "note", text: `pipeline: ${DATA.pipeline}` }));

  // -- selecting a pass --------------------------------------------------------------------
  function selectPass(index, tab, node) {
    const v = DATA.views[index];
    if (!v) return;
    if (state.pass !== null && rows[state.pass]) rows[state.pass].classList.remove("selected");
    if (state.pass !== index) state.fit = true;  // a pass opens fitted to the view
    state.pass = index;
    rows[index].classList.add("selected");
    if (tab) state.tab = tab;
    state.node = node || null;
    renderView();
    if (node) showNode(node);
    history.replaceState(null, "", `#pass=${index}` + (node ? `&node=${encodeURIComponent(node)}` : ""));
  }

  function renderView() {
    const p = DATA.passes.find((q) => q.index === state.pass);
    const v = DATA.views[state.pass];
    const tabs = el("div", { cls: "tabs" });
    for (const [key, label] of [["graph", "Graph"], ["unified", "Unified diff"], ["side", "Side by side"], ["nodes", `Nodes (${Object.keys(v.nodes).length})`]]) {
      tabs.append(el("button", { cls: key === state.tab ? "active" : "", "data-tab": key, text: label, onclick: () => { state.tab = key; renderView(); } }));
    }
    const body = el("div", { id: "tab-body" });
    view.replaceChildren(
      el("h2", { id: "pass-title", text: `Pass ${p.index}: ${p.name}${p.options}` }),
      el("div", { id: "summary", text: `${v.summary} · ops ${p.ops_before} → ${p.ops_after} · nodes ${p.nodes_before} → ${p.nodes_after} · ${p.ms.toFixed(2)} ms` +
        (Object.keys(p.stats).length ? " · " + Object.entries(p.stats).map(([k, n]) => `${k}: ${n}`).join(", ") : "") }),
      tabs, body);
    if (!v.structural) body.append(el("p", { cls: "note", text: "No structural change: this pass only renamed or reordered nodes." }));
    ({ graph: drawGraph, unified: drawUnified, side: drawSide, nodes: drawNodes })[state.tab](v, body);
    if (state.node) focusNode(state.node);
  }

  // -- graph drawing -----------------------------------------------------------------------
  function drawGraph(v, body) {
    const g = v.graph, M = 12, H = g.box;
    const legend = el("div", { cls: "legend" });
    for (const [st, label] of [["added", "added"], ["removed", "removed"], ["rewritten", "rewritten"], ["same", "unchanged neighbour"]]) {
      legend.append(el("span", {}, [el("i", { style: `border-color: var(--${st}); background: var(--${st}-bg)` }), label]));
    }
    const zoom = (f) => { state.fit = false; state.scale = f === 0 ? 1 : Math.min(3, Math.max(0.02, state.scale * f)); resize(); };
    legend.append(el("button", { text: "−", title: "zoom out", onclick: () => zoom(1 / 1.25) }),
      el("button", { text: "+", title: "zoom in", onclick: () => zoom(1.25) }),
      el("button", { id: "fit", text: "Fit", title: "fit the drawing to the view", onclick: () => { state.fit = true; fitGraph(); } }),
      el("button", { text: "1:1", onclick: () => zoom(0) }));
    legend.append(el("span", { cls: "muted", text: `${g.nodes.length} nodes in ${g.clusters} cluster(s)` +
      (g.omitted ? ` · ${g.omitted} more changed nodes not drawn (see Nodes)` : "") }));
    body.append(legend);
    const w = g.width + 2 * M, h = g.height + 2 * M;
    const svg = svgEl("svg", { id: "graph", viewBox: `${-M} ${-M} ${w} ${h}`, "data-width": w, "data-height": h });
    function resize() { svg.setAttribute("width", w * state.scale); svg.setAttribute("height", h * state.scale); }
    resize();
    const defs = svgEl("defs");
    for (const st of ["same", "added", "removed"]) {
      const m = svgEl("marker", { id: `arrow-${st}`, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
      m.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: st === "same" ? "#b0b0b0" : `var(--${st})` }));
      defs.append(m);
    }
    svg.append(defs);
    const pos = {};
    for (const n of g.nodes) pos[n.id] = n;
    for (const [s, t, st] of g.edges) {
      const a = pos[s], b = pos[t];
      const x1 = a.x + a.w / 2, y1 = a.y + H, x2 = b.x + b.w / 2, y2 = b.y;
      const dy = Math.max(12, (y2 - y1) / 2);
      svg.append(svgEl("path", { class: `edge e-${st}`, d: `M ${x1} ${y1} C ${x1} ${y1 + dy}, ${x2} ${y2 - dy}, ${x2} ${y2}`, "marker-end": `url(#arrow-${st})` }));
    }
    for (const n of g.nodes) {
      const info = v.nodes[n.node];
      const grp = svgEl("g", { class: `node st-${n.status}`, "data-id": n.id, "data-node": n.node, transform: `translate(${n.x},${n.y})` });
      const tip = svgEl("title");
      tip.textContent = `${n.status}: ${info ? info.name : n.node} (${n.op})` + (info && info.rule ? `\nrule ${info.rule}` : "");
      grp.append(tip, svgEl("rect", { width: n.w, height: H, rx: 4 }));
      const op = svgEl("text", { class: "op", x: 8, y: 14 });
      op.textContent = n.op;
      const label = svgEl("text", { x: 8, y: 27 });
      label.textContent = n.label;
      grp.append(op, label);
      grp.addEventListener("click", () => { state.node = n.node; showNode(n.node); focusNode(n.node); });
      svg.append(grp);
    }
    body.append(el("div", { cls: "graph-wrap" }, [svg]));
    if (state.fit) fitGraph();
  }
  // Zoom the drawing so that all of it shows in the view (never above 1:1): the wrap's width, and
  // the height left below it in the window.
  function fitGraph() {
    const svg = document.getElementById("graph");
    if (!svg) return;
    const wrap = svg.parentElement;
    const w = Number(svg.dataset.width), h = Number(svg.dataset.height);
    svg.setAttribute("width", 0);  // measure the wrap without the drawing's scrollbars
    svg.setAttribute("height", 0);
    const width = wrap.clientWidth - 2;
    const cap = parseFloat(getComputedStyle(wrap).maxHeight) || Infinity;  // the wrap's own limit
    const height = Math.max(160, Math.min(cap, window.innerHeight - wrap.getBoundingClientRect().top - 18) - 2);
    state.scale = Math.max(0.02, Math.min(1, width / w, height / h));
    svg.setAttribute("width", w * state.scale);
    svg.setAttribute("height", h * state.scale);
  }
  window.addEventListener("resize", () => { if (state.fit && state.tab === "graph") fitGraph(); });

  // -- diffs -------------------------------------------------------------------------------
  function drawUnified(v, body) {
    const pre = el("pre", { cls: "diff", id: "unified" });
    for (const [kind, text] of v.unified) {
      const cls = kind === "+" ? "d-add" : kind === "-" ? "d-del" : kind === "@" ? "d-hunk" : "";
      pre.append(el("div", { cls: cls, text: kind === "@" ? text : (kind || " ") + " " + text }));
    }
    if (!v.unified.length) pre.append(el("div", { cls: "muted", text: "(no structural change)" }));
    body.append(pre);
  }
  function drawSide(v, body) {
    const t = el("table", { cls: "side", id: "side" });
    const tb = el("tbody");
    for (const [ln, lt, rn, rt, kind] of v.side) {
      tb.append(el("tr", { cls: kind === "@" ? "s-hunk" : `s-${kind}` }, [
        el("td", { cls: "ln", text: ln ?? "" }), el("td", { cls: "l", text: lt, title: lt }),
        el("td", { cls: "ln", text: rn ?? "" }), el("td", { cls: "r", text: rt, title: rt }),
      ]));
    }
    t.append(el("colgroup", {}, [el("col", { style: "width:48px" }), el("col"), el("col", { style: "width:48px" }), el("col")]), tb);
    body.append(el("div", { cls: "side-wrap" }, [t]));
  }
  function drawNodes(v, body) {
    const t = el("table", { cls: "nodes", id: "node-list" }, [
      el("thead", {}, [el("tr", {}, ["", "op", "node", "rule", "from TF nodes", "what changed"].map((h) => el("th", { text: h })))]),
    ]);
    const tb = el("tbody");
    const order = { rewritten: 0, added: 1, removed: 2, same: 3 };
    const ids = Object.keys(v.nodes).filter((k) => v.nodes[k].status !== "same")
      .sort((a, b) => order[v.nodes[a].status] - order[v.nodes[b].status]);
    for (const id of ids) {
      const n = v.nodes[id];
      tb.append(el("tr", { "data-node": id, onclick: () => { state.node = id; showNode(id); } }, [
        el("td", {}, [el("span", { cls: `badge b-${n.status}`, text: n.status })]), el("td", { text: n.op }), el("td", { text: n.name }),
        el("td", { text: n.rule || "" }), el("td", { text: n.origin.length > 3 ? `${n.origin.slice(0, 3).join(", ")} … (${n.origin.length})` : n.origin.join(", ") }),
        el("td", { text: (n.why || []).join("; ") }),
      ]));
    }
    t.append(tb);
    body.append(t);
  }

  // -- node details and focus ----------------------------------------------------------------
  function showNode(id) {
    const v = state.pass !== null ? DATA.views[state.pass] : null;
    let n = v && v.nodes[id];
    let where = n ? `in pass ${state.pass}` : "";
    if (!n) {
      const f = DATA.final.find((q) => q.name === id);
      if (!f) return;
      n = { name: f.name, op: f.op, status: "same", rule: f.rule, origin: f.origin, after: f.line, types: [] };
      where = f.pass ? `last changed by pass ${f.pass}` : "unchanged since import";
    }
    const kids = [
      el("h3", { id: "node-name", text: n.name }),
      el("div", {}, [el("span", { cls: `badge b-${n.status}`, text: n.status }), " ", el("b", { text: n.op }), " ", el("span", { cls: "muted", text: where })]),
    ];
    if (n.types && n.types.length) kids.push(el("div", { cls: "k", text: "type" }), el("code", { text: n.types.join(", ") }));
    const rule = n.rule && DATA.rules[n.rule];
    kids.push(el("div", { cls: "k", text: "made by" }), !n.rule
      ? el("div", { cls: "muted", text: "imported from TensorFlow as is" })
      : rule
        ? el("div", {}, [el("span", { text: "rule " }), el("code", { id: "node-rule", text: n.rule }), el("span", { text: ` of pass ${rule.pass}` }),
          rule.doc ? el("div", { text: rule.doc }) : null,
          el("div", { cls: "k", text: "why it fired" }),
          el("div", { text: `${n.rule} matched ` + (n.origin.length === 1 ? `TF node ${n.origin[0]}` : `the ${n.origin.length} TF nodes below`) +
            ` and was the last rule to rewrite this node. The match that fired, reproduced from the model:` }),
          el("pre", { cls: "cmd", id: "node-explain", title: "run this to see the match that fired", text: explainCommand(n.rule, n.name) }),
          DATA.source ? null : el("div", { cls: "note", text: "MODEL: the model this report was made from (the report was written without its path)." })])
        : el("div", {}, [el("span", { text: "pass " }), el("code", { id: "node-rule", text: n.rule })]));
    kids.push(el("div", { cls: "k", text: `TensorFlow nodes it came from (${n.origin.length})` }), el("ul", { id: "node-origin" }, n.origin.map((o) => el("li", {}, [el("code", { text: o })]))));
    if (n.why && n.why.length) kids.push(el("div", { cls: "k", text: "what changed" }), el("div", { text: n.why.join("; ") }));
    if (n.before) kids.push(el("div", { cls: "k", text: "before" }), el("pre", { text: n.before }));
    if (n.after) kids.push(el("div", { cls: "k", text: "after" }), el("pre", { text: n.after }));
    details.replaceChildren(...kids);
  }
  // A word for a POSIX shell, quoted as Python's shlex.quote does.
  function shellQuote(s) {
    if (!s) return "''";
    return /[^\w@%+=:,./-]/.test(s) ? "'" + s.replace(/'/g, "'\"'\"'") + "'" : s;
  }
  function explainCommand(rule, node) {
    return `${DATA.explain} --explain-rule ${shellQuote(rule)} --at ${shellQuote(node)}`;
  }
  function focusNode(id) {
    for (const e of document.querySelectorAll(".focus")) e.classList.remove("focus");
    for (const e of document.querySelectorAll(".d-focus")) e.classList.remove("d-focus");
    const g = document.querySelector(`#graph .node[data-node="${CSS.escape(id)}"]`);
    if (g) { g.classList.add("focus"); g.scrollIntoView({ block: "center", inline: "center" }); }
    const name = "%" + id.replace(/^-/, "");
    for (const line of document.querySelectorAll("#unified div")) {
      const t = line.textContent;
      if (t.includes(name + " ") || t.includes(name + ",") || t.includes(name + ")")) line.classList.add("d-focus");
    }
    const first = document.querySelector(".d-focus");
    if (first && !g) first.scrollIntoView({ block: "center" });
  }

  // -- search ------------------------------------------------------------------------------
  function runSearch(q) {
    q = q.trim().toLowerCase();
    results.replaceChildren();
    if (!q) { results.classList.remove("open"); return; }
    const hits = [];
    for (const p of changedPasses) {
      for (const [id, n] of Object.entries(DATA.views[p.index].nodes)) {
        if (n.status === "same") continue;
        if (n.name.toLowerCase().includes(q) || n.op.toLowerCase().includes(q)) hits.push({ pass: p.index, id, n, label: `pass ${p.index} ${p.name}: ${n.status}` });
      }
    }
    for (const f of DATA.final) {
      if (f.name.toLowerCase().includes(q) || f.op.toLowerCase().includes(q)) hits.push({ pass: null, id: f.name, n: f, label: "final graph" });
    }
    for (const h of hits.slice(0, 200)) {
      results.append(el("div", { cls: "hit", onclick: () => {
        results.classList.remove("open");
        if (h.pass !== null) selectPass(h.pass, state.tab === "nodes" ? "graph" : state.tab, h.id);
        else { state.node = h.id; showNode(h.id); }
      } }, [el("b", { text: h.n.op }), " ", h.n.name, el("span", { cls: "muted", text: `  — ${h.label}` })]));
    }
    if (!hits.length) results.append(el("div", { cls: "none", text: "no node or op matches" }));
    else if (hits.length > 200) results.append(el("div", { cls: "none", text: `${hits.length - 200} more; refine the search` }));
    results.classList.add("open");
  }
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => runSearch(search.value), 120); });
  search.addEventListener("focus", () => { if (search.value) runSearch(search.value); });
  document.addEventListener("click", (e) => { if (!e.target.closest("#search-box")) results.classList.remove("open"); });
  document.addEventListener("keydown", (e) => {
    if (e.target === search) { if (e.key === "Escape") { search.blur(); results.classList.remove("open"); } return; }
    if (e.key === "/") { e.preventDefault(); search.focus(); return; }
    const i = changedPasses.findIndex((p) => p.index === state.pass);
    if (e.key === "j" && i + 1 < changedPasses.length) selectPass(changedPasses[i + 1].index);
    if (e.key === "k" && i > 0) selectPass(changedPasses[i - 1].index);
  });

  // -- start: the pass in the URL, else the one that changed the most --------------------------
  const hash = new URLSearchParams(location.hash.slice(1));
  const start = Number(hash.get("pass")) || DATA.start;
  if (start && DATA.views[start]) selectPass(start, null, hash.get("node"));
  else view.append(el("p", { cls: "muted", text: "No pass changed the graph." }));
})();
