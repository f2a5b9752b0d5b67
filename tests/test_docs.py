"""The documentation in the repository: every link in README.md and docs/*.md resolves to a
file of the repository (and a #section of it to a heading there), no link points at a path of
this machine, and docs/api.md lists exactly the public names of `ge`."""

import importlib.util
import re
from pathlib import Path

import pytest

import graphengine as ge

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
LOCAL = re.compile(r"^(file:|/|~|[A-Za-z]:\\)|localhost|127\.0\.0\.1|/(work|tmp|home|root)/")


def _listing():
    spec = importlib.util.spec_from_file_location("api_listing", ROOT / "docs/tools/api_listing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def links(page: Path) -> list[str]:
    """The targets of the page's markdown links, code blocks left out."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return LINK.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_pages_exist():
    names = {p.name for p in PAGES}
    assert {"README.md", "api.md", "architecture.md", "keras_users.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    for target in links(page):
        if re.match(r"^[a-z]+:", target):
            continue  # external: checked below
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.is_file(), f"{page.name}: link to {target!r}, but {file} does not exist"
        assert file.is_relative_to(ROOT), f"{page.name}: {target!r} leaves the repository"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{page.name}: no heading #{anchor} in {path}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_link_points_at_this_machine(page):
    bad = [t for t in links(page) if LOCAL.search(t)]
    assert not bad, f"{page.name} links to local paths: {bad}"


def test_readme_links_only_repository_files():
    targets = links(ROOT / "README.md")
    assert not [t for t in targets if re.match(r"^[a-z]+:", t)]
    for page in ("docs/api.md", "docs/architecture.md", "docs/keras_users.md"):
        assert page in targets, f"README.md does not link {page}"
    top = (ROOT / "README.md").read_text().split("## Quickstart")[0]
    assert "docs/api.md" in top and "docs/keras_users.md" in top  # near the top


def test_link_checks_catch_a_dead_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[a](missing.md) [b](/work/x.md) ```\n[c](in_code.md)\n```")
    assert links(page) == ["missing.md", "/work/x.md"]
    assert [t for t in links(page) if LOCAL.search(t)] == ["/work/x.md"]
    assert slug("Config, devices, distributed") == "config-devices-distributed"
    assert slug("`ge.models`") == "gemodels"


def test_api_md_is_up_to_date():
    listing = _listing()
    text = listing.API_MD.read_text()
    generated = listing.blocks()
    assert sorted(listing.block_keys(text)) == sorted(generated), "a block is missing or extra"
    assert listing.render(text, generated) == text, (
        "docs/api.md is out of date: run `python docs/tools/api_listing.py --write`"
    )


def test_api_md_names_every_public_name_and_nothing_else():
    listing = _listing()
    text = listing.API_MD.read_text()
    listed = set(re.findall(r"^- `(ge\.[\w.]+)", text, flags=re.M))
    expected = {
        ".".join(filter(None, ("ge", path, name)))
        for path in listing.NAMESPACES
        for name in listing.public_names(listing.namespace(path))
    }
    assert expected - listed == set(), "public names missing from docs/api.md"
    for name in listed:  # every name listed exists
        obj = ge
        for part in name.split(".")[1:]:
            assert hasattr(obj, part), f"docs/api.md lists {name}, which does not exist"
            obj = getattr(obj, part)
    assert "ge.layers.LSTM" in listed and "ge.ops.segment_sum" in listed
    for method in ("fit", "evaluate", "predict", "compile", "save", "summary"):
        assert f"- `Model.{method}(" in text


def test_api_check_sees_a_stale_page():
    listing = _listing()
    text = listing.API_MD.read_text()
    stale = text.replace("- `ge.layers.LSTM(", "- `ge.layers.LSTMv0(", 1)
    assert stale != text
    assert listing.render(stale, listing.blocks()) == text
