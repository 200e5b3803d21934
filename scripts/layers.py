#!/usr/bin/env python3
"""Checks that tracekit's modules form layers: no two top-level modules import each other
(directly or round a longer circle), and none imports a module in a layer above its own.

An import is a `use crate::...` or a `crate::...` path in a module's code (doc comments and
`#[cfg(test)] mod tests` left out); a name the crate root re-exports (`crate::Tracer`) counts
as the module it comes from. Paths inside one top-level module (`tracer/inner.rs` using
`tracer/lease.rs`) are that module's own business.

Why not cargo-modules: its graph counts a method in `impl Tracer` as part of `Tracer`'s
module, so `Tracer::sqlite`, defined by the SQLite store, reads as `tracer -> stores`; and it
takes minutes to build in CI. Run from the repository root: `python3 scripts/layers.py`.
"""

import collections
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "tracekit" / "src"

# Lowest first: a module may use modules of its own layer (without a cycle) or lower ones.
LAYERS = [
    (
        "core",
        "sync stripe ids timestamp value attributes error trace format resource finished query "
        "filter semconv sampling sink tracer span propagation as_tracer",
    ),
    ("pipeline", "record collect queue batch exit sinks stores exporters"),
    ("agent", "genai render analysis eval testing bridge ingest mcp replay __private"),
]
LAYER = {m: i for i, (_, ms) in enumerate(LAYERS) for m in ms.split()}



def module_of(path):
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts == ("lib",):
        return None
    return "__private" if parts[0] == "private" else parts[0]


def code(text):
    """The text without comments and without the unit tests at the end."""
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
    return re.sub(r"//[^\n]*", "", text)


def reexports():
    """Names the crate root re-exports, and the module each comes from."""
    names = {}
    for module, items in re.findall(r"pub use (\w+)::([^;]+);", code((SRC / "lib.rs").read_text())):
        if module in ("crate", "tracekit_macros"):
            continue
        for name in re.findall(r"\b(\w+)\b", items):
            names.setdefault(name, module)
    return names


def imports(text, names):
    """Top-level modules named by the `crate::` paths in `text`."""
    found = set()
    for tree in re.findall(r"\bcrate::(\{[^;]*\}|\w+)", text):
        for first in re.findall(r"(?:^|[{,])\s*(\w+)", tree):
            found.add(names.get(first, first))
    return found


def graph():
    names = reexports()
    edges = collections.defaultdict(set)
    for path in sorted(SRC.rglob("*.rs")):
        a = module_of(path)
        if a is None:
            continue
        for b in imports(code(path.read_text()), names):
            if b != a and (b in LAYER or (SRC / f"{b}.rs").exists() or (SRC / b).is_dir()):
                edges[a].add(b)
    return edges


def cycles(edges):
    """Groups of modules that reach each other (Tarjan's strongly connected components)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(group)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main():
    edges = graph()
    problems = []
    for group in cycles(edges):
        inside = sorted(f"{a} -> {b}" for a in group for b in edges[a] & group)
        problems.append("a circle of imports: " + ", ".join(inside))
    for a in sorted(edges):
        for b in sorted(edges[a]):
            if a not in LAYER or b not in LAYER:
                problems.append(f"{a} -> {b}: put the module in a layer in scripts/layers.py")
            elif LAYER[b] > LAYER[a]:
                problems.append(
                    f"{a} ({LAYERS[LAYER[a]][0]}) imports {b} ({LAYERS[LAYER[b]][0]}), a layer above"
                )
    if "--graph" in sys.argv:
        for a in sorted(edges):
            print(f"{a} -> {' '.join(sorted(edges[a]))}")
    if problems:
        print(f"layers: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print(f"layers: {len(edges)} modules in {len(LAYERS)} layers, no circle, no import upwards")


main()
