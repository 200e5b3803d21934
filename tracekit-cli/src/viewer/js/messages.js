// Prompts, completions and tool calls as a conversation, from whichever convention a span
// carries: OpenTelemetry GenAI (`gen_ai.input.messages` / `gen_ai.output.messages`, parts),
// the reference toolkit's `ai.*` attributes (Bedrock Converse content blocks), or
// OpenAI-style `{role, content, tool_calls}`.
import { el, structured, text } from "./dom.js";
import { jsonTree } from "./json.js";

// A part of a message: {kind: "text" | "call" | "result", ...}.
function part(p) {
  if (typeof p === "string") return { kind: "text", text: p };
  if (!p || typeof p !== "object") return { kind: "text", text: text(p) };
  // OpenTelemetry parts
  if (p.type === "text" || p.type === "reasoning") return { kind: "text", text: text(p.content ?? p.text ?? "") };
  if (p.type === "tool_call") return { kind: "call", id: p.id, name: p.name, args: structured(p.arguments) };
  if (p.type === "tool_call_response") return { kind: "result", id: p.id, result: structured(p.response ?? p.result) };
  // Anthropic content blocks
  if (p.type === "tool_use") return { kind: "call", id: p.id, name: p.name, args: p.input };
  if (p.type === "tool_result") return { kind: "result", id: p.tool_use_id, result: p.content };
  // Bedrock Converse content blocks
  if ("text" in p) return { kind: "text", text: text(p.text) };
  if (p.toolUse) return { kind: "call", id: p.toolUse.toolUseId, name: p.toolUse.name, args: p.toolUse.input };
  if (p.toolResult) {
    const content = p.toolResult.content;
    const result = Array.isArray(content) ? content.map((c) => c.text ?? c.json ?? c).map(text).join("\n") : content;
    return { kind: "result", id: p.toolResult.toolUseId, result };
  }
  return { kind: "text", text: JSON.stringify(p) };
}

function message(m) {
  if (typeof m === "string") return { role: "", parts: [{ kind: "text", text: m }] };
  if (!m || typeof m !== "object") return { role: "", parts: [{ kind: "text", text: text(m) }] };
  if (m.message) return message(m.message);
  if (m.toolUse) return { role: "assistant", parts: [part(m)] };
  const parts = [];
  if (Array.isArray(m.parts)) parts.push(...m.parts.map(part));
  else if (Array.isArray(m.content)) parts.push(...m.content.map(part));
  else if (m.content !== undefined && m.content !== null) {
    parts.push(m.role === "tool" ? { kind: "result", id: m.tool_call_id, name: m.name, result: m.content } : part(m.content));
  }
  for (const c of m.tool_calls || []) {
    parts.push({ kind: "call", id: c.id, name: c.function?.name ?? c.name, args: structured(c.function?.arguments ?? c.arguments) });
  }
  return { role: m.role || "", parts, finish: m.finish_reason };
}

// Messages from an attribute value: an array of messages, one message, or plain text.
export function messages(value, role) {
  const v = structured(value);
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(message);
  if (typeof v === "object") return [message(v)];
  return [{ role: role || "", parts: [{ kind: "text", text: String(v) }] }];
}

function renderPart(p) {
  if (p.kind === "text") return el("div", { class: "text", text: p.text });
  if (p.kind === "call") {
    return el("div", { class: "call" }, el("span", { text: "→ call " }), el("span", { class: "fn", text: p.name || "?" }),
      p.id ? el("span", { class: "muted", text: ` (${p.id})` }) : null,
      typeof p.args === "object" && p.args !== null ? jsonTree(p.args, 1) : el("div", { text: text(p.args ?? "") }));
  }
  return el("div", { class: "call" }, el("span", { text: `← result${p.name ? ` of ${p.name}` : ""}${p.id ? ` (${p.id})` : ""}` }),
    typeof p.result === "object" && p.result !== null ? jsonTree(p.result, 1) : el("div", { class: "text", text: text(p.result ?? "") }));
}

export function renderMessages(list) {
  return el("div", { class: "messages" }, ...list.map((m) => {
    const role = (m.role || "").toLowerCase();
    const cls = ["user", "assistant", "system", "tool"].includes(role) ? role : (m.parts.some((p) => p.kind === "result") ? "tool" : "");
    return el("div", { class: `msg ${cls}` },
      el("div", { class: "role", text: `${m.role || "message"}${m.finish ? ` · ${m.finish}` : ""}` }),
      ...m.parts.map(renderPart));
  }));
}

const first = (attrs, keys) => keys.map((k) => attrs[k]).find((v) => v !== undefined && v !== null);

// The conversation a span holds, oldest first: system, input, output (LLM calls), a tool's
// arguments and result, or a turn's user input and agent response. Empty if none.
export function spanConversation(span) {
  const a = span.attributes || {};
  const out = [];
  const system = first(a, ["gen_ai.system_instructions", "ai.llm.request.system"]);
  if (system !== undefined) out.push(...messages(system, "system").map((m) => ({ ...m, role: m.role || "system" })));
  const input = first(a, ["gen_ai.input.messages", "ai.llm.request.messages", "gen_ai.prompt"]);
  if (input !== undefined) out.push(...messages(input, "user"));
  const output = first(a, ["gen_ai.output.messages", "ai.llm.response.output", "gen_ai.completion"]);
  if (output !== undefined) out.push(...messages(output, "assistant").map((m) => ({ ...m, role: m.role || "assistant" })));
  const args = first(a, ["gen_ai.tool.call.arguments", "ai.tool.input"]);
  const name = first(a, ["gen_ai.tool.name", "ai.tool.name"]) || span.span_name;
  if (args !== undefined) out.push({ role: "assistant", parts: [{ kind: "call", name, id: first(a, ["gen_ai.tool.call.id", "ai.tool.use.id"]), args: structured(args) }] });
  const result = first(a, ["gen_ai.tool.call.result", "ai.tool.output"]);
  if (result !== undefined) out.push({ role: "tool", parts: [{ kind: "result", name, result: structured(result) }] });
  const toolError = a["ai.tool.error"];
  if (toolError !== undefined) out.push({ role: "tool", parts: [{ kind: "text", text: `error: ${text(toolError)}` }] });
  if (input === undefined && a["ai.user.input"] !== undefined) out.push({ role: "user", parts: [{ kind: "text", text: text(a["ai.user.input"]) }] });
  if (output === undefined && a["ai.agent.response"] !== undefined) out.push({ role: "assistant", parts: [{ kind: "text", text: text(a["ai.agent.response"]) }] });
  return out;
}
