#!/usr/bin/env python3
"""tests/layers.py BUILD: fail when the tree breaks its layers (make check-layers).

C, from the symbols each object file leaves undefined (nm -u), so names in
comments or strings never count:
  - an object of src/core/ references a Lua symbol (lua_*, luaL_*, luaopen_*);
  - an object outside src/core/ references a libcurl symbol (curl_*).
Lua, from the require graph of lua/ and scripts/ (require "x", require("x"),
require 'x', pcall(require, "x")):
  - a cycle;
  - a library module requires a front-end module (FRONT below) or a command.
Exit 1 with one line per violation."""
import os, re, subprocess, sys

FRONT = {"ksh.repl", "ksh.cmd"}          # the prompt and the command runner
LUA_SYM = re.compile(r"^(lua_|luaL_|luaopen_)")
CURL_SYM = re.compile(r"^curl_")
REQ = re.compile(r"""\brequire\s*(?:\(\s*)?["']([\w.]+)["']|pcall\(\s*require\s*,\s*["']([\w.]+)["']""")


def undefined(obj):
    out = subprocess.run(["nm", "-u", obj], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def objects(build, layer):
    d = os.path.join(build, layer)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".o")) if os.path.isdir(d) else []


def module_name(path):
    rel = os.path.relpath(path)
    if rel.startswith("scripts" + os.sep):
        return "scripts." + os.path.splitext(os.path.basename(rel))[0]
    return os.path.splitext(os.path.relpath(path, "lua"))[0].replace(os.sep, ".")


def lua_files():
    for top in ("lua", "scripts"):
        for root, _, files in os.walk(top):
            for f in files:
                if f.endswith(".lua"):
                    yield os.path.join(root, f)


def strip_comments(src):
    src = re.sub(r"--\[(=*)\[.*?\]\1\]", "", src, flags=re.S)
    return re.sub(r"--[^\n]*", "", src)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    bad = []
    core = objects(build, "core")
    if not core:
        bad.append(f"no objects in {build}/core: build first")
    for o in core:
        for s in sorted(undefined(o)):
            if LUA_SYM.match(s):
                bad.append(f"{o}: src/core must not use Lua, references {s}")
    for layer in ("lua", "app"):
        for o in objects(build, layer):
            for s in sorted(undefined(o)):
                if CURL_SYM.match(s):
                    bad.append(f"{o}: only src/core may call libcurl, references {s}")

    graph = {}
    for f in lua_files():
        with open(f, encoding="utf-8") as fh:
            src = strip_comments(fh.read())
        graph[module_name(f)] = (f, sorted({a or b for a, b in REQ.findall(src)}))
    for mod, (f, reqs) in sorted(graph.items()):
        if mod.startswith("scripts.") or mod in FRONT:
            continue
        for r in reqs:
            if r in FRONT or r.startswith("scripts."):
                bad.append(f"{f}: library module {mod} requires front-end module {r}")
    # cycles: depth-first search over modules that exist in the tree
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for r in graph[m][1]:
            if r not in graph:
                continue
            if state.get(r) == 1:
                cyc = stack[stack.index(r):] + [r]
                bad.append("require cycle: " + " -> ".join(cyc))
            elif r not in state:
                visit(r)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    for line in bad:
        print("check-layers: " + line, file=sys.stderr)
    if bad:
        return 1
    print(f"check-layers: ok ({len(core)} core objects without Lua, "
          f"no libcurl above core, {len(graph)} Lua modules without cycles or upward requires)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
