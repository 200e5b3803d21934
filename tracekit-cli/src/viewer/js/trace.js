// One trace (or a conversation's traces): a waterfall with a time axis, a minimap to zoom
// with, collapsible subtrees, and the selected span's detail.
import { el, duration, tokens, cost, millis, spanMillis, text, structured } from "./dom.js";
import { jsonTree } from "./json.js";
import { spanConversation, renderMessages } from "./messages.js";

// The trace view's state lives across live refreshes: what is collapsed, selected, zoomed.
export const view = { key: null, collapsed: new Set(), selected: null, zoom: null, spans: [], visible: [] };

const cancelled = (s) => s.attributes && s.attributes.cancelled === true;
const failed = (s) => s.span_status === "ERROR";

// Spans in tree order (each after its parent, siblings by start), with depth and children.
function tree(spans) {
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    const p = s.parent_span_id && byId.get(s.parent_span_id);
    if (p && p !== s) (children.get(p.span_id) || children.set(p.span_id, []).get(p.span_id)).push(s);
    else roots.push(s);
  }
  const byStart = (a, b) => a._start - b._start;
  roots.sort(byStart);
  for (const list of children.values()) list.sort(byStart);
  const out = [];
  const seen = new Set();
  const stack = roots.slice().reverse().map((s) => [s, 0]);
  while (stack.length) {
    const [s, depth] = stack.pop();
    if (seen.has(s.span_id)) continue;
    seen.add(s.span_id);
    s._depth = depth;
    s._children = children.get(s.span_id) || [];
    out.push(s);
    for (const c of s._children.slice().reverse()) stack.push([c, depth + 1]);
  }
  return { ordered: out, byId };
}

// Tick marks at 1, 2 or 5 × 10^k milliseconds, about eight across the window.
function ticks(from, to) {
  const span = Math.max(to - from, 1e-6);
  const raw = span / 8;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
  const out = [];
  for (let t = Math.ceil(from / step) * step; t <= to + step * 1e-9; t += step) out.push(t);
  return out;
}

// An evaluation result (or feedback) as `relevance = 0.92 relevant`.
export function evaluationText(s) {
  const a = s.attributes || {};
  const score = a["gen_ai.evaluation.score.value"];
  const label = a["gen_ai.evaluation.score.label"];
  return [`${text(a["gen_ai.evaluation.name"] ?? s.span_name)} =`, score !== undefined ? String(score) : null, label !== undefined ? text(label) : null].filter(Boolean).join(" ");
}

function label(s) {
  if (s.role === "evaluation") return evaluationText(s);
  const parts = [duration(spanMillis(s))];
  if (s.role === "llm") {
    parts.push(`${tokens((s.tokens_in || 0) + (s.tokens_out || 0))} tok`);
    if (s.priced) parts.push(cost(s.cost_usd || 0));
  }
  return parts.join(" · ");
}

export function renderTrace(root, body, key, onSelect, initial) {
  if (view.key !== key) Object.assign(view, { key, collapsed: new Set(), selected: null, zoom: null });
  if (initial) view.selected = initial;
  const spans = body.spans;
  for (const s of spans) {
    s._start = millis(s.started_at);
    s._end = s.ended_at ? millis(s.ended_at) : s._start;
  }
  const { ordered, byId } = tree(spans);
  view.spans = ordered;
  view.byId = byId;
  const t0 = Math.min(...spans.map((s) => s._start));
  const t1 = Math.max(...spans.map((s) => s._end));
  view.t0 = t0;
  view.total = Math.max(t1 - t0, 1e-3);

  const minimap = el("div", { class: "minimap", title: "drag to zoom; double-click for the whole trace" });
  const canvas = el("canvas");
  const windowBox = el("div", { class: "window" });
  minimap.append(canvas, windowBox);
  const axis = el("div", { class: "axis", title: "drag to zoom" }, el("div", { class: "muted", style: "padding-left:.5em;font-size:11px;line-height:1.8em", text: `${spans.length} spans` }), el("div", { class: "ticks" }));
  const rows = el("div", { class: "rows" });
  const waterfall = el("div", { class: "waterfall" }, axis, rows);
  const reset = el("button", { text: "Whole trace", title: "0", onclick: () => { view.zoom = null; draw(); } });
  const toolbar = el("div", { class: "toolbar" }, reset,
    el("button", { text: "Expand all", onclick: () => { view.collapsed.clear(); draw(); } }),
    el("button", { text: "Collapse all", onclick: () => { for (const s of ordered) if (s._children.length) view.collapsed.add(s.span_id); draw(); } }),
    el("span", { class: "muted", text: "j/k move · ←/→ fold · z zoom · ? keys" }));
  const detail = el("aside", { class: "detail" });
  root.replaceChildren(el("div", { class: "trace-layout" }, el("div", {}, toolbar, minimap, waterfall), detail));

  // Dragging across the minimap or the axis picks the window to show.
  const drag = (area, toTime) => {
    let from = null;
    area.addEventListener("mousedown", (e) => { from = toTime(e); e.preventDefault(); });
    area.addEventListener("mouseup", (e) => {
      if (from === null) return;
      const to = toTime(e);
      if (Math.abs(to - from) > view.total / 500) view.zoom = [Math.min(from, to), Math.max(from, to)];
      from = null;
      draw();
    });
  };
  const fraction = (e, node) => {
    const r = node.getBoundingClientRect();
    return Math.min(Math.max((e.clientX - r.left) / r.width, 0), 1);
  };
  drag(minimap, (e) => fraction(e, minimap) * view.total);
  drag(axis.lastChild, (e) => { const [a, b] = view.zoom || [0, view.total]; return a + fraction(e, axis.lastChild) * (b - a); });
  minimap.addEventListener("dblclick", () => { view.zoom = null; draw(); });

  function hiddenBy(s) {
    for (let p = s.parent_span_id && byId.get(s.parent_span_id); p; p = p.parent_span_id && byId.get(p.parent_span_id)) {
      if (view.collapsed.has(p.span_id)) return true;
      if (p.parent_span_id === p.span_id) break;
    }
    return false;
  }
  const descendants = (s) => s._children.reduce((n, c) => n + 1 + descendants(c), 0);

  function drawMinimap() {
    const w = minimap.clientWidth || 800, h = minimap.clientHeight || 48;
    canvas.width = w * devicePixelRatio; canvas.height = h * devicePixelRatio;
    const g = canvas.getContext("2d");
    if (!g) return;
    g.scale(devicePixelRatio, devicePixelRatio);
    const css = getComputedStyle(document.documentElement);
    const colour = (s) => css.getPropertyValue(failed(s) ? "--error" : `--${s.role || "other"}`).trim() || "#60a5fa";
    const rowH = Math.max(Math.min(h / ordered.length, 4), 0.5);
    ordered.forEach((s, i) => {
      g.fillStyle = colour(s);
      const x = ((s._start - t0) / view.total) * w;
      g.fillRect(x, (i / ordered.length) * h, Math.max(((s._end - s._start) / view.total) * w, 1), Math.max(rowH - 0.3, 0.5));
    });
    const [a, b] = view.zoom || [0, view.total];
    windowBox.style.left = `${(a / view.total) * 100}%`;
    windowBox.style.width = `${Math.max(((b - a) / view.total) * 100, 0.3)}%`;
    windowBox.hidden = !view.zoom;
  }

  function draw() {
    reset.disabled = !view.zoom;
    const [a, b] = view.zoom || [0, view.total];
    const width = Math.max(b - a, 1e-6);
    const pos = (t) => ((t - t0 - a) / width) * 100;
    const marks = ticks(a, b);
    axis.lastChild.replaceChildren(...marks.map((t) => el("div", { class: "tick", style: `left:${((t - a) / width) * 100}%`, text: duration(t) })));
    view.visible = ordered.filter((s) => !hiddenBy(s));
    const grid = el("div", { style: "position:absolute;inset:0 0 0 var(--name-width);pointer-events:none" },
      ...marks.map((t) => el("div", { class: "gridline", style: `left:${((t - a) / width) * 100}%` })));
    rows.replaceChildren(grid, ...view.visible.map((s) => {
      const left = pos(s._start);
      const right = pos(s._end);
      const w = Math.max(right - left, 0);
      const classes = ["bar", `role-${s.role || "other"}`, failed(s) && "error", cancelled(s) && "cancelled"].filter(Boolean).join(" ");
      const bar = el("div", { class: classes, style: `left:${left}%;width:${w}%` });
      // The label sits after the bar, or before it when the bar ends near the right edge.
      const text = label(s);
      const barLabel = right > 75
        ? el("div", { class: "bar-label", style: `right:${Math.max(100 - left, 0) + 0.5}%`, text })
        : el("div", { class: "bar-label", style: `left:${Math.max(right, 0) + 0.5}%`, text });
      const hasChildren = s._children.length > 0;
      const folded = view.collapsed.has(s.span_id);
      const toggle = el("span", { class: `toggle${hasChildren ? "" : " leaf"}`, text: folded ? "▸" : "▾", title: folded ? "expand (→)" : "collapse (←)",
        onclick: (e) => { e.stopPropagation(); fold(s, !folded); } });
      const name = el("div", { class: `name role-${s.role || "other"}`, style: `padding-left:${s._depth * 1.1}em`, title: s.span_name },
        toggle, el("span", { class: "dot" }),
        failed(s) ? el("span", { class: "mark-error", text: "✗", title: "failed" }) : null,
        cancelled(s) ? el("span", { class: "mark-cancelled", text: "⊘", title: "cancelled" }) : null,
        el("span", { class: "label", text: s.span_name }),
        folded ? el("span", { class: "hidden-count", text: `+${descendants(s)}` }) : null);
      const row = el("div", { class: `row${s.span_id === view.selected ? " selected" : ""}`, "data-span": s.span_id, onclick: () => select(s.span_id) },
        name, el("div", { class: "track" }, bar, barLabel));
      return row;
    }));
    drawMinimap();
    const chosen = view.selected && byId.get(view.selected);
    detail.replaceChildren(...(chosen ? spanDetail(chosen, byId) : [el("p", { class: "muted", text: "Select a span (click, or j/k)." })]));
  }

  function fold(s, collapse) {
    if (!s._children.length) return;
    if (collapse) view.collapsed.add(s.span_id); else view.collapsed.delete(s.span_id);
    draw();
  }

  function select(id) {
    view.selected = id;
    onSelect(id);
    draw();
    const row = rows.querySelector(`[data-span="${CSS.escape(id)}"]`);
    if (row && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
  }

  view.keys = (key) => {
    const list = view.visible;
    const at = list.findIndex((s) => s.span_id === view.selected);
    const current = at >= 0 ? list[at] : null;
    switch (key) {
      case "j": case "ArrowDown": select((list[Math.min(at + 1, list.length - 1)] || list[0]).span_id); return true;
      case "k": case "ArrowUp": select((list[Math.max(at - 1, 0)] || list[0]).span_id); return true;
      case "h": case "ArrowLeft":
        if (!current) return false;
        if (current._children.length && !view.collapsed.has(current.span_id)) fold(current, true);
        else if (current.parent_span_id && byId.get(current.parent_span_id)) select(current.parent_span_id);
        return true;
      case "l": case "ArrowRight": if (current) fold(current, false); return true;
      case "z":
        if (!current) return false;
        view.zoom = [current._start - t0, Math.max(current._end - t0, current._start - t0 + view.total / 1000)];
        draw(); return true;
      case "0": view.zoom = null; draw(); return true;
      default: return false;
    }
  };
  draw();
  if (view.selected) {
    const row = rows.querySelector(`[data-span="${CSS.escape(view.selected)}"]`);
    if (row && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
  }
  return { select };
}

// The selected span: what it is, its conversation, then every attribute.
function spanDetail(s, byId) {
  const parent = s.parent_span_id && byId.get(s.parent_span_id);
  const head = [
    el("h3", { text: s.span_name }),
    el("div", { class: "chips" },
      el("span", { class: `badge role-${s.role || "other"}`, text: s.role || s.span_kind }),
      el("span", { class: "badge", text: s.span_kind }),
      el("span", { class: `badge${failed(s) ? " err" : ""}`, text: s.span_status }),
      cancelled(s) ? el("span", { class: "badge cancelled", text: "cancelled" }) : null,
      el("span", { class: "badge", text: duration(spanMillis(s)) }),
      s.role === "llm" ? el("span", { class: "badge", text: `${tokens(s.tokens_in || 0)} in · ${tokens(s.tokens_out || 0)} out` }) : null,
      s.role === "llm" ? el("span", { class: "badge", text: s.priced ? cost(s.cost_usd || 0) : "unpriced" }) : null),
  ];
  const ids = el("dl", { class: "attrs" },
    el("dt", { text: "span" }), el("dd", { text: s.span_id }),
    el("dt", { text: "parent" }), el("dd", { text: s.parent_span_id || "–" }),
    el("dt", { text: "trace" }), el("dd", { text: s.trace_id }),
    el("dt", { text: "starts at" }), el("dd", { text: `+${duration(s._start - view.t0)} (${s.started_at})` }));
  const sections = [...head, ids];
  const evaluations = (s._children || []).filter((c) => c.role === "evaluation");
  if (evaluations.length) {
    sections.push(el("h4", { text: "Evaluations" }), el("dl", { class: "attrs evaluations" }, ...evaluations.flatMap((e) => {
      const a = e.attributes || {};
      return [el("dt", { text: text(a["gen_ai.evaluation.name"] ?? e.span_name) }),
        el("dd", {}, el("span", { class: "badge role-evaluation", text: evaluationText(e).replace(/^.*? = ?/, "") || "–" }),
          a["gen_ai.evaluation.explanation"] !== undefined ? el("div", { text: text(a["gen_ai.evaluation.explanation"]) }) : null)];
    })));
  }
  const conversation = spanConversation(s);
  if (conversation.length) sections.push(el("h4", { text: "Conversation" }), renderMessages(conversation));
  const attrs = el("dl", { class: "attrs" });
  for (const [k, v] of Object.entries(s.attributes || {})) {
    const inherited = parent && parent.attributes && JSON.stringify(parent.attributes[k]) === JSON.stringify(v);
    const value = structured(v);
    attrs.append(el("dt", { class: inherited ? "inherited" : null, title: inherited ? "inherited from the parent" : null, text: k }),
      el("dd", {}, value !== null && typeof value === "object" ? jsonTree(value, 1) : text(v)));
  }
  sections.push(el("h4", { text: "Attributes" }), attrs);
  for (const e of s.events || []) {
    sections.push(el("h4", { text: `Event: ${e.name}` }), jsonTree(e.attributes || {}, 1));
  }
  if (s.resource_attributes && Object.keys(s.resource_attributes).length) {
    sections.push(el("h4", { text: "Resource" }), jsonTree(s.resource_attributes, 0));
  }
  return sections;
}
