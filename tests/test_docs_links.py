"""Every relative link and image in README.md and docs/*.md resolves to a file of the
repository (and every #anchor to a heading of its page); the README stays short."""

import glob
import os
import re

import pytest

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(REPO_DIR, "README.md")] + sorted(
    glob.glob(os.path.join(REPO_DIR, "docs", "*.md"))
)
#: `[text](target)` and `![alt](target)`; the text may span lines, the target may not.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
README_MAX_LINES = 200


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.

    >>> slug("LR-ASPP segmentation (paper Sec. 5.3, Table 5)")
    'lr-aspp-segmentation-paper-sec-53-table-5'
    """
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    with open(path, encoding="utf-8") as f:
        text = FENCE.sub("", f.read())
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)}


def links(path):
    with open(path, encoding="utf-8") as f:
        text = FENCE.sub("", f.read())
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
    return LINK.findall(text)


def test_slug_matches_github():
    assert (
        slug("Arguments: those of `keras.applications`") == "arguments-those-of-kerasapplications"
    )
    assert slug("Hybrids: `mgic_min_width`") == "hybrids-mgic_min_width"


def test_there_are_docs_pages():
    assert len(PAGES) > 5


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, REPO_DIR))
def test_every_relative_link_and_image_resolves(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # https:, mailto: ... are not checked offline
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(resolved):
            broken.append(f"{target}: no file {os.path.relpath(resolved, REPO_DIR)}")
        elif anchor and (not resolved.endswith(".md") or anchor not in anchors(resolved)):
            broken.append(f"{target}: no heading #{anchor}")
        elif not os.path.realpath(resolved).startswith(REPO_DIR + os.sep):
            broken.append(f"{target}: outside the repository")
    assert not broken, broken


def test_the_readme_is_short_and_its_first_screens_carry_the_essentials():
    with open(PAGES[0], encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert len(lines) <= README_MAX_LINES
    first = "\n".join(lines[:60])
    for needed in (
        "docs/mgic_scaling.png",
        "Python >= 3.10",
        "make demo",
        "make test",
        "runs/demo/",
        "```python",
        "docs/development.md",
    ):
        assert needed in first, needed


def test_the_readme_lists_every_model():
    from keras_mgic.commands.names import MODEL_NAMES

    with open(PAGES[0], encoding="utf-8") as f:
        text = f.read()
    listed = set(re.findall(r"`([a-z0-9_/]+)`", text))
    expanded = set()
    for item in listed:  # `mgic_resnet20/56/110` names three models
        head, *tails = item.split("/")
        expanded.add(head)
        stem = head.rsplit("_", 1)[0] if "_" in head else head
        for tail in tails:
            expanded.add(
                f"{stem}_{tail}" if not tail[0].isdigit() else head.rstrip("0123456789_") + tail
            )
    missing = [name for name in MODEL_NAMES if name not in expanded]
    assert not missing, missing
