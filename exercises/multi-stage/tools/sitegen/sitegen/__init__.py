"""sitegen: turn a folder of Markdown pages into a small static website.

    sitegen SOURCE_DIR OUTPUT_DIR

It understands headings (#), paragraphs, lists (- item), `code`, **bold** and [links](page.html). Like real site
generators it keeps a build cache (``.sitegen-cache/`` next to the output) so unchanged pages are
not rendered twice. The cache and the generator itself are needed to *build* the site, never to
*serve* it.
"""
from __future__ import annotations

import hashlib
import html
import re
import sys
from pathlib import Path

VERSION = "1.0"
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="sitegen {version}">
<title>{title}</title>
</head>
<body>
{nav}
{body}
<footer><p>Built by sitegen {version}.</p></footer>
</body>
</html>
"""


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def render(markdown: str) -> tuple[str, str]:
    """(title, html body) of one Markdown page."""
    out, para, items, title = [], [], [], ""

    def flush():
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        heading = re.match(r"(#{1,6})\s+(.*)", stripped)
        if heading:
            flush()
            level = len(heading.group(1))
            title = title or heading.group(2)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped.startswith("- "):
            if para:
                flush()
            items.append(stripped[2:])
        elif not stripped:
            flush()
        else:
            para.append(stripped)
    flush()
    return title or "Untitled", "\n".join(out)


def build(source: Path, output: Path) -> int:
    pages = sorted(source.glob("*.md"))
    if not pages:
        raise SystemExit(f"sitegen: no .md pages in {source}")
    cache = output.parent / ".sitegen-cache"
    cache.mkdir(parents=True, exist_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    nav = "<nav>" + " | ".join(f'<a href="{p.stem}.html">{p.stem}</a>' for p in pages) + "</nav>"
    for page in pages:
        text = page.read_text(encoding="utf-8")
        key = hashlib.sha256((VERSION + nav + text).encode()).hexdigest()
        cached = cache / f"{key}.html"
        if not cached.exists():
            title, body = render(text)
            cached.write_text(PAGE.format(version=VERSION, title=html.escape(title), nav=nav, body=body),
                              encoding="utf-8")
        (output / f"{page.stem}.html").write_text(cached.read_text(encoding="utf-8"), encoding="utf-8")
        print(f"sitegen: {page.name} -> {output / (page.stem + '.html')}")
    return len(pages)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    count = build(Path(args[0]), Path(args[1]))
    print(f"sitegen: built {count} pages")
    return 0
