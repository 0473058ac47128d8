#!/usr/bin/env python3
"""The browser's WASM by crate: which crates take the space (issue #18).

Reads the splitter's output of the last `scripts/build.sh` (target/wasm/split: the main module,
the page modules and the shared chunks, with their function names still in them) through
`twiggy top` (crates.io's twiggy, installed by scripts/bench.sh), and sums each function's size
under the crate its code comes from. Sizes are before wasm-bindgen and wasm-opt, so the shares
are what counts: the shipped modules are smaller (scripts/bench.py prints their sizes). The
functions only wasm-bindgen reads (`__wbindgen_describe_*`, which it removes) and the name
sections are left out; "(module structure)" is what each module declares rather than runs
(imports of the main module's table and memory, exports, function types, table elements),
much of it repeated in every split module.

A generic function is counted under the crate of its type when it implements a trait of the
standard library (`<app::Page as core::Clone>::clone` is app's code), else under the crate of
the trait or function that was instantiated (`<_ as tachys::RenderHtml>::hydrate` is tachys').
"""
import csv
import io
import os
import re
import subprocess
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPLIT = os.path.join(ROOT, "target", "wasm", "split")
STD = {"core", "alloc", "std"}
CRATE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\[[0-9a-f]{1,16}\]")
TOP = 16
MAIN = "byoc-console.wasm"


def split_impl(name):
    """`<Self as Trait>::f` -> (Self, Trait); `<Self>::f` (an inherent method) -> (Self, None)."""
    depth = 0
    as_at = None
    i = 1
    while i < len(name):
        if name.startswith("->", i):
            i += 2
            continue
        c = name[i]
        if c == "<":
            depth += 1
        elif c == ">":
            if depth == 0:
                if as_at is None:
                    return name[1:i], None
                return name[1:as_at], name[as_at + 4:i]
            depth -= 1
        elif depth == 0 and as_at is None and name.startswith(" as ", i):
            as_at = i
        i += 1
    return name[1:], None


def first_crate(text):
    m = CRATE.search(text)
    return m.group(1) if m else None


# A v0-mangled name twiggy left as it was: its first crate (`Cs<hash>_<length><crate>`).
V0_CRATE = re.compile(r"C[sr]?[0-9A-Za-z]*_(\d+)([A-Za-z_][A-Za-z0-9_]*)")
# What each module declares rather than runs (repeated in every split module): imports of the
# main module's table and memory, exports, function types, table elements.
STRUCTURE = ("import ", "export ", "type[", "elem[", "table[", "global[", "memory[")
PRIMITIVE = re.compile(r"<(str|char|bool|[iuf](8|16|32|64|128|size)|\[.*\])>::")


def crate_of(name):
    if name.startswith("data segment"):
        return "(static data)"
    if name.startswith(STRUCTURE):
        return "(module structure)"
    if PRIMITIVE.match(name):
        return "core"
    if name.startswith("_R"):
        m = V0_CRATE.search(name)
        return m.group(2)[: int(m.group(1))] if m else "(other)"
    if name.startswith("<"):
        self_part, trait_part = split_impl(name)
        self_crate = first_crate(self_part)
        trait_crate = first_crate(trait_part) if trait_part else None
        if self_crate and (self_crate not in STD or not trait_crate):
            return self_crate
        return trait_crate or "(other)"
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]{1,16}\])?::", name)
    return m.group(1) if m else "(other)"


def counted(name):
    return not ("subsection" in name or name.startswith("custom section")
                or "__wbindgen_describe" in name)


def sizes_by_crate(module):
    out = subprocess.run(["twiggy", "top", "-n", "100000000", "--format", "csv", module],
                         capture_output=True, text=True, check=True).stdout
    by_crate = Counter()
    for row in csv.DictReader(io.StringIO(out)):
        if counted(row["Name"]):
            by_crate[crate_of(row["Name"])] += int(row["ShallowSize"])
    return by_crate


def main():
    if not os.path.isdir(SPLIT):
        raise SystemExit(f"{SPLIT} is missing: run scripts/build.sh first")
    modules = sorted(f for f in os.listdir(SPLIT) if f.endswith(".wasm"))
    everything, main_module = Counter(), Counter()
    for module in modules:
        sizes = sizes_by_crate(os.path.join(SPLIT, module))
        everything += sizes
        if module == MAIN:
            main_module = sizes
    total, main_total = sum(everything.values()), sum(main_module.values())
    print(f"WASM by crate: the {len(modules)} modules of target/wasm/split, and the main module "
          f"alone, before wasm-bindgen and wasm-opt")
    print(f"  {'crate':<24} {'all modules':>20} {'main module':>20}")
    shown = everything.most_common(TOP)
    rows = [(crate, size, main_module[crate]) for crate, size in shown]
    rows.append((f"{len(everything) - len(shown)} other crates",
                 total - sum(size for _, size in shown),
                 main_total - sum(main_module[crate] for crate, _ in shown)))
    rows.append(("total", total, main_total))
    for crate, size, in_main in rows:
        print(f"  {crate:<24} {size / 1024:8.1f} KiB {100 * size / total:5.1f} %"
              f" {in_main / 1024:8.1f} KiB {100 * in_main / max(main_total, 1):5.1f} %")


if __name__ == "__main__":
    sys.exit(main())
