"""The README and docs/ stay true to the code: every relative link leads to a file that exists and, with `#anchor`, to
a heading of that file (anchors as GitHub makes them from headings); the README's quick start comes first and names
targets the Makefile has; its configuration table lists every ALMS_* setting the code reads; its table of published
tables is exactly schemas.PUBLISHED."""

import re
from pathlib import Path

import pytest

from assets.resources import REPO_ROOT
from schemas import PUBLISHED

README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCED = re.compile(r"^```.*?^```", flags=re.MULTILINE | re.DOTALL)


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code (a `# comment` in a shell block is not a heading)."""
    return re.sub(r"`[^`\n]*`(?!\])", "", FENCED.sub("", text))


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped (hyphens and underscores kept), spaces to hyphens,
    a repeated heading numbered -1, -2 ..."""
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCED.sub("", path.read_text()), flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            problems.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{target}: no heading #{anchor} in {linked.name}")
    return problems


def section(text: str, heading: str) -> str:
    """The text under a `## heading` of the README, up to the next `## `."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"README has no section '## {heading}'"
    return match.group(1)


def test_anchor_slugs_follow_github():
    assert anchors(REPO_ROOT / "docs" / "inputs.md") >= {
        "per-file-accounting-martsinput_files",
        "the-input-contract",
        "accepting-a-gap-on-purpose",
    }


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## A heading, with punctuation\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#a-heading-with-punctuation) [ok](#here) [web](https://example.com/x)\n"
        "[gone](missing.md) [no heading](other.md#nowhere)\n`[in code](missing.md)`\n\n## Here\n"
        "```sh\n[in a block](missing.md)\n```\n"
    )
    assert broken_links(page) == [
        f"missing.md: no file {tmp_path / 'missing.md'}",
        "other.md#nowhere: no heading #nowhere in other.md",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_lead_to_a_file_and_a_heading(page):
    assert not broken_links(page)


def test_the_quick_start_comes_first_and_its_targets_exist():
    text = README.read_text()
    first_block = re.search(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL).group(1)
    assert [line.split("#")[0].strip() for line in first_block.splitlines()] == ["make run", "make test"]
    assert text.index("```sh") < text.index("\n## ", text.index("## Quick start"))  # inside the first section
    targets = set(re.findall(r"^([\w-]+):", (REPO_ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", text))
    assert named <= targets, named - targets


def test_every_setting_the_code_reads_is_in_the_readme_configuration():
    code = "\n".join(
        path.read_text() for folder in ("assets", "pipelines", "schemas") for path in (REPO_ROOT / folder).rglob("*.py")
    )
    settings = set(re.findall(r"[\"'](ALMS_[A-Z_]+)[\"']", code)) - {"ALMS_TEST_KILL_AFTER"}  # a test's hook
    assert len(settings) >= 19
    documented = set(re.findall(r"`(ALMS_[A-Z_]+)`", section(README.read_text(), "Configuration")))
    assert settings <= documented, sorted(settings - documented)


def test_the_readme_lists_exactly_the_published_tables():
    text = section(README.read_text(), "The published tables, and where BI tools connect")
    listed = {name for row in re.findall(r"^\| (`[^|]+) \|", text, re.M) for name in re.findall(r"`(\w+)`", row)}
    assert listed == {table for _, table in PUBLISHED}
