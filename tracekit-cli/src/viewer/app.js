// The tracekit viewer. Everything from the store is inserted with textContent, never as HTML.
"use strict";

const state = { offset: 0, limit: 50, openId: null, selected: null };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "style") node.style.cssText = v; // CSSOM: allowed under the page's CSP
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function query() {
  const p = new URLSearchParams({ limit: state.limit, offset: state.offset });
  const attr = document.getElementById("attr").value.trim();
  if (attr) p.set("attr", attr);
  const since = document.getElementById("since").value;
  if (since) p.set("since", since);
  if (document.getElementById("errors").checked) p.set("errors", "true");
  return p.toString();
}

const ms = (v) => (v < 1 ? `${(v * 1000).toFixed(0)} µs` : v < 1000 ? `${v.toFixed(1)} ms` : `${(v / 1000).toFixed(2)} s`);

async function loadList() {
  const body = await api(`/api/traces?${query()}`);
  const tbody = document.querySelector("#traces tbody");
  tbody.replaceChildren(...body.traces.map((t) => el("tr", { "data-trace": t.trace_id, onclick: () => (location.hash = `#/trace/${t.trace_id}`) },
    el("td", { class: "mono", text: t.trace_id.slice(0, 12) + "…" }),
    el("td", { text: t.conversation_id || "–" }),
    el("td", { text: t.root }),
    el("td", { text: new Date(t.start).toLocaleString() }),
    el("td", { text: ms(t.duration_ms) }),
    el("td", { text: String(t.spans) }),
    el("td", {}, el("span", { class: "badge", text: `${t.tokens} tok` })),
    el("td", {}, el("span", { class: "badge", text: `$${t.cost_usd.toFixed(4)}${t.unpriced_calls ? "+" : ""}` })),
    el("td", {}, t.errors ? el("span", { class: "badge err", text: String(t.errors) }) : ""),
  )));
  document.getElementById("page").textContent = `${body.total ? state.offset + 1 : 0}–${state.offset + body.traces.length} of ${body.total}`;
  document.getElementById("prev").disabled = state.offset === 0;
  document.getElementById("next").disabled = state.offset + body.traces.length >= body.total;
}

function depths(spans) {
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const depth = new Map();
  const of = (s, seen = new Set()) => {
    if (depth.has(s.span_id)) return depth.get(s.span_id);
    const parent = s.parent_span_id && byId.get(s.parent_span_id);
    const d = parent && !seen.has(parent.span_id) ? of(parent, seen.add(s.span_id)) + 1 : 0;
    depth.set(s.span_id, d);
    return d;
  };
  spans.forEach((s) => of(s));
  return { depth, byId };
}

// Tree order: each span after its parent, siblings by start.
function ordered(spans, byId) {
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    const p = s.parent_span_id && byId.get(s.parent_span_id);
    if (p && p !== s) (children.get(p.span_id) || children.set(p.span_id, []).get(p.span_id)).push(s);
    else roots.push(s);
  }
  const out = [];
  const seen = new Set();
  const stack = roots.slice().reverse();
  while (stack.length) {
    const s = stack.pop();
    if (seen.has(s.span_id)) continue;
    seen.add(s.span_id);
    out.push(s);
    stack.push(...(children.get(s.span_id) || []).slice().reverse());
  }
  return out;
}

const nanos = (t) => Date.parse(t) * 1e6 + Number((t.match(/\.(\d+)/) || ["", "0"])[1].padEnd(9, "0").slice(3, 9));

function showDetail(span, parent) {
  const aside = document.getElementById("detail");
  const dl = el("dl");
  const add = (k, v, cls) => dl.append(el("dt", { text: k, class: cls || "" }), el("dd", { text: typeof v === "string" ? v : JSON.stringify(v, null, 2) }));
  add("name", span.span_name);
  add("kind", span.span_kind);
  add("status", span.span_status);
  add("span id", span.span_id);
  add("parent", span.parent_span_id || "–");
  add("duration", span.duration_ms == null ? "open" : `${span.duration_ms} ms`);
  for (const [k, v] of Object.entries(span.attributes || {})) {
    const inherited = parent && parent.attributes && JSON.stringify(parent.attributes[k]) === JSON.stringify(v);
    add(k, v, inherited ? "inherited" : "");
  }
  for (const e of span.events || []) add(`event ${e.name}`, e.attributes || {});
  add("resource", span.resource_attributes || {});
  aside.replaceChildren(el("h3", { text: "Span" }), dl);
}

async function loadTrace(id) {
  const path = /^[0-9a-f]{32}$/.test(id) ? `/api/traces/${id}` : `/api/conversations/${encodeURIComponent(id)}`;
  const body = await api(path);
  const spans = body.spans;
  const { depth, byId } = depths(spans);
  document.getElementById("trace-title").textContent = `Trace ${id}`;
  const s = body.summary;
  document.getElementById("trace-summary").textContent =
    `${spans.length} spans · ${ms(s.wall_ms)} · ${s.llm_calls} LLM calls · ${s.tokens} tokens · $${s.cost_usd.toFixed(4)} · ${s.tool_calls} tools · ${s.errors} errors`;
  const turns = spans.filter((x) => !x.parent_span_id || !byId.get(x.parent_span_id))
    .map((x) => ({ x, input: x.attributes["ai.user.input"] ?? x.attributes["input.value"], output: x.attributes["ai.agent.response"] ?? x.attributes["output.value"] }))
    .filter((t) => t.input !== undefined || t.output !== undefined);
  document.getElementById("turns").replaceChildren(...turns.map((t) => el("div", { class: "turn" },
    el("div", { class: "in", text: `→ ${typeof t.input === "string" ? t.input : JSON.stringify(t.input ?? "")}` }),
    el("div", { class: "out", text: `← ${typeof t.output === "string" ? t.output : JSON.stringify(t.output ?? "")}` }))));
  const start = Math.min(...spans.map((x) => nanos(x.started_at)));
  const end = Math.max(...spans.map((x) => nanos(x.ended_at || x.started_at)));
  const total = Math.max(end - start, 1);
  const rows = ordered(spans, byId).map((x) => {
    const left = ((nanos(x.started_at) - start) / total) * 100;
    const width = Math.max((((nanos(x.ended_at || x.started_at) - nanos(x.started_at)) / total) * 100), 0.2);
    const bar = el("div", { class: `bar ${x.span_kind} ${x.span_status} ${x.ended_at ? "" : "open"}`, style: `left:${left}%;width:${width}%` });
    const row = el("div", { class: "row", "data-span": x.span_id, onclick: () => {
      document.querySelectorAll(".row.selected").forEach((r) => r.classList.remove("selected"));
      row.classList.add("selected");
      state.selected = x.span_id;
      showDetail(x, x.parent_span_id && byId.get(x.parent_span_id));
    } },
      el("div", { class: "name", style: `padding-left:${depth.get(x.span_id) * 1.2}em`, text: `${x.span_status === "ERROR" ? "✗ " : ""}${x.span_name}` }),
      el("div", { class: "track" }, bar));
    if (x.span_id === state.selected) row.classList.add("selected");
    return row;
  });
  document.getElementById("waterfall").replaceChildren(...rows);
}

async function route() {
  const m = location.hash.match(/^#\/trace\/(.+)$/);
  state.openId = m ? decodeURIComponent(m[1]) : null;
  document.getElementById("list-view").hidden = !!state.openId;
  document.getElementById("trace-view").hidden = !state.openId;
  try {
    if (state.openId) await loadTrace(state.openId);
    else await loadList();
  } catch (e) {
    document.getElementById("trace-title").textContent = e.message;
  }
}

document.getElementById("search").addEventListener("submit", (e) => { e.preventDefault(); state.offset = 0; location.hash = "#/"; route(); });
document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadList(); });
document.getElementById("next").addEventListener("click", () => { state.offset += state.limit; loadList(); });
window.addEventListener("hashchange", route);
// Live: new spans appear without a reload.
setInterval(route, 2000);
route();
