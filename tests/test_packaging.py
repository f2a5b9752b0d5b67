"""What the wheel installs: every package of the repository, the kernels under our own name
(graphengine_kernels, never a generic top-level `kernels`), and the license."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_installed_and_kernels_under_our_name():
    config = _setuptools()
    assert config["package-dir"] == {"graphengine_kernels": "kernels"}
    folders = {"graphengine": "graphengine", "kernels": "graphengine_kernels"}
    found = set()
    for folder, name in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert set(config["packages"]) == found
    assert not any(p == "kernels" or p.startswith("kernels.") for p in config["packages"])


def test_a_permissive_license_ships():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    bounded = [d for d in project["dependencies"] if "<" not in d]
    assert not bounded, f"dependencies without an upper bound: {bounded}"
