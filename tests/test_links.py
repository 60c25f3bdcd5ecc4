"""Every relative link of the README, docs/ and the reports' index names a
file or folder of this repository: a link into a sibling checkout
(../shared/...) works only on the machine that wrote it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md"), REPO_ROOT / "reports" / "README.md"])

FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
# [text](target "title") and ![alt](target); [label]: target definitions.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)")
DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(\S+)", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:


def links(markdown: str) -> list[str]:
    """The link targets of `markdown`, outside code blocks and code spans."""
    prose = CODE_SPAN.sub("", FENCE.sub("", markdown))
    found = [m.group(1) for m in INLINE.finditer(prose)] + DEFINITION.findall(prose)
    return [target.strip("<>") for target in found]


def broken(document: Path, root: Path = REPO_ROOT) -> list[str]:
    """`document`'s relative links that leave `root` (the repository) or name nothing."""
    bad = []
    for target in links(document.read_text(encoding="utf-8")):
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not path or EXTERNAL.match(target):
            continue
        resolved = (document.parent / path).resolve()
        if not resolved.is_relative_to(root.resolve()):
            bad.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            bad.append(f"{target} (missing)")
    return bad


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_resolve(document):
    assert document.is_file(), f"{document.relative_to(REPO_ROOT)} is missing"
    bad = broken(document)
    assert not bad, f"{document.relative_to(REPO_ROOT)}: links that do not resolve: " + "; ".join(bad)


def test_a_link_out_of_the_repository_fails(tmp_path):
    text = ("[ok](../README.md) [anchor](#x) [web](https://example.org/a) `[code](../../nowhere)`\n"
            "[notes](../../shared/STYLE.md) ![gone](missing.png#frag)\n[ref]: ../nowhere.md\n")
    assert links(text) == ["../README.md", "#x", "https://example.org/a", "../../shared/STYLE.md",
                           "missing.png#frag", "../nowhere.md"]
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "README.md").write_text("# a repository\n", encoding="utf-8")
    (repo / "docs" / "page.md").write_text(text, encoding="utf-8")
    assert broken(repo / "docs" / "page.md", root=repo) == [
        "../../shared/STYLE.md (outside the repository)", "missing.png#frag (missing)",
        "../nowhere.md (missing)"]
