"""Every relative link of README.md and docs/*.md resolves to a file of the repository,
and every ``#anchor`` to a heading of its target (GitHub's heading ids).

Links to other sites are left alone; a link may not leave the repository (``../`` past
its root), where a reader of a clone or of the repository's web page finds nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(```|~~~)")
# [text](target) and ![alt](target), target without spaces, optional "title".
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's id for a heading: lower case, markup and punctuation dropped, spaces as '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    return [
        (number, match.group(1))
        for number, line in prose_lines(path.read_text(encoding="utf-8"))
        for match in _LINK.finditer(line)
    ]


def problems(path: Path, *, root: Path = ROOT) -> list[str]:
    """What is wrong with the links of one document of the repository at ``root``."""
    wrong = []
    for number, target in links(path):
        where = f"{path.relative_to(root)}:{number}: {target}"
        if _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if resolved != root and root not in resolved.parents:
            wrong.append(f"{where}: leaves the repository")
        elif not resolved.exists():
            wrong.append(f"{where}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            wrong.append(f"{where}: no heading with the id '{anchor}'")
    return wrong


def test_slug_follows_github_heading_ids() -> None:
    assert slug("Why this instead of …") == "why-this-instead-of-"
    assert slug("`mlpulse.yaml`, the reference") == "mlpulseyaml-the-reference"
    assert slug("Incidents, the registry and the router") == "incidents-the-registry-and-the-router"
    assert slug("inhibit_rules") == "inhibit_rules"


def test_problems_name_a_missing_file_a_missing_heading_and_a_link_out_of_the_repository(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repository"
    (root / "docs").mkdir(parents=True)
    (tmp_path / "x.md").write_text("# X\n", encoding="utf-8")  # exists, but outside
    (root / "README.md").write_text("# Read me\n", encoding="utf-8")
    doc = root / "docs" / "doc.md"
    text = "# Title\n\n[ok](#title) [gone](nothing.md) [bad](#nowhere) [out](../../x.md)\n"
    text += "```\n[in a code block](missing.md)\n```\n[web](https://example.org/)\n"
    text += "[fine](../README.md#read-me)\n"
    doc.write_text(text, encoding="utf-8")
    found = problems(doc, root=root)
    assert [line.rsplit(": ", 1)[1] for line in found] == [
        "no such file",
        "no heading with the id 'nowhere'",
        "leaves the repository",
    ]


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_every_relative_link_resolves_inside_the_repository(path: Path) -> None:
    assert problems(path) == []


def test_the_documents_link_to_something() -> None:
    assert len(DOCUMENTS) >= 10, "README.md and docs/*.md not found"
    assert sum(len(links(path)) for path in DOCUMENTS) >= 50
