// Building nodes and formatting numbers. Everything from the store goes in as text
// (textContent), never as HTML: a span's attributes are whatever an agent wrote.

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "style") node.style.cssText = v; // CSSOM: allowed under the page's CSP
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== undefined && c !== null && c !== false) node.append(c);
  return node;
}

export async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// A duration in milliseconds, in the unit that fits: 850 µs, 12.3 ms, 1.24 s, 2 min 5 s.
export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "open";
  if (ms === 0) return "0";
  if (ms < 0.001) return `${Math.round(ms * 1e6)} ns`;
  if (ms < 1) return `${+(ms * 1000).toPrecision(3)} µs`;
  if (ms < 1000) return `${+ms.toPrecision(3)} ms`;
  if (ms < 60000) return `${+(ms / 1000).toPrecision(3)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export const tokens = (n) => (n >= 1e6 ? `${+(n / 1e6).toPrecision(3)}M` : n >= 1e4 ? `${+(n / 1e3).toPrecision(3)}k` : String(n));

// Cost in dollars; "+" when some calls had no price (their cost is unknown, not zero).
export const cost = (usd, unpriced) => `$${usd < 0.01 && usd > 0 ? usd.toFixed(5) : usd.toFixed(4)}${unpriced ? "+" : ""}`;

// A timestamp (RFC 3339, up to nanoseconds) as milliseconds since the epoch, to the
// microsecond (a double holds no more at this magnitude).
export function millis(iso) {
  if (!iso) return NaN;
  const frac = (iso.match(/\.(\d+)/) || ["", "0"])[1];
  return Date.parse(iso.replace(/\.\d+/, "")) + Number(`0.${frac}`) * 1000;
}

// A span's duration from its timestamps (the stored `duration_ms` is whole milliseconds, as
// the reference writes it).
export const spanMillis = (s) => (s.ended_at ? millis(s.ended_at) - millis(s.started_at) : null);

export const when = (iso) => new Date(millis(iso)).toLocaleString();

// A value from the store as readable text.
export const text = (v) => (typeof v === "string" ? v : JSON.stringify(v));

// A string that holds a JSON object or array, parsed; anything else as it is.
export function structured(v) {
  if (typeof v === "string" && /^\s*[[{]/.test(v)) {
    try { return JSON.parse(v); } catch { return v; }
  }
  return v;
}
