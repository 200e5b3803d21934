// The tracekit viewer: routes (deep links), the trace and conversation lists, a
// conversation's turns, keyboard and live refresh. Read-only; the API is serve.rs's.
import { el, api, duration, tokens, cost, when, text, millis, spanMillis } from "./dom.js";
import { renderTrace, view } from "./trace.js";
import { renderMessages, spanConversation } from "./messages.js";

const main = document.getElementById("main");
// What the keyboard acts on: the rows of a list, or the trace view.
const page = { kind: null, focus: -1, sort: null, refresh: null };

// Routes: #/?filters, #/conversations?after=, #/conversation/ID, #/trace/ID[/span/SPAN].
function parseHash() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  let m;
  if ((m = path.match(/^\/trace\/([^/]+)(?:\/span\/([^/]+))?$/))) return { kind: "trace", id: decodeURIComponent(m[1]), span: m[2] && decodeURIComponent(m[2]), params };
  if ((m = path.match(/^\/conversation\/(.+)$/))) return { kind: "conversation", id: decodeURIComponent(m[1]), params };
  if (path === "/conversations") return { kind: "conversations", params };
  return { kind: "traces", params };
}

const traceLink = (id) => `#/trace/${encodeURIComponent(id)}`;
const conversationLink = (id) => `#/conversation/${encodeURIComponent(id)}`;

function navCurrent(kind) {
  document.getElementById("nav-traces").classList.toggle("current", kind === "traces" || kind === "trace");
  document.getElementById("nav-conversations").classList.toggle("current", kind === "conversations" || kind === "conversation");
}

// The filter form mirrors the list's URL.
const FILTERS = ["attr", "name", "since"];
function formFrom(params) {
  for (const k of FILTERS) document.getElementById(k).value = params.get(k) || "";
  document.getElementById("errors").checked = params.get("errors") === "true";
}
function formParams() {
  const p = new URLSearchParams();
  for (const k of FILTERS) { const v = document.getElementById(k).value.trim(); if (v) p.set(k, v); }
  if (document.getElementById("errors").checked) p.set("errors", "true");
  return p;
}

function table(id, columns, rows, onOpen) {
  const head = el("tr", {}, ...columns.map((c) => {
    const sorted = page.sort && page.sort.key === c.key ? ` sorted-${page.sort.dir}` : "";
    return el("th", { class: `${c.num ? "num" : ""}${c.sort ? " sortable" : ""}${sorted}`, title: c.sort ? "sort" : null, text: c.title,
      onclick: c.sort ? () => c.sort() : null });
  }));
  const body = el("tbody", {}, ...rows.map((r, i) => el("tr", { class: i === page.focus ? "focused" : null, "data-id": r.id, onclick: () => onOpen(r) },
    ...columns.map((c) => { const v = c.cell(r); return el("td", { class: c.num ? "num" : null }, v); }))));
  return el("table", { id }, el("thead", {}, head), body);
}

// Sorts a page's rows by a column, client-side; the start column asks the server instead.
function sortRows(rows, columns) {
  if (!page.sort) return rows;
  const column = columns.find((c) => c.key === page.sort.key);
  if (!column || !column.value) return rows;
  const sign = page.sort.dir === "asc" ? 1 : -1;
  return rows.slice().sort((a, b) => {
    const x = column.value(a), y = column.value(b);
    return (x < y ? -1 : x > y ? 1 : 0) * sign;
  });
}
function sorter(key, rerender) {
  return () => {
    page.sort = page.sort && page.sort.key === key && page.sort.dir === "desc" ? { key, dir: "asc" } : { key, dir: "desc" };
    rerender();
  };
}

async function tracesPage(route) {
  formFrom(route.params);
  const q = new URLSearchParams({ limit: "50" });
  for (const k of [...FILTERS, "errors", "order", "after"]) if (route.params.get(k)) q.set(k, route.params.get(k));
  const body = await api(`/api/traces?${q}`);
  const oldest = route.params.get("order") === "oldest";
  const rows = body.traces.map((t) => ({ ...t, id: t.trace_id }));
  const rerender = () => render();
  const columns = [
    { title: "Trace", cell: (t) => el("a", { class: "mono", href: traceLink(t.trace_id), text: `${t.trace_id.slice(0, 12)}…` }) },
    { title: "Conversation", cell: (t) => (t.conversation_id ? el("a", { href: conversationLink(t.conversation_id), onclick: (e) => e.stopPropagation(), text: t.conversation_id }) : "–") },
    { title: "Root", cell: (t) => t.root },
    { title: oldest ? "Start ▲" : "Start ▼", key: "start", cell: (t) => when(t.start),
      sort: () => { const p = new URLSearchParams(route.params); p.delete("after"); if (oldest) p.delete("order"); else p.set("order", "oldest"); location.hash = `#/?${p}`; } },
    { title: "Duration", key: "duration", num: true, value: (t) => t.duration_ms, cell: (t) => duration(t.duration_ms) },
    { title: "Spans", key: "spans", num: true, value: (t) => t.spans, cell: (t) => String(t.spans) },
    { title: "LLM calls", key: "llm", num: true, value: (t) => t.llm_calls, cell: (t) => String(t.llm_calls) },
    { title: "Tokens", key: "tokens", num: true, value: (t) => t.tokens, cell: (t) => tokens(t.tokens) },
    { title: "Cost", key: "cost", num: true, value: (t) => t.cost_usd, cell: (t) => cost(t.cost_usd, t.unpriced_calls) },
    { title: "Errors", key: "errors", num: true, value: (t) => t.errors, cell: (t) => (t.errors ? el("span", { class: "badge err", text: String(t.errors) }) : "") },
  ];
  for (const c of columns) if (c.value) c.sort = sorter(c.key, rerender);
  function render() {
    const sorted = sortRows(rows, columns);
    const pager = el("div", { class: "pager" },
      el("button", { text: "⇤ Newest", disabled: !route.params.get("after"), onclick: () => { const p = new URLSearchParams(route.params); p.delete("after"); location.hash = `#/?${p}`; } }),
      el("button", { id: "next", text: "Older ›", disabled: !body.next, onclick: () => { const p = new URLSearchParams(route.params); p.set("after", body.next); location.hash = `#/?${p}`; } }),
      el("span", { class: "muted", text: `${rows.length} traces on this page` }));
    main.replaceChildren(el("h2", { text: "Traces" }),
      rows.length ? table("traces", columns, sorted, (t) => (location.hash = traceLink(t.trace_id))) : el("p", { class: "empty", text: "No traces match." }),
      pager);
  }
  render();
  // Live: the first page follows new traces; a later page stays where it is.
  page.refresh = route.params.get("after") ? null : async () => {
    const fresh = await api(`/api/traces?${q}`);
    if (JSON.stringify(fresh.traces) !== JSON.stringify(body.traces)) {
      body.traces = fresh.traces; body.next = fresh.next;
      rows.splice(0, rows.length, ...fresh.traces.map((t) => ({ ...t, id: t.trace_id })));
      render();
    }
  };
}

async function conversationsPage(route) {
  const q = new URLSearchParams({ limit: "30" });
  if (route.params.get("after")) q.set("after", route.params.get("after"));
  const body = await api(`/api/conversations?${q}`);
  const rows = body.conversations.map((c) => ({ ...c, id: c.conversation_id }));
  const columns = [
    { title: "Conversation", cell: (c) => el("a", { href: conversationLink(c.conversation_id), text: c.conversation_id }) },
    { title: "Turns", key: "turns", num: true, value: (c) => c.turns, cell: (c) => String(c.turns) },
    { title: "Last turn", key: "last", value: (c) => millis(c.last), cell: (c) => when(c.last) },
    { title: "Time", key: "duration", num: true, value: (c) => c.duration_ms, cell: (c) => duration(c.duration_ms) },
    { title: "LLM calls", key: "llm", num: true, value: (c) => c.llm_calls, cell: (c) => String(c.llm_calls) },
    { title: "Tools", key: "tools", num: true, value: (c) => c.tool_calls, cell: (c) => String(c.tool_calls) },
    { title: "Tokens", key: "tokens", num: true, value: (c) => c.tokens, cell: (c) => tokens(c.tokens) },
    { title: "Cost", key: "cost", num: true, value: (c) => c.cost_usd, cell: (c) => cost(c.cost_usd, c.unpriced_calls) },
    { title: "Errors", key: "errors", num: true, value: (c) => c.errors, cell: (c) => (c.errors ? el("span", { class: "badge err", text: String(c.errors) }) : "") },
  ];
  const render = () => main.replaceChildren(el("h2", { text: "Conversations" }),
    rows.length ? table("conversations", columns, sortRows(rows, columns), (c) => (location.hash = conversationLink(c.conversation_id))) : el("p", { class: "empty", text: "No conversations yet: spans with ai.conversation.id appear here." }),
    el("div", { class: "pager" },
      el("button", { text: "⇤ Latest", disabled: !route.params.get("after"), onclick: () => (location.hash = "#/conversations") }),
      el("button", { id: "next", text: "Older ›", disabled: !body.next, onclick: () => (location.hash = `#/conversations?after=${encodeURIComponent(body.next)}`) })));
  for (const c of columns) if (c.value) c.sort = sorter(c.key, render);
  render();
  page.refresh = null;
}

const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;

// The summary chips of a trace or conversation.
function chips(s, extra) {
  return el("div", { class: "chips" }, ...(extra || []),
    el("span", { class: "badge", text: duration(s.wall_ms ?? s.duration_ms) }),
    el("span", { class: "badge role-llm", text: count(s.llm_calls, "LLM call") }),
    el("span", { class: "badge", text: `${tokens(s.tokens)} tokens` }),
    el("span", { class: "badge", text: cost(s.cost_usd, s.unpriced_calls) }),
    el("span", { class: "badge role-tool", text: count(s.tool_calls, "tool call") }),
    s.errors ? el("span", { class: "badge err", text: count(s.errors, "error") }) : el("span", { class: "badge", text: "no errors" }));
}

async function tracePage(route) {
  const path = /^[0-9a-f]{32}$/.test(route.id) ? `/api/traces/${route.id}` : `/api/conversations/${encodeURIComponent(route.id)}`;
  const body = await api(path);
  const rootSpan = body.spans.find((s) => !s.parent_span_id) || body.spans[0];
  const conversationId = rootSpan && rootSpan.attributes["ai.conversation.id"];
  const header = el("div", {},
    el("h2", {}, el("span", { text: `${rootSpan ? rootSpan.span_name : "Trace"} ` }), el("span", { class: "mono muted", text: route.id })),
    chips(body.summary, [conversationId ? el("a", { class: "badge", href: conversationLink(conversationId), text: `conversation ${text(conversationId)}` }) : null,
      el("span", { class: "badge", text: count(body.spans.length, "span") })]));
  const holder = el("div");
  main.replaceChildren(header, holder);
  const key = `trace:${route.id}`;
  const onSelect = (span) => history.replaceState(null, "", `${traceLink(route.id)}/span/${encodeURIComponent(span)}`);
  renderTrace(holder, body, key, onSelect, route.span);
  let seen = body.spans.length;
  page.refresh = async () => {
    const fresh = await api(path);
    if (fresh.spans.length !== seen) { seen = fresh.spans.length; renderTrace(holder, fresh, key, onSelect); }
  };
}

// A conversation: its turns oldest first, each with the user's input, what the agent did
// (LLM and tool calls), its answer, and a link to the turn's trace.
async function conversationPage(route) {
  const body = await api(`/api/conversations/${encodeURIComponent(route.id)}`);
  const byTrace = new Map();
  for (const s of body.spans) (byTrace.get(s.trace_id) || byTrace.set(s.trace_id, []).get(s.trace_id)).push(s);
  const turns = body.turns.map((t) => {
    const spans = (byTrace.get(t.trace_id) || []).slice().sort((a, b) => millis(a.started_at) - millis(b.started_at));
    const ids = new Set(spans.map((s) => s.span_id));
    const root = spans.find((s) => !s.parent_span_id || !ids.has(s.parent_span_id)) || spans[0];
    const a = (root && root.attributes) || {};
    const input = a["ai.user.input"] ?? a["input.value"];
    const output = a["ai.agent.response"] ?? a["output.value"];
    const steps = spans.filter((s) => s !== root && (s.role === "llm" || s.role === "tool" || s.span_status === "ERROR")).map((s) => {
      const sa = s.attributes;
      if (s.role === "llm") {
        const model = sa["gen_ai.response.model"] ?? sa["gen_ai.request.model"] ?? sa["ai.llm.request.model.id"] ?? "";
        return el("div", { class: "role-llm" }, el("span", { class: "dot", style: "display:inline-block;margin-right:.4em" }),
          el("a", { href: `${traceLink(t.trace_id)}/span/${s.span_id}`, text: `LLM ${text(model)}` }),
          el("span", { class: "muted", text: ` · ${duration(spanMillis(s))} · ${tokens((s.tokens_in || 0) + (s.tokens_out || 0))} tokens${s.priced ? ` · ${cost(s.cost_usd || 0)}` : ""}` }),
          s.span_status === "ERROR" ? el("span", { class: "mark-error", text: " ✗ failed" }) : null);
      }
      const call = spanConversation(s).flatMap((m) => m.parts);
      const args = call.find((p) => p.kind === "call");
      const result = call.find((p) => p.kind === "result");
      return el("div", { class: s.role === "tool" ? "role-tool" : "" }, el("span", { class: "dot", style: "display:inline-block;margin-right:.4em" }),
        el("a", { href: `${traceLink(t.trace_id)}/span/${s.span_id}`, text: s.role === "tool" ? `tool ${text(s.attributes["gen_ai.tool.name"] ?? s.attributes["ai.tool.name"] ?? s.span_name)}` : s.span_name }),
        args ? el("span", { class: "mono", text: ` ${text(args.args)}` }) : null,
        result ? el("span", { class: "mono muted", text: ` → ${text(result.result)}` }) : null,
        el("span", { class: "muted", text: ` · ${duration(spanMillis(s))}` }),
        s.span_status === "ERROR" ? el("span", { class: "mark-error", text: " ✗ failed" }) : null);
    });
    return el("div", { class: "turn", "data-id": t.trace_id },
      el("div", { class: "muted" }, el("span", { text: `${when(t.start)} · ` }), el("a", { href: traceLink(t.trace_id), text: "open trace →" })),
      chips({ ...t, wall_ms: t.duration_ms }),
      input !== undefined ? renderMessages([{ role: "user", parts: [{ kind: "text", text: text(input) }] }]) : null,
      steps.length ? el("div", { class: "steps" }, ...steps) : null,
      output !== undefined ? renderMessages([{ role: "assistant", parts: [{ kind: "text", text: text(output) }] }]) : null);
  });
  main.replaceChildren(el("h2", {}, el("span", { text: "Conversation " }), el("span", { class: "mono", text: route.id })),
    chips(body.conversation, [el("span", { class: "badge", text: count(body.conversation.turns, "turn") })]),
    el("div", { id: "turns" }, ...turns));
  let seen = body.spans.length;
  page.refresh = async () => {
    const fresh = await api(`/api/conversations/${encodeURIComponent(route.id)}`);
    if (fresh.spans.length !== seen) { seen = fresh.spans.length; conversationPage(route); }
  };
}

async function route() {
  const r = parseHash();
  if (page.kind !== r.kind || r.kind === "trace") page.focus = -1;
  if (page.kind !== r.kind) page.sort = null;
  page.kind = r.kind;
  page.refresh = null;
  navCurrent(r.kind);
  try {
    if (r.kind === "trace") await tracePage(r);
    else if (r.kind === "conversation") await conversationPage(r);
    else if (r.kind === "conversations") await conversationsPage(r);
    else await tracesPage(r);
  } catch (e) {
    main.replaceChildren(el("p", { class: "error-text", id: "problem", text: e.message }));
  }
}

function moveFocus(delta) {
  const rows = [...main.querySelectorAll("tbody tr, .turn")];
  if (!rows.length) return;
  page.focus = Math.min(Math.max(page.focus + delta, 0), rows.length - 1);
  rows.forEach((r, i) => r.classList.toggle("focused", i === page.focus));
  rows[page.focus].scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (e) => {
  if (e.target.closest && e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
  const help = document.getElementById("help");
  if (e.key === "?") { help.open ? help.close() : help.showModal(); e.preventDefault(); return; }
  if (page.kind === "trace" && view.keys && view.keys(e.key)) { e.preventDefault(); return; }
  switch (e.key) {
    case "j": case "ArrowDown": moveFocus(1); break;
    case "k": case "ArrowUp": moveFocus(-1); break;
    case "Enter": {
      const rows = [...main.querySelectorAll("tbody tr, .turn")];
      const row = rows[page.focus];
      if (!row) return;
      if (page.kind === "conversation") location.hash = traceLink(row.dataset.id); else row.click();
      break;
    }
    case "Escape": location.hash = page.kind === "conversation" ? "#/conversations" : "#/"; break;
    case "/": document.getElementById("attr").focus(); break;
    case "t": location.hash = "#/"; break;
    case "c": location.hash = "#/conversations"; break;
    default: return;
  }
  e.preventDefault();
});

document.getElementById("search").addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#/?${formParams()}`; });
document.getElementById("help-button").addEventListener("click", () => document.getElementById("help").showModal());
window.addEventListener("hashchange", () => {
  // Selecting a span rewrites the URL without a new route.
  route();
});
// With `serve --otlp`: what the receivers took and refused, in the header.
async function collectorStatus() {
  const badge = document.getElementById("collector");
  const { otlp } = await api("/api/collector");
  if (!otlp) { badge.hidden = true; return; }
  const s = otlp.stats;
  const refused = s.refused_unauthorized + s.refused_malformed + s.refused_too_large + s.refused_unsupported + s.refused_busy;
  badge.hidden = false;
  badge.classList.toggle("warn", refused > 0 || s.spans_rejected > 0 || otlp.store.sink_failures > 0);
  badge.textContent = `OTLP in: ${s.spans_stored.toLocaleString()} span${s.spans_stored === 1 ? "" : "s"}` +
    (refused ? ` · ${refused.toLocaleString()} refused` : "") +
    (s.spans_rejected ? ` · ${s.spans_rejected.toLocaleString()} rejected` : "");
  badge.title = [`receiving on ${otlp.listening.join(", ")}`,
    ...Object.entries(s).map(([k, v]) => `${k.replaceAll("_", " ")}: ${v}`),
    ...Object.entries(otlp.store).map(([k, v]) => `store ${k.replaceAll("_", " ")}: ${v}`)].join("\n");
}

setInterval(() => {
  if (document.hidden) return;
  if (page.refresh) page.refresh().catch(() => {});
  collectorStatus().catch(() => {});
}, 2000);
collectorStatus().catch(() => {});
route();
