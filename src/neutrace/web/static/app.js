// neutrace's page: the cloud, each host's diagram and tables, and walks traced from the form.
// Everything from the server is put into the page as text (textContent) or as SVG parsed by
// DOMParser and stripped of scripts and event handlers: no name from an input file becomes markup.
"use strict";

const state = {
  summary: null, hosts: {}, current: null, wanted: null, view: "flows",
  traced: {}, // host -> SVG text of the diagram with the walk drawn
  matchedFlows: new Set(), matchedRules: new Set(), // keys host|bridge|text, host|ns|table|text
  pending: null, // {kind, host, element, table, text} to highlight once a host is shown
};
const RANK = { delivered: 3, exited: 2, accepted: 1 };

function $(id) { return document.getElementById(id); }

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function getJSON(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

// -- SVG ---------------------------------------------------------------------------------------

function insertSvg(container, text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") { container.replaceChildren(el("p", { class: "error", text: "diagram unavailable" })); return; }
  svg.querySelectorAll("script, foreignObject").forEach((n) => n.remove());
  for (const n of svg.querySelectorAll("*")) {
    for (const a of [...n.attributes]) {
      if (a.name.toLowerCase().startsWith("on") || /^\s*javascript:/i.test(a.value)) n.removeAttribute(a.name);
    }
  }
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  container.replaceChildren(document.importNode(svg, true));
}

async function loadOverview(svgText) {
  const text = svgText || await (await fetch("/api/overview.svg")).text();
  const box = $("overview");
  if (box) insertSvg(box, text);
}

// -- hosts -------------------------------------------------------------------------------------

function hostTabs() {
  const nav = $("host-tabs");
  nav.replaceChildren(...state.summary.hosts.map((h) => el("button", {
    class: h.name === state.current ? "active" : "", dataset: { host: h.name },
    title: [h.management_ip && `management ${h.management_ip}`, h.tunnel_ip && `tunnel ${h.tunnel_ip}`].filter(Boolean).join(", "),
    onclick: () => showHost(h.name),
  }, h.name, state.traced[h.name] ? el("span", { class: "dot", title: "the walk crosses this host" }) : null)));
}

async function showHost(name) {
  state.wanted = name; // the last click wins while a host is still loading
  if (!state.hosts[name]) {
    try { state.hosts[name] = await getJSON(`/api/host?name=${encodeURIComponent(name)}`); }
    catch (err) { showError(err.message); return; }
  }
  if (state.wanted !== name) return;
  state.current = name;
  hostTabs();
  const host = state.hosts[name];
  insertSvg($("diagram"), state.traced[name] || host.svg);
  $("diagram").title = "click: actual size / fit";
  fillSelect($("flow-bridge"), [["", "all bridges"], ...host.bridges.map((b) => [b.name, b.name])]);
  fillSelect($("ipt-ns"), host.namespaces.map((n) => [n.name, `${n.name} (${n.kind})`]));
  const p = state.pending;
  state.pending = null;
  if (p && p.host === name) {
    if (p.kind === "table") { $("flow-bridge").value = p.element; setView("flows"); }
    else { $("ipt-ns").value = p.element; setView("iptables"); }
  }
  tableSelect();
  renderFlows(p && p.kind === "table" ? p : null);
  renderIptables(p && p.kind === "rule" ? p : null);
  renderPorts();
}

function fillSelect(select, options) {
  const keep = select.value;
  select.replaceChildren(...options.map(([v, label]) => el("option", { value: v, text: label })));
  if (options.some(([v]) => v === keep)) select.value = keep;
}

function tableSelect() {
  const host = state.hosts[state.current];
  const bridge = $("flow-bridge").value;
  const tables = new Set();
  for (const b of host.bridges) if (!bridge || b.name === bridge) b.flows.forEach((f) => tables.add(f.table));
  fillSelect($("flow-table"), [["", "all tables"], ...[...tables].sort((a, b) => a - b).map((t) => [String(t), `table ${t}`])]);
}

function setView(view) {
  state.view = view;
  $("diagram").addEventListener("click", () => $("diagram").classList.toggle("actual"));
  for (const b of $("table-tabs").querySelectorAll("button")) b.classList.toggle("active", b.dataset.view === view);
  for (const v of ["flows", "iptables", "ports"]) $(`view-${v}`).hidden = v !== view;
}

function renderFlows(highlight) {
  const host = state.hosts[state.current];
  const bridge = $("flow-bridge").value, table = $("flow-table").value;
  const q = $("flow-search").value.trim().toLowerCase(), onlyMatched = $("flow-matched").checked;
  const rows = [];
  let shown = 0, total = 0, target = null;
  for (const b of host.bridges) {
    if (bridge && b.name !== bridge) continue;
    rows.push(el("tr", { class: "head" }, el("td", { colspan: 2, text: `ovs-ofctl -O OpenFlow13 dump-flows ${b.name}` })));
    for (const f of b.flows) {
      total++;
      const key = `${host.name}|${b.name}|${f.text}`;
      const matched = state.matchedFlows.has(key);
      if (table && String(f.table) !== table) continue;
      if (q && !f.text.toLowerCase().includes(q)) continue;
      if (onlyMatched && !matched) continue;
      shown++;
      const hl = highlight && highlight.element === b.name && highlight.text === f.text;
      const tr = el("tr", { class: [matched ? "matched" : "", hl ? "hl" : ""].join(" ").trim() || null,
                            dataset: { bridge: b.name, table: String(f.table) } },
                    el("td", { class: "n", text: `table ${f.table}` }), el("td", { class: "flow", text: f.text }));
      if (hl) target = tr;
      rows.push(tr);
    }
  }
  $("flows").tBodies[0].replaceChildren(...rows);
  $("flow-count").textContent = `${shown} of ${total} flows`;
  if (target) target.scrollIntoView({ block: "center" });
}

function renderIptables(highlight) {
  const host = state.hosts[state.current];
  const ns = host.namespaces.find((n) => n.name === $("ipt-ns").value);
  const q = $("ipt-search").value.trim().toLowerCase(), onlyMatched = $("ipt-matched").checked;
  const rows = [];
  let target = null, shown = 0;
  for (const line of ns ? ns.iptables : []) {
    const matched = state.matchedRules.has(`${host.name}|${ns.name}|${line.table}|${line.text}`);
    if (q && !line.text.toLowerCase().includes(q)) continue;
    if (onlyMatched && !matched) continue;
    shown++;
    const hl = highlight && highlight.table === line.table && highlight.text === line.text;
    const tr = el("tr", { class: [matched ? "matched" : "", hl ? "hl" : ""].join(" ").trim() || null },
                  el("td", { class: "n", text: line.line }), el("td", { text: line.text }));
    if (hl) target = tr;
    rows.push(tr);
  }
  $("iptables").tBodies[0].replaceChildren(...rows);
  $("ipt-count").textContent = ns ? `${shown} of ${ns.iptables.length} lines (iptables-save in ${ns.name})` : "no iptables here";
  if (target) target.scrollIntoView({ block: "center" });
}

function renderPorts() {
  const host = state.hosts[state.current];
  $("ports").replaceChildren(el("div", { class: "ports" }, host.bridges.map((b) => [
    el("h4", { text: `ovs-ofctl show ${b.name}` }),
    el("table", {}, el("tr", {}, ["ofport", "port", "type", "tag", "peer / remote_ip"].map((h) => el("th", { text: h }))),
       b.ports.map((p) => el("tr", {}, [p.ofport, p.name, p.type, p.tag ?? "", p.peer || p.remote_ip || ""].map((v) => el("td", { text: v }))))),
  ])));
}

// -- the walk ----------------------------------------------------------------------------------

function fates(branch) {
  const out = branch.disposition ? [branch.disposition] : [];
  for (const c of branch.children || []) out.push(...fates(c));
  return out;
}
function rank(branch) { return Math.max(0, ...fates(branch).map((d) => RANK[d.kind] || 0)); }
function tone(branch) { return fates(branch).some((d) => d.success) ? "ok" : "fail"; }
function fateText(d) { return `${d.kind.toUpperCase().replace(/_/g, " ")}: ${d.reason}`; }

function longest(branch, depth) {
  // [depth, disposition] of the failure furthest from the start
  let best = branch.disposition ? [depth + branch.hops.length, branch.disposition] : [-1, null];
  for (const c of branch.children || []) {
    const r = longest(c, depth + branch.hops.length);
    if (r[0] > best[0]) best = r;
  }
  return best;
}

function verdict(name, trace) {
  if (!trace) return el("div", { class: "verdict fail" }, el("div", { class: "name", text: name }), el("div", { class: "head", text: "no one answers: there is no reply" }));
  const all = trace.dispositions;
  const ok = all.filter((d) => d.success).sort((a, b) => (RANK[b.kind] || 0) - (RANK[a.kind] || 0));
  const denied = all.find((d) => d.kind === "denied");
  const main = ok[0] || denied || longest(trace.root, 0)[1] || all[0];
  const where = [main.host, main.element].filter(Boolean).join(" ");
  return el("div", { class: `verdict ${ok.length ? "ok" : "fail"}` },
    el("div", { class: "name", text: `${name} · ${trace.start}` }),
    el("div", { class: "head", text: `${ok.length ? "✔" : "✘"} ${main.kind.toUpperCase().replace(/_/g, " ")} at ${where}` }),
    el("div", { text: main.reason }),
    el("div", { class: "count", text: `${all.length} cop${all.length === 1 ? "y" : "ies"}, ${ok.length} reached a destination` }));
}

// A step a reader does not need, read from its facts as neutrace.render.steps.is_structural
// does (never from its words): a goto_table/resubmit that changed nothing, entering a built-in
// chain, a jump into Neutron's wrapper chains, the patch-port note (the next hop says it).
function structural(step) {
  const fact = step.fact || {};
  switch (fact.type) {
    case "ActionStep": return ["GotoTable", "Resubmit"].includes((fact.action || {}).type) && !(step.changes || []).length;
    case "ChainStep": return fact.policy == null;
    case "RuleStep": return fact.verdict === "jump";
    case "PatchOutput": return true;
    default: return false;
  }
}

function stepItem(step, hop) {
  const pad = "  ".repeat(step.depth || 0);
  // structural steps are shown with "every step", as neutrace trace --verbose shows them
  const quiet = structural(step);
  const li = el("li", { class: `k-${step.kind}${quiet ? " quiet" : ""}`, title: step.kind === "table" ? "show this flow in the table" : step.kind === "rule" ? "show this rule in iptables-save" : null });
  if (step.kind === "table") {
    // as neutrace trace prints it: the table and the matched flow without its cookie/table
    li.append(pad + `table ${step.where}: `, step.detail ? el("span", { class: "flowtext", text: step.detail.replace(/^(cookie=0x[0-9a-f]+, )?(table=\d+, )?/, "") }) : step.text);
  } else {
    li.append(pad + step.text);
    // a learned flow's sentence carries the flow already (neutrace.render.steps.detail_in_text)
    if (step.detail && (step.fact || {}).type !== "LearnStep") li.append(el("span", { class: "detail", text: `  ${step.detail}` }));
  }
  if (step.changes && step.changes.length && step.kind !== "tunnel") {
    li.append(el("span", { class: "chg", text: `  (${step.changes.filter((c) => c.field !== "payload").map((c) => `${c.field}: ${c.before || "none"} → ${c.after || "none"}`).join(", ")})` }));
  }
  if ((step.kind === "table" || step.kind === "rule") && step.detail) {
    li.addEventListener("click", () => {
      const element = step.kind === "table" ? hop.element : (hop.kind === "linux-bridge" ? "<root>" : hop.element);
      state.pending = { kind: step.kind, host: hop.host, element, table: (step.where || "").split("/")[0], text: step.detail };
      showHost(hop.host);
    });
  }
  return li;
}

function packetText(p) {
  const f = (k) => p[k];
  if (p.payload && p.tun_id) return `VXLAN VNI 0x${p.tun_id.toString(16)} outer ${f("nw_src")} → ${f("nw_dst")} (UDP ${p.tp_dst}), carrying ${packetText(p.payload)}`;
  const vlan = p.vlan_tci ? ` vlan ${p.vlan_tci & 0xfff}` : "";
  const proto = { 1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6" }[p.nw_proto] || (p.dl_type === 2054 ? "ARP" : "");
  if (proto === "ARP") return `ARP ${p.arp_spa || ""} → ${p.arp_tpa || ""}${vlan}`;
  const src = p.nw_src || p.ipv6_src || p.dl_src, dst = p.nw_dst || p.ipv6_dst || p.dl_dst;
  const ports = p.nw_proto === 6 || p.nw_proto === 17 ? `:${p.tp_src || 0} → ${dst}:${p.tp_dst || 0}` : ` → ${dst}`;
  return `${proto} ${src}${ports}${vlan}`;
}

function hopBlock(hop, number, branchTone) {
  const kind = { "ovs-bridge": "OVS bridge", "linux-bridge": "Linux bridge", namespace: "namespace", vm: "VM", underlay: "tunnel network", segment: "physical segment", external: "outside the cloud" }[hop.kind] || hop.kind;
  const head = el("div", { class: "hop-head", title: hop.host ? `show ${hop.host}` : null, onclick: () => hop.host && showHost(hop.host) },
    el("span", { class: "num", text: `${number}.` }), `${hop.host || "outside"}: ${hop.element} `, el("span", { class: "kind", text: `(${kind})` }),
    hop.in_port ? el("span", { class: "kind", text: ` in ${hop.in_port}` }) : null,
    el("span", { class: "pkt", text: packetText(hop.packet) }));
  const steps = el("ul", { class: "steps" }, hop.steps.map((s) => stepItem(s, hop)));
  const out = hop.out_port ? el("div", { class: "out", text: `→ out ${hop.out_port}` + (hop.kind !== "underlay" && hop.changes && hop.changes.length ? `  (${hop.changes.filter((c) => c.field !== "payload").map((c) => `${c.field}: ${c.before || "none"} → ${c.after || "none"}`).join(", ")})` : "") }) : null;
  return el("div", { class: `hop ${branchTone}`, dataset: { host: hop.host, element: hop.element } }, head, steps, out);
}

function branchBlock(branch, prefix, start, container) {
  let n = start;
  const t = tone(branch);
  for (const hop of branch.hops) container.append(hopBlock(hop, `${prefix}${++n}`, t));
  if (branch.disposition) container.append(el("div", { class: `fate ${branch.disposition.success ? "ok" : "fail"}`, text: `⇒ ${fateText(branch.disposition)}` }));
  const children = branch.children || [];
  const best = Math.max(0, ...children.map(rank));
  const main = best > 0 ? children.find((c) => rank(c) === best) : null;
  const base = n ? `${prefix}${n}.` : prefix;
  children.forEach((child, i) => {
    if (child === main) return;
    const f = fates(child);
    const details = el("details", { class: "copy" }, el("summary", {}, `${base}${i + 1}) ${child.label} `,
      el("span", { class: `fate-inline ${tone(child)}`, text: f.length === 1 ? `— ${fateText(f[0]).slice(0, 140)}` : `— ${f.length} copies, ${f.filter((d) => d.success).length} reached a destination` })));
    branchBlock(child, `${base}${i + 1}.`, 0, details);
    container.append(details);
  });
  if (main) {
    container.append(el("div", { class: "kind", text: `${base}${children.indexOf(main) + 1}) ${main.label}: continues at ${prefix}${n + 1}` }));
    branchBlock(main, prefix, n, container);
  }
}

function matchSteps(branch) {
  for (const hop of branch.hops) {
    for (const s of hop.steps) {
      if (!s.detail) continue;
      if (s.kind === "table") state.matchedFlows.add(`${hop.host}|${hop.element}|${s.detail}`);
      if (s.kind === "rule") {
        const ns = hop.kind === "linux-bridge" ? "<root>" : hop.element;
        state.matchedRules.add(`${hop.host}|${ns}|${(s.where || "").split("/")[0]}|${s.detail}`);
      }
    }
  }
  (branch.children || []).forEach(matchSteps);
}

async function trace(event) {
  event.preventDefault();
  const form = $("trace-form");
  const params = new URLSearchParams(new FormData(form));
  $("f-go").disabled = true;
  $("f-go").textContent = "Tracing…";
  showError("");
  try {
    const data = await getJSON(`/api/trace?${params}`);
    state.traced = data.diagrams;
    state.matchedFlows.clear();
    state.matchedRules.clear();
    const verdicts = [], walk = [];
    for (const [name, t] of Object.entries(data.traces)) {
      verdicts.push(verdict(name, t));
      if (!t) continue;
      matchSteps(t.root);
      const section = el("section", { class: "walk-one", dataset: { walk: name } }, el("h3", { text: `${name}: ${t.start}` }));
      branchBlock(t.root, "", 0, section);
      walk.push(section);
    }
    const every = el("label", { class: "check every" }, el("input", { type: "checkbox", id: "every-step",
      onchange: (e) => document.body.classList.toggle("all-steps", e.target.checked) }), " every step (goto_table, chain jumps)");
    verdicts.push(every);
    $("verdicts").replaceChildren(...verdicts);
    const overview = el("div", { id: "overview", class: "overview" });
    $("walk").replaceChildren(...walk, el("h2", { text: "The cloud" }), overview);
    await loadOverview(data.overview);
    const first = data.traces.request && data.traces.request.root.hops.find((h) => h.host);
    await showHost(first ? first.host : state.current);
    document.body.dataset.traced = "1";
  } catch (err) {
    showError(err.message);
  } finally {
    $("f-go").disabled = false;
    $("f-go").textContent = "Trace";
  }
}

async function start() {
  try {
    state.summary = await getJSON("/api/cloud");
  } catch (err) { showError(err.message); return; }
  $("cloud-name").textContent = state.summary.name;
  document.title = `neutrace · ${state.summary.name}`;
  $("starts").replaceChildren(...state.summary.starts.map((s) => el("option", { value: s })));
  $("addresses").replaceChildren(...state.summary.addresses.map((s) => el("option", { value: s })));
  $("trace-form").addEventListener("submit", trace);
  $("f-proto").addEventListener("change", () => { $("f-dport").disabled = $("f-proto").value === "icmp"; if ($("f-dport").disabled) $("f-dport").value = ""; });
  $("diagram").addEventListener("click", () => $("diagram").classList.toggle("actual"));
  for (const b of $("table-tabs").querySelectorAll("button")) b.addEventListener("click", () => setView(b.dataset.view));
  $("flow-bridge").addEventListener("change", () => { tableSelect(); renderFlows(); });
  for (const id of ["flow-table", "flow-search", "flow-matched"]) $(id).addEventListener("input", () => renderFlows());
  for (const id of ["ipt-ns", "ipt-search", "ipt-matched"]) $(id).addEventListener("input", () => renderIptables());
  await loadOverview();
  if (state.summary.hosts.length) await showHost(state.summary.hosts[0].name);
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", start);
