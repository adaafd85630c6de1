"""The distribution ships every package: pyproject lists them by hand, so check the list."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        config: dict[str, object] = tomllib.load(handle)["tool"]["setuptools"]
    return config


def test_every_package_folder_is_listed() -> None:
    config = _setuptools_config()
    package_dir: dict[str, str] = config["package-dir"]  # type: ignore[assignment]
    found: set[str] = set()
    for root_name, folder in package_dir.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base)
            name = ".".join((root_name, *relative.parts)) if relative.parts else root_name
            found.add(name)
    listed = set(config["packages"])  # type: ignore[arg-type]
    assert found - listed == set(), "packages missing from pyproject.toml"
    assert listed - found == set(), "pyproject.toml lists packages that do not exist"


def test_console_script_points_at_the_cli() -> None:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        scripts = tomllib.load(handle)["project"]["scripts"]
    assert scripts == {"polytrack": "polytrack.cli:main"}
    from polytrack.cli import main

    assert callable(main)
