"""The docs point at what is there: every link between them, and every `docs/…` in the code.

A link to another doc, or a section of one (`running.md#settings`), must find the file and a
heading with that anchor (GitHub's rule: lower case, punctuation dropped, spaces as hyphens).
Code comments and docstrings cite the docs as `docs/architecture.md#faults`; those must
resolve too. And nothing cites a document the repository does not have.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"])
PACKAGES = ("forge_core", "forge_learner", "apps", "scheduler", "trainer", "gateway", "forge_cli")
LINK = re.compile(r"\]\(([^)#\s]*\.md)?(?:#([^)\s]+))?\)")
CITED = re.compile(r"\bdocs/([a-z_]+\.md)(?:#([a-z0-9-]+))?")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def anchors(doc: Path) -> set[str]:
    text = FENCE.sub("", doc.read_text())
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def check(source: str, target: Path, anchor: str | None) -> str | None:
    if not target.is_file():
        return f"{source}: {target.relative_to(ROOT)} does not exist"
    if anchor and anchor not in anchors(target):
        return f"{source}: {target.relative_to(ROOT)} has no section #{anchor}"
    return None


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_links_between_the_docs_resolve(doc: Path) -> None:
    text = FENCE.sub("", doc.read_text())
    broken = [
        problem
        for file, anchor in LINK.findall(text)
        if not file.startswith(("http:", "https:"))
        and (problem := check(doc.name, (doc.parent / file) if file else doc, anchor))
    ]
    assert broken == []


def test_the_docs_the_code_cites_exist() -> None:
    broken = [
        problem
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for file, anchor in CITED.findall(path.read_text())
        if (problem := check(str(path.relative_to(ROOT)), ROOT / "docs" / file, anchor))
    ]
    assert broken == []


def test_nothing_cites_a_design_document_outside_the_repository() -> None:
    sources = [*DOCS, *(path for p in (*PACKAGES, "tests") for path in (ROOT / p).rglob("*.py"))]
    citing = [
        str(path.relative_to(ROOT)) for path in sources if "DESIGN" + ".md" in path.read_text()
    ]
    assert citing == [], "cite docs/architecture.md instead"
