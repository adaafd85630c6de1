"""Which `source` a model version may be registered from, and where its files then are.

A version's storage location is later handed to clients and read by the server's artifact layer,
so a source is a security boundary (attack list §2a: CVE-2023-1177, -2780, -2356, -6977,
CVE-2024-3573, -1483, -2928, -3848, CVE-2026-2614, ...). The policy is an allow-list:

* `runs:/<run_id>/<path>`: the run must exist and match `run_id` when one is given; the files are
  at the run's artifact root joined with the path;
* `models:/<name>/<version>`: an existing version; the files are where that version's are;
* any other location must lie under the artifact root of the given run, or under one of the
  server's artifact roots (its default artifact root and any configured extra roots).

Everything else is refused, before any lookup and whatever tags the request carries: `file:` URIs
and local paths outside the roots, schemeless relative paths, network-path references (`//host`),
`..` segments (also percent-encoded, once or several times), query strings and fragments,
backslashes, NUL and other control characters.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

from polytrack_server.errors import InvalidParameter

MAX_SOURCE_LENGTH: Final = 65535
# How many rounds of percent-decoding are inspected for smuggled characters.
_DECODE_ROUNDS: Final = 4
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_RUNS_SOURCE: Final = re.compile(r"^runs:/(?P<run_id>[A-Za-z0-9][\w\-]{0,255})(?:/(?P<path>.*))?$")
_MODELS_SOURCE: Final = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[0-9]+)/?$")


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    """An accepted source: the source as given and where the version's files are."""

    source: str
    storage_location: str


def _refuse(source: str, why: str) -> InvalidParameter:
    shown = source if len(source) <= 200 else source[:197] + "..."
    return InvalidParameter(f"Invalid model version source {shown!r}: {why}")


def _decodings(text: str) -> list[str]:
    """`text` and its percent-decodings, until decoding changes nothing."""
    forms = [text]
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def check_smuggling(source: str) -> None:
    """Refuse characters and segments that change what a location means, in any decoding."""
    for form in _decodings(source):
        if _CONTROL.search(form):
            raise _refuse(source, "control characters (such as NUL) are not allowed")
        if "\\" in form:
            raise _refuse(source, "backslashes are not allowed")
        if "?" in form or "#" in form:
            raise _refuse(source, "query strings ('?') and fragments ('#') are not allowed")
        if any(segment == ".." for segment in form.split("/")):
            raise _refuse(source, "'..' segments are not allowed")


@dataclass(frozen=True, slots=True)
class _Location:
    scheme: str
    netloc: str
    path: str


def _location(uri: str) -> _Location | None:
    """Scheme, authority and normalised path of an absolute location; None if it is not one."""
    if _SCHEME.match(uri):
        parts = urlsplit(uri)
        scheme, netloc, path = parts.scheme.lower(), parts.netloc, parts.path
        if scheme == "file":
            if netloc not in ("", "localhost"):
                return None
            scheme, netloc = "", ""
    elif uri.startswith("/") and not uri.startswith("//"):
        scheme, netloc, path = "", "", uri
    else:
        return None
    if not path.startswith("/"):
        if scheme == "" or path == "":
            return None
        path = "/" + path  # `mlflow-artifacts:x` has the same meaning as `mlflow-artifacts:/x`
    return _Location(scheme, netloc, posixpath.normpath(path) if path != "/" else "/")


def is_under(uri: str, root: str) -> bool:
    """Whether `uri` names `root` or a location inside it (same scheme and authority, path prefix
    on a segment boundary)."""
    location, base = _location(uri), _location(root)
    if location is None or base is None:
        return False
    if (location.scheme, location.netloc) != (base.scheme, base.netloc):
        return False
    prefix = base.path.rstrip("/")
    return location.path == base.path or location.path.startswith(prefix + "/")


def join_location(root: str, path: str) -> str:
    path = path.strip("/")
    if not path:
        return root
    return (root if root.endswith("/") else root + "/") + path


class SourcePolicy:
    """Decides whether a source is acceptable and resolves it to a storage location.

    `roots` are the server's artifact roots; `run_artifact_uri(run_id)` and
    `version_location(name, version)` look up what `runs:/` and `models:/` sources name (raising
    NotFound for unknown ones).
    """

    def __init__(
        self,
        roots: Sequence[str],
        run_artifact_uri: Callable[[str], str],
        version_location: Callable[[str, int], str],
    ) -> None:
        self.roots = tuple(root for root in roots if root)
        self._run_artifact_uri = run_artifact_uri
        self._version_location = version_location

    def resolve(self, source: str, run_id: str | None) -> ResolvedSource:
        if not source:
            raise InvalidParameter("Missing value for required parameter 'source'.")
        if len(source) > MAX_SOURCE_LENGTH:
            raise _refuse(source, f"it is longer than {MAX_SOURCE_LENGTH} characters")
        check_smuggling(source)
        scheme = source.split(":", 1)[0].lower() if _SCHEME.match(source) else ""
        if scheme == "runs":
            return self._runs_source(source, run_id)
        if scheme == "models":
            return self._models_source(source)
        if (scheme == "file" or not scheme) and _location(source) is None:
            raise _refuse(source, "local sources must be absolute paths under an artifact root of the server")
        roots = list(self.roots)
        if run_id:
            roots.insert(0, self._run_artifact_uri(run_id))
        if any(is_under(source, root) for root in roots):
            return ResolvedSource(source, source)
        where = "the run's artifact root or " if run_id else ""
        raise _refuse(
            source,
            f"it must be a runs:/ or models:/ URI, or a location under {where}one of the server's "
            f"artifact roots ({', '.join(self.roots) or 'none configured'})",
        )

    def _runs_source(self, source: str, run_id: str | None) -> ResolvedSource:
        match = _RUNS_SOURCE.match(source)
        if match is None:
            raise _refuse(source, "expected runs:/<run_id>/<path>")
        source_run = match.group("run_id")
        if run_id and run_id != source_run:
            raise _refuse(source, f"its run {source_run!r} differs from the run_id {run_id!r} given")
        path = match.group("path") or ""
        if any(segment in (".", "..") for segment in path.split("/")[:-1]) or path.startswith("/"):
            raise _refuse(source, "the path inside the run must be a normalised relative path")
        return ResolvedSource(source, join_location(self._run_artifact_uri(source_run), path))

    def _models_source(self, source: str) -> ResolvedSource:
        match = _MODELS_SOURCE.match(source)
        if match is None:
            raise _refuse(source, "expected models:/<name>/<version>")
        location = self._version_location(unquote(match.group("name")), int(match.group("version")))
        return ResolvedSource(source, location)
