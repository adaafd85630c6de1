"""Request validation of the model registry: model names, version numbers, aliases, stages, tags.

Like `validation`, each check raises `InvalidParameter` naming the field and the offending value.
"""

from __future__ import annotations

import posixpath
import re
from typing import Final

from polytrack_server.errors import InvalidParameter
from polytrack_server.services import validation as v
from polytrack_server.store.registry_interface import STAGES

MAX_MODEL_NAME_LENGTH: Final = 256
MAX_REGISTRY_TAG_VALUE_LENGTH: Final = 100_000
MAX_ALIAS_LENGTH: Final = 255
MAX_DESCRIPTION_LENGTH: Final = 65_535
MAX_RESULTS_MODELS: Final = 1000
DEFAULT_RESULTS_MODELS: Final = 100
MAX_RESULTS_VERSIONS: Final = 200_000
DEFAULT_RESULTS_VERSIONS: Final = 200_000

_ALIAS: Final = re.compile(r"^[\w\-]*$")
_RESERVED_VERSION_ALIAS: Final = re.compile(r"^[vV]\d+$")
_VERSION: Final = re.compile(r"^\s*[0-9]+\s*$")
_CANONICAL_STAGES: Final = {stage.lower(): stage for stage in STAGES}


def model_name(name: str, field: str = "name") -> str:
    """A registered model name: not blank, no '/' or ':', a normalised path, at most 256 characters."""
    v.require(name, field)
    if not name.strip():
        raise InvalidParameter(f"Invalid value for parameter '{field}': the registered model name is blank.")
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidParameter(
            f"Registered model name {name[:80]!r}... is {len(name)} characters long; "
            f"the limit is {MAX_MODEL_NAME_LENGTH}."
        )
    if "/" in name or ":" in name or "\x00" in name or posixpath.normpath(name) != name or name == "..":
        raise InvalidParameter(
            f"Invalid registered model name {name!r}: names may not contain '/', ':' or NUL and must not "
            "be '.' or '..'."
        )
    return name


def version_number(version: str) -> int:
    """A version number sent as a string; anything but a non-negative integer is refused."""
    v.require(version, "version")
    if not _VERSION.match(version):
        raise InvalidParameter(f"Parameter 'version' must be an integer, got {version!r}.")
    # Numbers beyond the 32-bit column are valid here and simply never found by the store.
    return int(version)


def alias_name(alias: str, *, allow_latest: bool = False) -> str:
    v.require(alias, "alias")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameter(f"Alias {alias[:80]!r}... is {len(alias)} characters long; the limit is 255.")
    if not _ALIAS.match(alias):
        raise InvalidParameter(
            f"Invalid alias {alias!r}: aliases may only contain letters, digits, underscores (_) and "
            "dashes (-)."
        )
    if (alias.lower() == "latest" and not allow_latest) or _RESERVED_VERSION_ALIAS.match(alias):
        raise InvalidParameter(
            f"Invalid alias {alias!r}: 'latest' and 'v<number>' are reserved and cannot be set."
        )
    return alias


def stage(value: str, field: str = "stage") -> str:
    """The canonical spelling of a stage given in any case."""
    v.require(value, field)
    canonical = _CANONICAL_STAGES.get(value.lower())
    if canonical is None:
        raise InvalidParameter(
            f"Invalid model version stage {value!r}: valid stages are {', '.join(STAGES)} (any case)."
        )
    return canonical


def text(value: str, what: str) -> str:
    """Free text stored as given: anything but NUL, which PostgreSQL cannot store in text."""
    if "\x00" in value:
        raise InvalidParameter(f"{what} contains a NUL character, which cannot be stored.")
    return value


def registry_tag(key: str, value: str, what: str) -> tuple[str, str]:
    v.validate_key(key, what)
    v.check_length(value, MAX_REGISTRY_TAG_VALUE_LENGTH, f"The value of {what} '{key}'")
    return key, text(value, f"The value of {what} '{key}'")


def description(value: str) -> str:
    return text(v.check_length(value, MAX_DESCRIPTION_LENGTH, "The description"), "The description")


def required(value: str, field: str) -> str:
    """A required string field used to look something up (a name, an alias, a tag key)."""
    return text(v.require(value, field), f"Parameter '{field}'")
