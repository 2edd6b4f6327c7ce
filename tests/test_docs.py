"""The README and docs/ hold together: the README starts with the start (at most 150 lines), its table of
contents reaches every page of docs/, and every relative link in them leads to a file of the repository
and, with a `#fragment`, to a heading that exists there (GitHub's anchor for it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 150

# Inline links and images `[text](target "title")`, and reference definitions `[label]: target`.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
FENCE = re.compile(r"^\s{0,3}(```|~~~).*?^\s{0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _prose(text: str) -> str:
    """The text without code: a `[x](y)` inside a code block or span is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(text: str) -> Iterator[str]:
    prose = _prose(text)
    yield from INLINE_LINK.findall(prose)
    yield from REFERENCE_DEFINITION.findall(prose)


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: markup and punctuation dropped, lower case, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays, its target goes
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2 suffixes for repeated headings."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        anchor = github_anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def broken_links(path: Path, text: str | None = None) -> list[str]:
    """Each relative link of `path` (or of `text`, as if it were at `path`) that leads nowhere in the
    repository, with why."""
    problems = []
    for target in links(path.read_text() if text is None else text):
        if EXTERNAL.match(target):
            continue
        file_part, _, fragment = target.partition("#")
        resolved = (path.parent / unquote(file_part)).resolve() if file_part else path
        shown = f"{path.relative_to(ROOT)}: ({target})"
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{shown} leads out of the repository")
        elif not resolved.exists():
            problems.append(f"{shown}: no such file {resolved.relative_to(ROOT)}")
        elif fragment and resolved.suffix == ".md" and unquote(fragment).lower() not in anchors(resolved):
            problems.append(f"{shown}: {resolved.relative_to(ROOT)} has no heading with the anchor #{fragment}")
    return problems


def readme_problems(text: str) -> list[str]:
    problems = []
    lines = len(text.splitlines())
    if lines > README_MAX_LINES:
        problems.append(f"README.md has {lines} lines; at most {README_MAX_LINES} (move the rest into docs/)")
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(text)}
    for page in sorted(DOCS.glob("*.md")):
        if page.resolve() not in linked:
            problems.append(f"README.md's table of contents does not link {page.relative_to(ROOT)}")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    problems = broken_links(path)
    assert not problems, "\n".join(problems)


def test_the_readme_is_short_and_reaches_every_page_of_docs() -> None:
    problems = readme_problems(README.read_text())
    assert not problems, "\n".join(problems)


# ---- The checks bite -----------------------------------------------------------------------------


def test_a_link_to_a_missing_file_or_heading_is_reported() -> None:
    page = DOCS / "a-page.md"  # a page of docs/, as far as relative links go (never written)
    cases = {
        "[settings](settings.md)": None,
        "[settings](setings.md)": "no such file docs/setings.md",
        "[x](../README.md#first-deploy-from-a-fresh-account)": None,
        "[x](../README.md#first-deploy)": "has no heading with the anchor #first-deploy",
        "[x](first-deploy.md#https-modes-jupyterhubhttpsmode)": None,
        "[x](first-deploy.md#https-modes)": "has no heading with the anchor #https-modes",
        "[x](../../outside.md)": "leads out of the repository",
        "[x]: ../maintenance/nowhere.py": "no such file maintenance/nowhere.py",
        "`[not a link](nowhere.md)`": None,
        "```\n[not a link](nowhere.md)\n```": None,
        "[ext](https://example.org/nowhere.md)": None,
    }
    for text, expected in cases.items():
        problems = broken_links(page, f"# Mutation\n\n{text}\n")
        if expected is None:
            assert problems == [], text
        else:
            assert len(problems) == 1 and expected in problems[0], (text, problems)


def test_a_long_readme_or_a_page_missing_from_its_contents_is_reported() -> None:
    text = README.read_text()
    assert readme_problems(text + "\n" * (README_MAX_LINES - len(text.splitlines()))) == []
    too_long = text + "\n" * (README_MAX_LINES + 1 - len(text.splitlines()))
    assert readme_problems(too_long) == ["README.md has 151 lines; at most 150 (move the rest into docs/)"]
    without_cost = text.replace("(docs/cost.md)", "(docs/settings.md)")
    assert readme_problems(without_cost) == ["README.md's table of contents does not link docs/cost.md"]


def test_github_anchors() -> None:
    assert github_anchor("HTTPS modes (`jupyterhub.https.mode`)") == "https-modes-jupyterhubhttpsmode"
    assert github_anchor("Who read or changed a user's data") == "who-read-or-changed-a-users-data"
    assert github_anchor("Why cluster-autoscaler (not Karpenter)") == "why-cluster-autoscaler-not-karpenter"


def rule_count_claims(text: str) -> list[int]:
    """The checklist's size as a page states it ("17 rules", "holds the 17 rules")."""
    return [int(n) for n in re.findall(r"\b(\d+) rules\b", text)]


def test_the_pages_state_the_checklist_s_real_size() -> None:
    from policies.checklist import RULES

    for path in (README, DOCS / "review-and-release.md"):
        claims = rule_count_claims(path.read_text())
        assert claims and set(claims) == {len(RULES)}, (path.name, claims, len(RULES))
    # The check bites: a page that still says the old number.
    assert set(rule_count_claims("security checklist (16 rules, the same as the policy pack)")) != {len(RULES)}
