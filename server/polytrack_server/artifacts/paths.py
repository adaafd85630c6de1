"""Confinement of user-supplied artifact paths to an artifact root.

Every artifact path a client sends (over REST, in a URL or a query string, or over gRPC) goes
through `clean_relative_path` before it touches storage, and `confined` resolves it against a
root, so no request can read, write or delete outside the root:

* the path is percent-decoded until it stops changing (at most `MAX_DECODE_ROUNDS` rounds), so
  `%2e%2e%2f`, `%252E%252E%252F` and deeper encodings are judged by what they finally spell;
* it is refused if it then contains a NUL, a backslash, `?` or `#`, is absolute, starts with a
  drive letter (`C:`), or has a `..` segment; `.` and empty segments are dropped;
* on disk, the resolved real path (all symbolic links followed) must be the root or lie below it,
  so a symbolic link pointing out of the root is refused, not followed.

`mlflow-artifacts:/<p>` URIs name `<p>` below the server's artifacts destination
(`proxied_path`).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from polytrack_server.errors import InvalidParameter

PROXIED_SCHEME = "mlflow-artifacts"
MAX_DECODE_ROUNDS = 8
MAX_PATH_LENGTH = 4096
_DRIVE = re.compile(r"^[A-Za-z]:")
_FORBIDDEN = {"\x00": "NUL characters", "\\": "backslashes", "?": "'?'", "#": "'#'"}


def _shown(path: str, limit: int = 120) -> str:
    text = repr(path)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fully_decoded(text: str) -> str:
    """`text` percent-decoded until decoding changes nothing more."""
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = urllib.parse.unquote(text, errors="strict")
        if decoded == text:
            return text
        text = decoded
    raise InvalidParameter(f"Invalid artifact path {_shown(text)}: too many layers of percent-encoding.")


def clean_relative_path(path: str | None) -> str:
    """The normalised relative form (`a/b/c`, "" for the root) of a user-supplied artifact path.

    Raises InvalidParameter for anything that could name a place outside the root.
    """
    if not path:
        return ""
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidParameter(f"Invalid artifact path: longer than {MAX_PATH_LENGTH} characters.")
    try:
        decoded = fully_decoded(path)
    except UnicodeDecodeError:
        raise InvalidParameter(f"Invalid artifact path {_shown(path)}: not valid UTF-8.") from None
    for character, what in _FORBIDDEN.items():
        if character in decoded:
            raise InvalidParameter(f"Invalid artifact path {_shown(path)}: {what} are not allowed.")
    if decoded.startswith("/") or _DRIVE.match(decoded):
        raise InvalidParameter(f"Invalid artifact path {_shown(path)}: absolute paths are not allowed.")
    parts = [part for part in decoded.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidParameter(f"Invalid artifact path {_shown(path)}: '..' segments are not allowed.")
    if any(_DRIVE.match(part) for part in parts[:1]):
        raise InvalidParameter(f"Invalid artifact path {_shown(path)}: drive letters are not allowed.")
    return "/".join(parts)


def join_relative(*paths: str) -> str:
    """Clean relative paths joined with `/`, skipping empty ones."""
    return "/".join(part for part in paths if part)


def confined(root: Path, relative: str) -> Path:
    """The real filesystem path of the clean `relative` path below `root`.

    Symbolic links are resolved, including those of components that do not exist yet; the
    result must be `root` (itself resolved) or lie below it, else InvalidParameter.
    """
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root.joinpath(*relative.split("/")) if relative else real_root))
    if target != real_root and real_root not in target.parents:
        raise InvalidParameter(
            f"Invalid artifact path {_shown(relative)}: it resolves outside the artifact root."
        )
    return target


def proxied_path(uri: str) -> str | None:
    """The clean path below the artifacts destination named by a `mlflow-artifacts:` URI.

    `mlflow-artifacts:/1/abc/artifacts` -> `1/abc/artifacts`; None when `uri` has another scheme.
    A host part (`mlflow-artifacts://host:port/p`, MLflow's form naming a server) is ignored:
    the path is always taken below this server's own destination.
    """
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != PROXIED_SCHEME:
        return None
    if parts.query or parts.fragment:
        raise InvalidParameter(
            f"Invalid artifact URI {_shown(uri)}: query strings and fragments are not allowed."
        )
    return clean_relative_path(parts.path.lstrip("/"))


def local_path_of(uri: str) -> Path | None:
    """The absolute local directory named by a `file:` URI or an absolute path; None otherwise."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            return None
        path = urllib.parse.unquote(parts.path)
    elif parts.scheme == "" and uri.startswith("/") and not uri.startswith("//"):
        path = uri
    else:
        return None
    if "\x00" in path or not path.startswith("/"):
        return None
    return Path(path)
