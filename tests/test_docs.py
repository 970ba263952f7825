"""What the README promises a new user: the Python it needs, paths that exist in the
repository, and the commands it lists."""

from __future__ import annotations

import re

from tests.support.paths import REPO

README = (REPO / "README.md").read_text()


def test_readme_says_which_python() -> None:
    assert "Python ≥ 3.11" in README


def test_readme_and_docs_name_only_paths_in_the_repository() -> None:
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text()
        assert "shared/" not in text, page.name
        for path in re.findall(r"\((docs/[\w./-]+|img/[\w./-]+)\)", text):
            base = REPO if path.startswith("docs/") else REPO / "docs"
            assert (base / path).exists(), (page.name, path)


def test_readme_lists_every_command() -> None:
    for command in ("show", "ofproto-trace", "trace", "demo", "diagram", "serve"):
        assert f"`neutrace {command}" in README, command
