"""The README's links work where it is read: on PyPI's page as on GitHub.

PyPI shows the README without the repository around it, so a relative link or image breaks
there. Every link must be absolute or an anchor of the README itself, and each absolute link
into the documentation site or the repository must name a page, a heading or a file that
exists here.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SITE = "https://ferrograd.github.io/ferrograd/"
REPO = re.compile(
    r"https://(?:raw\.githubusercontent\.com/ferrograd/ferrograd/main|"
    r"github\.com/ferrograd/ferrograd/blob/main)/([^#]+)"
)
TARGETS = re.findall(r"\]\(([^)\s]+)\)", README)


def _slug(heading: str) -> str:
    # Python-Markdown's toc slugify, which mkdocs uses for heading ids.
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _page(path: str) -> Path:
    path = path.strip("/")
    if not path:
        return ROOT / "docs" / "index.md"
    for candidate in (ROOT / "docs" / f"{path}.md", ROOT / "docs" / path / "index.md"):
        if candidate.exists():
            return candidate
    raise AssertionError(f"README links to {SITE}{path}/, which no page in docs/ makes")


def test_every_link_is_absolute_or_an_anchor() -> None:
    assert TARGETS
    relative = [t for t in TARGETS if not t.startswith(("https://", "http://", "#"))]
    assert not relative, f"relative links break on PyPI: {relative}"


def test_site_links_name_pages_and_headings_that_exist() -> None:
    site_links = [t for t in TARGETS if t.startswith(SITE)]
    assert site_links
    for link in site_links:
        path, _, anchor = link[len(SITE) :].partition("#")
        page = _page(path)
        if anchor:
            headings = re.findall(
                r"^#+\s+(.+?)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE
            )
            assert anchor in {_slug(h) for h in headings}, f"{link}: no such heading in {page}"


def test_repository_links_name_files_that_exist() -> None:
    files = [m.group(1) for t in TARGETS if (m := REPO.match(t))]
    assert files
    for name in files:
        assert (ROOT / name).exists(), f"README links to {name}, which is not in the repository"
