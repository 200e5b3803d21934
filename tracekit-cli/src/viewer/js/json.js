// JSON values as a foldable tree: objects and arrays are <details>, open to a depth.
import { el } from "./dom.js";

export function jsonTree(value, openDepth = 2, depth = 0) {
  if (value === null || typeof value !== "object") {
    const cls = typeof value === "string" ? "str" : typeof value === "number" ? "num" : "lit";
    return el("span", { class: cls, text: typeof value === "string" ? JSON.stringify(value) : String(value) });
  }
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (entries.length === 0) return el("span", { class: "lit", text: isArray ? "[]" : "{}" });
  const n = entries.length;
  const label = isArray ? `[…] ${n} item${n === 1 ? "" : "s"}` : `{…} ${n} key${n === 1 ? "" : "s"}`;
  const details = el("details", { open: depth < openDepth }, el("summary", { text: label }));
  for (const [k, v] of entries) {
    details.append(el("div", { class: "entry" },
      el("span", { class: "key", text: isArray ? `${k}: ` : `${JSON.stringify(k)}: ` }),
      jsonTree(v, openDepth, depth + 1)));
  }
  return el("div", { class: "json" }, details);
}
