"""Is `pip install -e ".[dev]"` of this checkout current for the running interpreter?

    python scripts/lib/python_env.py check   exit 0 if current, else print why and exit 1
    python scripts/lib/python_env.py stamp   record that it was just installed
    python scripts/lib/python_env.py unstamp forget that

Current means: the stamp (a hash of pyproject.toml and this interpreter's path) matches, every
package in [tool.setuptools] package-dir imports from this checkout (not from another clone that
was installed into the same interpreter later), and every requirement of the project and of its
`dev` extra is installed at an allowed version.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import sys
import tomllib
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # pip vendors it
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
STAMP = ROOT / ".cache" / "stamps" / "pip-install-dev.sha256"


def fingerprint() -> str:
    return hashlib.sha256(PYPROJECT.read_bytes() + b"\0" + sys.executable.encode()).hexdigest()


def why_stale() -> str | None:
    if not STAMP.exists() or STAMP.read_text().strip() != fingerprint():
        return "no record of installing this pyproject.toml into this interpreter"
    config = tomllib.loads(PYPROJECT.read_text())
    for package, folder in config["tool"]["setuptools"]["package-dir"].items():
        try:
            spec = importlib.util.find_spec(package)
        except ImportError as error:
            return f"cannot import {package}: {error}"
        where = list(spec.submodule_search_locations or []) if spec else []
        if (ROOT / folder).resolve() not in {Path(p).resolve() for p in where}:
            return f"{package} is imported from {where or 'nowhere'}, not from {ROOT / folder}"
    project = config["project"]
    for line in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return f"{requirement.name} is not installed"
        if not requirement.specifier.contains(version, prereleases=True):
            return f"{requirement.name} {version} does not satisfy {requirement}"
    return None


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "stamp":
        STAMP.parent.mkdir(parents=True, exist_ok=True)
        STAMP.write_text(fingerprint() + "\n")
        return 0
    if command == "unstamp":
        STAMP.unlink(missing_ok=True)
        return 0
    reason = why_stale()
    if reason:
        print(reason)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
