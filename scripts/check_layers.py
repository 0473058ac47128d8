#!/usr/bin/env python3
"""The layer rule of docs/architecture.md, checked. Exits 1 naming file:line for each breach.

Rules (stated the same way in docs/architecture.md, "The layer rule, checked"):

1. Nothing under app/src/server/ names crate::api, crate::rest, crate::pages or
   crate::components (in a `use`, grouped or not, or in a path written in code; `super::`
   chains are resolved against the file's module, so `super::super::api` counts too).
2. Nothing under app/src/api/ or app/src/rest/ touches the store or SQL: no path to
   crate::server::store, no glob import of crate::server, no `store::` path, no `sqlx`.
3. app/src/wire/ and app/src/format.rs name nothing of crate::server, api, rest, pages or
   components.
4. domain/Cargo.toml has no web, SQL or async dependency (axum, leptos*, sqlx, tokio*,
   hyper*, tower*, reqwest, actix*, warp, rusqlite, libsqlite3-sys, diesel, sea-orm,
   async-*, futures*, smol, mio) in [dependencies], [build-dependencies] or a
   target's dependencies (dev-dependencies are the tests' own business).
6. engine/Cargo.toml (the data plane's engine) has no web or SQL dependency and does not
   depend on the app or the console (axum, leptos*, sqlx, hyper*, tower*, reqwest, actix*,
   warp, rusqlite, libsqlite3-sys, diesel, sea-orm, app, byoc-console): async is its business.
5. No .rs file that is compiled outside tests has more than 500 lines. Test code is left out:
   files under a `tests/` directory, files named tests.rs, files whose first item is
   `#![cfg(test)]`, and files whose `mod name;` is marked `#[cfg(test)]` in the parent.

Comments, strings and character literals are blanked out before the Rust rules look, so a
comment that mentions crate::api is not a breach.

    scripts/check_layers.py              check this repository
    scripts/check_layers.py --root DIR   check another tree
    scripts/check_layers.py --self-test  write a tree that breaks every rule, and check that
                                         each breach is found and nothing else
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

MAX_LINES = 500
SERVER_MAY_NOT = ("api", "rest", "pages", "components")
WIRE_MAY_NOT = ("server", "api", "rest", "pages", "components")
FORBIDDEN_DOMAIN_DEPS = re.compile(
    r"^(axum|leptos|sqlx|tokio|hyper|tower|reqwest|actix|warp|rusqlite|libsqlite3|diesel|"
    r"sea-orm|smol|mio|futures)([-_].*)?$|^async[-_]"
)

FORBIDDEN_ENGINE_DEPS = re.compile(
    r"^(axum|leptos|sqlx|hyper|tower|reqwest|actix|warp|rusqlite|libsqlite3|diesel|sea-orm)"
    r"([-_].*)?$|^(app|byoc-console)$"
)


# ---------------------------------------------------------------------------------------------
# Rust source: blank out comments and literals, keeping every line where it was.

def strip_rust(text):
    out = []
    i, n = 0, len(text)

    def blank(s):
        return "".join("\n" if c == "\n" else " " for c in s)

    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif c in "rb" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'(br|r)(#*)"', text[i:])
            if m:
                end = text.find('"' + m.group(2), i + len(m.group(0)))
                j = n if end < 0 else end + 1 + len(m.group(2))
                out.append(blank(text[i:j]))
                i = j
            elif c == "b" and nxt in "\"'":
                out.append(" ")
                i += 1
            else:
                out.append(c)
                i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i : j + 1]))
            i = j + 1
        elif c == "'":
            # A character literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            if nxt == "\\":
                j = text.find("'", i + 2)
                j = n if j < 0 else j + 1
                out.append(blank(text[i:j]))
                i = j
            elif i + 2 < n and text[i + 2] == "'":
                out.append("   ")
                i += 3
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Paths: `use` trees expanded, `super`/`self` resolved against the module.

def module_of(rel, src_root):
    """The module path of a file under a crate's src/ (lib.rs, main.rs, mod.rs)."""
    parts = list(Path(rel).relative_to(src_root).parts)
    last = parts.pop()
    if last not in ("lib.rs", "main.rs", "mod.rs"):
        parts.append(last[:-3])
    return parts


def use_tree_paths(body):
    """`crate::server::{self, store::audit as a}` -> [[crate, server], [crate, server, store, audit]]."""
    tokens = re.findall(r"::|[{},*]|[A-Za-z_][A-Za-z0-9_]*", body)
    pos = 0

    def tree(prefix):
        nonlocal pos
        paths = []
        path = list(prefix)
        if pos < len(tokens) and tokens[pos] == "::":
            pos += 1
            path.append("")  # a leading :: : an external crate
        while pos < len(tokens):
            t = tokens[pos]
            if t == "{":
                pos += 1
                while pos < len(tokens) and tokens[pos] != "}":
                    if tokens[pos] == ",":
                        pos += 1
                        continue
                    paths += tree(path)
                pos += 1
                return paths
            if t == "*":
                pos += 1
                return [path + ["*"]]
            if t in (",", "}"):
                break
            if t == "::":
                pos += 1
                continue
            if t == "as":
                pos += 2
                break
            pos += 1
            path.append(t)
            if t == "self" and prefix and len(path) == len(prefix) + 1:
                path.pop()  # `{self, ...}`: the prefix itself
        return paths + [path]

    return tree([])


def resolve(segments, scope):
    """Absolute module path (a list) for crate/super/self paths; None for other roots."""
    if not segments:
        return None
    head = segments[0]
    if head in ("crate", "$crate"):
        return segments[1:]
    if head not in ("super", "self"):
        return None
    base = list(scope)
    i = 0
    while i < len(segments) and segments[i] in ("super", "self"):
        if segments[i] == "super":
            if not base:
                return None
            base.pop()
        i += 1
    return base + segments[i:]


TOKEN = re.compile(
    r"(?P<mod>\bmod\s+(?P<modname>[A-Za-z_]\w*)\s*\{)"
    r"|(?P<use>\buse\s+(?P<usebody>[^;]*);)"
    r"|(?P<path>(?<![\w:])\$?(?:crate|super|self)(?:\s*::\s*[A-Za-z_]\w*)+)"
    r"|(?P<sqlx>\bsqlx\b)"
    r"|(?P<store>(?<![\w:])store\s*::)"
    r"|(?P<open>\{)|(?P<close>\})"
)


def references(text, file_scope):
    """Yield (line, kind, segments, resolved) for each use path and written path."""
    code = strip_rust(text)
    stack = []  # (scope, depth at which the inline module's brace opened)
    depth = 0
    scope = list(file_scope)
    for m in TOKEN.finditer(code):
        line = code.count("\n", 0, m.start()) + 1
        if m.group("mod"):
            depth += 1
            stack.append((list(scope), depth))
            scope = scope + [m.group("modname")]
        elif m.group("open"):
            depth += 1
        elif m.group("close"):
            if stack and stack[-1][1] == depth:
                scope = stack.pop()[0]
            depth -= 1
        elif m.group("use"):
            body = m.group("usebody")
            for segs in use_tree_paths(body):
                yield line, "use", segs, resolve(segs, scope)
        elif m.group("path"):
            segs = [s for s in re.split(r"\s*::\s*", m.group("path"))]
            yield line, "path", segs, resolve(segs, scope)
        elif m.group("sqlx"):
            yield line, "sqlx", ["sqlx"], None
        elif m.group("store"):
            yield line, "store", ["store"], None


# ---------------------------------------------------------------------------------------------
# The rules.

def rust_files(root):
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.rs"],
            cwd=root, capture_output=True, check=True,
        ).stdout.decode().split("\0")
        files = [f for f in listed if f and (root / f).is_file()]
    except (subprocess.CalledProcessError, FileNotFoundError):
        files = [
            str(p.relative_to(root))
            for p in root.rglob("*.rs")
            if not {"target", "node_modules", ".git"} & set(p.relative_to(root).parts)
        ]
    return sorted(set(files))


def check_imports(root, files, breaches):
    app_src = Path("app/src")
    for rel in files:
        p = Path(rel)
        if app_src not in p.parents:
            continue
        under = p.relative_to(app_src).parts
        area = under[0] if len(under) > 1 else p.stem
        if area not in ("server", "api", "rest", "wire", "format"):
            continue
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
        scope = module_of(rel, app_src)
        for line, kind, segs, absolute in references(text, scope):
            written = "::".join(segs)
            where = f"{rel}:{line}"
            if area == "server":
                if absolute and absolute[0] in SERVER_MAY_NOT:
                    breaches.append(
                        f"{where}: server/ names crate::{'::'.join(absolute)} (`{written}`); "
                        "server/ may not import api/, rest/, pages/ or components/"
                    )
            elif area in ("api", "rest"):
                if kind == "sqlx":
                    breaches.append(f"{where}: {area}/ uses sqlx; only server/store/ writes SQL")
                elif kind == "store":
                    breaches.append(f"{where}: {area}/ calls `store::`; only the services touch the store")
                elif absolute and absolute[:2] == ["server", "store"]:
                    breaches.append(
                        f"{where}: {area}/ names crate::{'::'.join(absolute)} (`{written}`); "
                        "only the services touch the store"
                    )
                elif absolute == ["server", "*"]:
                    breaches.append(f"{where}: {area}/ glob-imports crate::server (it would bring the store in)")
                elif kind == "use" and segs and segs[0] == "sqlx":
                    breaches.append(f"{where}: {area}/ uses sqlx; only server/store/ writes SQL")
            else:  # wire/, format.rs
                if absolute and absolute[0] in WIRE_MAY_NOT:
                    breaches.append(
                        f"{where}: {area} names crate::{'::'.join(absolute)} (`{written}`); "
                        "wire/ and format.rs import nothing of server, api, rest, pages or components"
                    )


def check_domain_manifest(root, breaches):
    check_manifest(
        root, "domain", FORBIDDEN_DOMAIN_DEPS, breaches,
        "the domain depends on `{}`; it stays free of web, SQL and async crates",
    )


def check_engine_manifest(root, breaches):
    check_manifest(
        root, "engine", FORBIDDEN_ENGINE_DEPS, breaches,
        "the engine depends on `{}`; it stays free of the web server, SQL and the app",
    )


def check_manifest(root, crate, forbidden, breaches, message):
    manifest = root / crate / "Cargo.toml"
    if not manifest.exists():
        return
    where = f"{crate}/Cargo.toml"
    listing = False  # in [dependencies], [build-dependencies] or [target.X.dependencies]
    single = False  # in [dependencies.NAME] (its `package = ...` may rename it)

    def check_dep(name, number):
        if forbidden.search(name):
            breaches.append(f"{where}:{number}: " + message.format(name))

    for number, raw in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        header = re.match(r"^\[(.+)\]$", line)
        if header:
            section = header.group(1).replace(" ", "")
            listing = bool(re.search(r"(^|\.)(build-)?dependencies$", section))
            table = re.search(r"(^|\.)(build-)?dependencies\.([\w-]+)$", section)
            single = bool(table)
            if table:
                check_dep(table.group(3), number)
            continue
        if listing:
            entry = re.match(r"^([\w-]+)\s*=", line)
            if entry:
                check_dep(entry.group(1), number)
        if listing or single:
            renamed = re.search(r'\bpackage\s*=\s*"([^"]+)"', line)
            if renamed:
                check_dep(renamed.group(1), number)


def declared_for_tests_only(root, rel):
    """Whether the file's `mod name;` in its parent module carries #[cfg(test)]."""
    p = root / rel
    name = p.parent.name if p.name == "mod.rs" else p.stem
    here = p.parent.parent if p.name == "mod.rs" else p.parent
    parents = [here / "mod.rs", here / "lib.rs", here / "main.rs", here.parent / f"{here.name}.rs"]
    for parent in parents:
        if not parent.is_file() or parent == p:
            continue
        lines = strip_rust(parent.read_text(encoding="utf-8", errors="replace")).splitlines()
        for i, line in enumerate(lines):
            if re.search(rf"\bmod\s+{re.escape(name)}\s*;", line):
                attrs = [line]
                j = i - 1
                while j >= 0 and re.match(r"^\s*(#\[.*\]\s*)*$", lines[j]) and lines[j].strip():
                    attrs.append(lines[j])
                    j -= 1
                return any(re.search(r"#\[\s*cfg\s*\(\s*test\s*\)\s*\]", a) for a in attrs)
    return False


def is_test_file(root, rel):
    parts = Path(rel).parts
    if "tests" in parts[:-1] or parts[-1] == "tests.rs":
        return True
    head = strip_rust((root / rel).read_text(encoding="utf-8", errors="replace")).lstrip()
    if re.match(r"#!\[\s*cfg\s*\(\s*test\s*\)\s*\]", head):
        return True
    return declared_for_tests_only(root, rel)


def check_sizes(root, files, breaches):
    for rel in files:
        with open(root / rel, encoding="utf-8", errors="replace") as f:
            count = sum(1 for _ in f)
        if count > MAX_LINES and not is_test_file(root, rel):
            breaches.append(
                f"{rel}:{MAX_LINES + 1}: {count} lines; a non-test source file stays within "
                f"{MAX_LINES} (split it by what its parts do)"
            )


def check(root):
    root = Path(root).resolve()
    breaches = []
    files = rust_files(root)
    check_imports(root, files, breaches)
    check_domain_manifest(root, breaches)
    check_engine_manifest(root, breaches)
    check_sizes(root, files, breaches)
    return breaches


# ---------------------------------------------------------------------------------------------
# The self-test: a tree that breaks each rule once, and clean files that must pass.

SELF_TEST_TREE = {
    # Rule 1, four ways.
    "app/src/server/mod.rs": "pub mod bad;\npub mod deep;\n",
    "app/src/server/bad.rs": (
        "// crate::api::login in a comment is no breach\n"
        'const S: &str = "crate::pages::x";\n'
        "use crate::api::login;\n"
        "use crate::{wire::error::AppError, components::Field};\n"
        "fn f() { let _ = crate::pages::home(); }\n"
        "#[cfg(test)]\nmod tests {\n    use super::super::super::rest::x;\n}\n"
    ),
    "app/src/server/deep/mod.rs": "pub mod tls;\n",
    "app/src/server/deep/tls.rs": "use super::super::store;\nuse super::super::super::rest::problem;\n",
    # Rule 2, four ways.
    "app/src/api/mod.rs": "use crate::server::store::users;\nuse crate::server::{access, setup};\n",
    "app/src/rest/mod.rs": (
        "use crate::server::{self, store};\n"
        "async fn g() { sqlx::query(\"SELECT 1\"); }\n"
        "fn h() { store::audit::append(); }\n"
    ),
    # Rule 3.
    "app/src/wire/mod.rs": "use crate::domain::account::Role;\nuse crate::server::error::ServerError;\n",
    "app/src/format.rs": "use time::OffsetDateTime;\n",
    # Rule 4.
    "domain/Cargo.toml": (
        "[package]\nname = \"d\"\n\n[dependencies]\nserde = \"1\"\ntokio = { workspace = true }\n"
        "\n[target.'cfg(unix)'.dependencies]\nasync-trait = \"0.1\"\n"
        "\n[dev-dependencies]\nfutures = \"0.3\"\n"
    ),
    # Rule 6.
    "engine/Cargo.toml": (
        "[package]\nname = \"e\"\n\n[dependencies]\ntokio = \"1\"\nsqlx = \"0.8\"\n"
        "app = { path = \"../app\" }\n"
    ),
    # Rule 5: one file over, and test files over that must pass.
    "app/src/server/long.rs": "fn x() {}\n" * (MAX_LINES + 1),
    "app/src/server/just_fits.rs": "fn x() {}\n" * MAX_LINES,
    "domain/src/lib.rs": "#[cfg(test)]\nmod checks;\npub mod rules;\n",
    "domain/src/checks.rs": "fn t() {}\n" * 600,
    "domain/src/rules/mod.rs": "#[cfg(test)]\nmod tests;\n",
    "domain/src/rules/tests.rs": "fn t() {}\n" * 600,
    "domain/src/inner_only.rs": "#![cfg(test)]\n" + "fn t() {}\n" * 600,
    "tests/big.rs": "fn t() {}\n" * 600,
    "emulator/tests/e2e.rs": "fn t() {}\n" * 600,
}

SELF_TEST_EXPECTED = [
    ("app/src/server/bad.rs:3:", "crate::api::login"),
    ("app/src/server/bad.rs:4:", "crate::components::Field"),
    ("app/src/server/bad.rs:5:", "crate::pages::home"),
    ("app/src/server/bad.rs:8:", "crate::rest::x"),
    ("app/src/server/deep/tls.rs:2:", "crate::rest::problem"),
    ("app/src/api/mod.rs:1:", "crate::server::store::users"),
    ("app/src/rest/mod.rs:1:", "crate::server::store"),
    ("app/src/rest/mod.rs:2:", "sqlx"),
    ("app/src/rest/mod.rs:3:", "store::"),
    ("app/src/wire/mod.rs:2:", "crate::server::error::ServerError"),
    ("domain/Cargo.toml:6:", "tokio"),
    ("domain/Cargo.toml:9:", "async-trait"),
    ("engine/Cargo.toml:6:", "sqlx"),
    ("engine/Cargo.toml:7:", "app"),
    ("app/src/server/long.rs:501:", "501 lines"),
]


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in SELF_TEST_TREE.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        found = check(root)
    failures = []
    for where, what in SELF_TEST_EXPECTED:
        if not any(b.startswith(where) and what in b for b in found):
            failures.append(f"not caught: {where} {what}")
    for b in found:
        if not any(b.startswith(where) and what in b for where, what in SELF_TEST_EXPECTED):
            failures.append(f"caught but allowed: {b}")
    if failures:
        print("check_layers.py --self-test FAILED:", *failures, sep="\n  ")
        print("everything it reported:", *found, sep="\n  ")
        return 1
    print(f"check_layers.py --self-test: {len(SELF_TEST_EXPECTED)} breaches caught, no false ones")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    breaches = check(args.root)
    for b in breaches:
        print(b)
    if breaches:
        print(f"layer rule: {len(breaches)} breach(es); see docs/architecture.md, "
              "'The layer rule, checked'", file=sys.stderr)
        return 1
    print("layer rule: no breach")
    return 0


if __name__ == "__main__":
    sys.exit(main())
