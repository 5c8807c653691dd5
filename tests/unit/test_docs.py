"""The README is a front door: it opens with the two commands, stays short, and every relative link in it
and in docs/ reaches a file (and, with a #fragment, a heading of that file)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```.*?^```[^\n]*$", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def links(text: str) -> list[str]:
    """Every markdown link target, outside fenced blocks and code spans."""
    return LINK.findall(CODE.sub("", FENCE.sub("", text)))


def anchors(text: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out = set()
    for h in HEADING.findall(FENCE.sub("", text)):
        slug = re.sub(r"[^\w\- ]", "", CODE.sub(lambda m: m.group(0)[1:-1], h).lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(md: Path) -> list[str]:
    """The relative links of ``md`` that reach no file, or no heading of it."""
    bad = []
    for target in links(md.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):          # http:, https:, mailto: …
            continue
        path, _, frag = target.partition("#")
        dest = (md.parent / path).resolve() if path else md
        if not dest.exists():
            bad.append(f"{md.name}: {target} (no such file)")
        elif frag and dest.suffix == ".md" and frag not in anchors(dest.read_text(encoding="utf-8")):
            bad.append(f"{md.name}: {target} (no such heading)")
    return bad


def test_readme_opens_with_make_run_and_make_test():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("```"), "the README opens with its commands, in a code block"
    first = FENCE.search(text).group(0).splitlines()[1:-1]
    commands = [line.split("#")[0].strip() for line in first if line.strip()]
    assert commands == ["make run", "make test"]


def test_readme_is_short():
    n = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n < 200, f"README.md has {n} lines; the rest belongs in docs/"


def test_every_relative_link_resolves():
    assert (ROOT / "docs").is_dir() and len(pages()) > 1
    assert sum(len(links(p.read_text(encoding="utf-8"))) for p in pages()) > 10    # the check sees the links
    bad = [b for p in pages() for b in broken_links(p)]
    assert not bad, "\n".join(bad)


def test_the_link_checker_catches_a_broken_link(tmp_path):
    (tmp_path / "there.md").write_text("# A heading: with (punctuation)\n\ntext\n", encoding="utf-8")
    md = tmp_path / "page.md"
    md.write_text("[ok](there.md) [ok](there.md#a-heading-with-punctuation) [web](https://example.org/x)\n"
                  "`[in code](gone.md)`\n```\n[in a block](gone.md)\n```\n"
                  "[gone](gone.md) ![img](img/none.png) [bad](there.md#nowhere)\n", encoding="utf-8")
    assert broken_links(md) == ["page.md: gone.md (no such file)", "page.md: img/none.png (no such file)",
                                "page.md: there.md#nowhere (no such heading)"]
