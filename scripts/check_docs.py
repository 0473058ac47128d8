#!/usr/bin/env python3
"""Every relative link and #anchor in README.md and docs/**/*.md resolves inside the repository.

For each Markdown link, image, reference definition and HTML href/src outside code:
- http:, https: and mailto: links are not checked (the network is not this test's business);
- any other scheme is refused;
- a path must name a file or directory inside the repository that git does not ignore
  (`../shared/...` and `target/...` do not resolve for someone who clones the project);
- an #anchor in a Markdown file must be one of its headings' GitHub slugs (lower case, spaces
  to hyphens, punctuation dropped, -1, -2, ... for repeats) or an explicit id/name;
  #L12 and #L12-L20 line anchors are accepted on other files.

Exits 1, naming file:line and the link, when one does not resolve.
"""

import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
IGNORED_SCHEMES = ("http:", "https:", "mailto:")

FENCE = re.compile(r"^\s*(```+|~~~+)")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ATTR = re.compile(r"<[a-zA-Z][^>]*?\b(?:href|src)\s*=\s*(\"[^\"]*\"|'[^']*')")
HTML_ID = re.compile(r"<[a-zA-Z][^>]*?\b(?:id|name)\s*=\s*(\"[^\"]*\"|'[^']*')")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")


def without_code_spans(line):
    """Blank out `code` spans (any number of backticks), keeping positions."""
    out, i = [], 0
    while i < len(line):
        if line[i] == "`":
            j = i
            while j < len(line) and line[j] == "`":
                j += 1
            ticks = line[i:j]
            end = line.find(ticks, j)
            if end < 0:
                out.append(line[i:j])
                i = j
                continue
            out.append(" " * (end + len(ticks) - i))
            i = end + len(ticks)
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def prose_lines(text):
    """(line number, line) outside fenced code blocks, code spans blanked."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        yield number, without_code_spans(line)


def heading_text(raw):
    """What GitHub renders of a heading: links to their text, inline HTML and code marks gone."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    text = re.sub(r"<[^>]+>", "", text)
    return text


def slug(text):
    text = heading_text(text).strip().lower()
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in (" ", "-", "_") or cat[0] in ("L", "N") or cat[0] == "M" or cat == "Pc":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors_of(path, cache={}):
    if path in cache:
        return cache[path]
    anchors, seen = set(), {}
    fence = None
    previous = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            previous = None
            continue
        if m:
            fence = m.group(1)
            previous = None
            continue
        title = None
        h = HEADING.match(line)
        if h:
            title = h.group(2)
        elif previous and previous.strip() and SETEXT.match(line) and not previous.lstrip().startswith(("|", "-", "*", ">")):
            title = previous.strip()
        if title is not None:
            base = slug(title)
            n = seen.get(base, 0)
            anchors.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
        for attr in HTML_ID.findall(line):
            anchors.add(attr[1:-1])
        previous = line
    cache[path] = anchors
    return anchors


def ignored_by_git(paths):
    if not paths:
        return set()
    try:
        run = subprocess.run(
            ["git", "check-ignore", "--stdin", "-z"],
            cwd=ROOT,
            input="\0".join(str(p) for p in paths).encode(),
            capture_output=True,
        )
    except FileNotFoundError:
        return set()
    return {Path(p) for p in run.stdout.decode().split("\0") if p}


def links_of(text):
    for number, line in prose_lines(text):
        for m in INLINE_LINK.finditer(line):
            yield number, m.group(1)
        m = REFERENCE_DEF.match(line)
        if m:
            yield number, m.group(1)
        for attr in HTML_ATTR.findall(line):
            yield number, attr[1:-1]


def check_file(md, problems, to_check_ignored):
    text = md.read_text(encoding="utf-8")
    rel_md = md.relative_to(ROOT)
    for number, target in links_of(text):
        where = f"{rel_md}:{number}"
        target = target.strip()
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1]
        lowered = target.lower()
        if lowered.startswith(IGNORED_SCHEMES):
            continue
        if re.match(r"^[a-z][a-z0-9+.-]*:", lowered):
            problems.append(f"{where}: link '{target}': a scheme other than http(s) or mailto")
            continue
        if target.startswith("//"):
            problems.append(f"{where}: link '{target}': a host-relative URL leaves the repository")
            continue
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part.split("?", 1)[0])
        if path_part:
            base = ROOT if path_part.startswith("/") else md.parent
            resolved = (base / path_part.lstrip("/")).resolve()
            try:
                inside = resolved.relative_to(ROOT)
            except ValueError:
                problems.append(f"{where}: link '{target}': points outside the repository")
                continue
            if not resolved.exists():
                problems.append(f"{where}: link '{target}': no such file or directory ({inside})")
                continue
            to_check_ignored.append((where, target, inside))
        else:
            resolved = md
        if not anchor:
            continue
        anchor = unquote(anchor)
        if resolved.is_file() and resolved.suffix.lower() in (".md", ".markdown"):
            if anchor not in anchors_of(resolved):
                problems.append(
                    f"{where}: link '{target}': no heading with the anchor #{anchor} in "
                    f"{resolved.relative_to(ROOT)}"
                )
        elif resolved.is_file():
            if not re.fullmatch(r"L\d+(-L\d+)?", anchor):
                problems.append(f"{where}: link '{target}': #{anchor} is not a line anchor (#L12)")
        else:
            problems.append(f"{where}: link '{target}': an anchor on a directory")


def main():
    files = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
    problems, to_check_ignored = [], []
    for md in files:
        if md.exists():
            check_file(md, problems, to_check_ignored)
    ignored = ignored_by_git([inside for _, _, inside in to_check_ignored])
    for where, target, inside in to_check_ignored:
        if inside in ignored:
            problems.append(f"{where}: link '{target}': {inside} is ignored by git (not in a clone)")
    for p in problems:
        print(p)
    if problems:
        print(f"docs links: {len(problems)} broken", file=sys.stderr)
        return 1
    print(f"docs links: {len(files)} files, every relative link and anchor resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
