#!/usr/bin/env python3
"""Structure figures of gateway-core: import cycles between files, imports that point up the
layer map, the longest functions on the request path, and line counts.

    python3 tools/arch/measure.py            # figures
    python3 tools/arch/measure.py --cycle    # also the files of the largest cycle
    python3 tools/arch/measure.py --upward   # also every upward import
    python3 tools/arch/measure.py --check    # exit 1 on a cycle or an upward import (tests)

It reads `crate::…` paths (in `use` items and inline) and resolves each to the file that defines
the module; a file's `use super::…` counts too. Layers (low to high) are listed in LAYERS: a file
may use its own layer and those below.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gateway-core", "src")

# Low to high. A module path prefix → its layer; the longest matching prefix wins.
LAYERS = [
    # 0: leaves every layer may use
    ["maybe_send", "io", "body", "json", "ids", "crypto", "query", "shutdown", "error::request",
     "multipart", "redact", "net"],
    # 1: protocols (the closed layer: codecs, canonical model, SSE, providers and their presets,
    # the exchange with one upstream, content isolation)
    ["canonical", "sse", "provider", "presets", "upstream", "codec", "isolation"],
    # 2: configuration and field validation
    ["config", "validate"],
    # 3: storage and domain logic (with the clouds' auth and request shapes)
    ["store", "hrana", "auth", "routing", "policy", "rules", "keycache", "logqueue", "metrics",
     "catalog", "stats", "health::stats", "quota", "answers", "cloud"],
    # 4: errors as callers see them, replies, and the state every handler shares
    ["error", "reply", "state"],
    # 5: handlers
    ["dispatch", "admin", "health", "routes"],
    # 6: the gateway and its start
    ["gateway", "bootstrap", "lib"],
    # 7: the scheduler's jobs, which drive the gateway
    ["jobs"],
]

# The request path: files whose functions run for every data-plane request.
REQUEST_PATH = ["gateway.rs", "routes.rs", "state.rs", "dispatch/", "upstream", "codec/glue.rs", "routing/"]


def files():
    out = []
    for dirpath, _, names in os.walk(ROOT):
        for n in names:
            if n.endswith(".rs"):
                out.append(os.path.relpath(os.path.join(dirpath, n), ROOT))
    return sorted(out)


def module_of(f):
    """`codec/gemini/mod.rs` → `codec::gemini`."""
    parts = f[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    return "::".join(parts) if parts != ["lib"] else "lib"


def resolve(segments, by_module):
    """The file of the longest module prefix of `segments`."""
    for n in range(len(segments), 0, -1):
        m = "::".join(segments[:n])
        if m in by_module:
            return by_module[m]
    return None


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def expand_use(tree):
    """`a::{b, c::{d}}` → ['a::b', 'a::c::d']."""
    tree = tree.strip()
    m = re.match(r"^([\w:]*?)::\{(.*)\}$", tree, re.S)
    if not m:
        return [re.sub(r"\s+as\s+\w+$", "", tree)]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for it in items:
        it = it.strip()
        if not it:
            continue
        if it == "self":
            out.append(prefix)
        else:
            out.extend(expand_use(prefix + "::" + it))
    return out


def lib_reexports(by_module):
    """Names lib.rs re-exports (`pub use gateway::{Gateway, …}`) → the file defining them."""
    text = strip_comments(open(os.path.join(ROOT, "lib.rs")).read())
    out = {}
    for m in re.finditer(r"\bpub use\s+([^;]+);", text):
        for p in expand_use(m.group(1)):
            segs = p.split("::")
            target = resolve(segs[:-1], by_module)
            if target:
                out[segs[-1]] = target
    return out


def edges():
    fs = files()
    by_module = {module_of(f): f for f in fs}
    reexported = lib_reexports(by_module)
    graph = {f: set() for f in fs}
    for f in fs:
        text = strip_comments(open(os.path.join(ROOT, f)).read())
        # Test modules do not count: they may reach anywhere.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        mod = module_of(f).split("::")
        here = mod if f.endswith("mod.rs") or f == "lib.rs" else mod
        paths = []
        for m in re.finditer(r"\buse\s+(crate|super)::([^;]+);", text):
            for p in expand_use(m.group(2)):
                paths.append((m.group(1), p))
        for m in re.finditer(r"\b(crate|super)::((?:\w+::)*\w+)", text):
            paths.append((m.group(1), m.group(2)))
        for root, p in paths:
            segs = [s for s in p.split("::") if s and s != "self"]
            if root == "super":
                parent = here[:-1] if not f.endswith("mod.rs") else here[:-1]
                segs = parent + segs
            target = resolve(segs, by_module)
            if target == "lib.rs" and root == "crate" and segs and segs[0] in reexported:
                target = reexported[segs[0]]
            if target and target != f and target != "lib.rs":
                graph[f].add(target)
    return graph


def sccs(graph):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def layer(f):
    mod = module_of(f)
    best, best_len = None, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (mod == p or mod.startswith(p + "::")) and len(p) > best_len:
                best, best_len = i, len(p)
    return best


def functions(f):
    """(name, lines) of each `fn` in f, by brace matching."""
    lines = open(os.path.join(ROOT, f)).read().split("\n")
    text = "\n".join(lines)
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
    # Braces inside string and character literals do not count.
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'[{}]'", "' '", text)
    out = []
    for m in re.finditer(r"^\s*(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?(?:const\s+)?fn\s+(\w+)", text, re.M):
        start = m.start()
        brace = text.find("{", m.end())
        semi = text.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue
        depth, i = 0, brace
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        n = text[start:i].count("\n") + 1
        out.append((m.group(1), n))
    return out


def main():
    graph = edges()
    comps = sorted(sccs(graph), key=len, reverse=True)
    cyclic = [c for c in comps if len(c) > 1]
    upward = []
    for f, targets in graph.items():
        lf = layer(f)
        for t in targets:
            lt = layer(t)
            if lf is not None and lt is not None and lt > lf:
                upward.append((f, t))
    unlayered = [f for f in graph if layer(f) is None]
    longest = []
    for f in graph:
        if any(f.startswith(p) if p.endswith("/") else f == p or f.startswith(p + "/") or f == p + ".rs"
               for p in REQUEST_PATH):
            for name, n in functions(f):
                longest.append((n, f"{f}::{name}"))
    longest.sort(reverse=True)
    total = sum(len(open(os.path.join(ROOT, f)).read().split("\n")) - 1 for f in graph)
    print(f"files: {len(graph)}, lines: {total}")
    print(f"import cycles: {len(cyclic)}; files in the largest: {len(comps[0]) if cyclic else 0}")
    print(f"imports pointing up the layer map: {len(upward)}")
    if unlayered:
        print(f"files in no layer: {', '.join(unlayered)}")
    print("longest functions on the request path (lines):")
    for n, name in longest[:5]:
        print(f"  {n:4} {name}")
    if "--cycle" in sys.argv and cyclic:
        print("largest cycle:", ", ".join(sorted(comps[0])))
    if "--upward" in sys.argv or "--check" in sys.argv:
        for f, t in sorted(upward):
            print(f"  up: {f} -> {t}")
    if "--check" in sys.argv:
        for c in cyclic:
            print("  cycle:", ", ".join(sorted(c)))
        if cyclic or upward or unlayered:
            sys.exit(1)


if __name__ == "__main__":
    main()
