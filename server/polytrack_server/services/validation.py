"""Request validation shared by the servicers: required fields, names, lengths and limits.

Each check raises `InvalidParameter` with a message naming the field and the offending value, so a
client can fix its request without reading server logs. The limits are MLflow's, because MLflow
clients already split their requests to fit them.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from polytrack_server.errors import InvalidParameter

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_RUN_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_ARTIFACT_LOCATION_LENGTH = 2048
MAX_RESULTS_SEARCH = 50000
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_TOTAL = 1000
MAX_BULK_RUN_IDS = 100
MAX_BULK_POINTS = 2500
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_DATASET_SCHEMA_LENGTH = 1048575
MAX_DATASET_PROFILE_LENGTH = 16777215
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500

_KEY_PATTERN = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require(value: str, name: str) -> str:
    """A required string field: unset and "" both count as missing."""
    if not value:
        raise InvalidParameter(f"Missing value for required parameter '{name}'.")
    return value


def require_present(message: Any, field: str) -> None:
    """A required non-string field (number, enum, message) must be set."""
    if not message.HasField(field):
        raise InvalidParameter(f"Missing value for required parameter '{field}'.")


def run_id_of(request: Any) -> str:
    """`run_id`, else the deprecated `run_uuid`; one of them is required."""
    run_id: str = request.run_id or request.run_uuid
    if not run_id:
        raise InvalidParameter("Missing value for required parameter 'run_id'.")
    return run_id


def validate_run_id_format(run_id: str) -> str:
    if not _RUN_ID_PATTERN.match(run_id):
        raise InvalidParameter(f"Invalid value {_shown(run_id)} for parameter 'run_id': not a valid run id.")
    return run_id


def validate_key(key: str, what: str, max_length: int = MAX_ENTITY_KEY_LENGTH) -> str:
    """A metric, param or tag name: a short, normalised, relative path of safe characters."""
    if not key:
        raise InvalidParameter(f"Missing value for required parameter 'key' of the {what}.")
    if len(key) > max_length:
        raise InvalidParameter(
            f"{what.capitalize()} key {_shown(key)} is {len(key)} characters long; the limit is {max_length}."
        )
    if not _KEY_PATTERN.match(key):
        raise InvalidParameter(
            f"Invalid {what} name {_shown(key)}: names may only contain alphanumerics, underscores (_), "
            "dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    if key.startswith("/") or posixpath.normpath(key) != key or {".", ".."} & set(key.split("/")):
        raise InvalidParameter(
            f"Invalid {what} name {_shown(key)}: names must be normalised relative paths "
            "(no leading '/', no '.' or '..' segments, no '//')."
        )
    return key


def truncate(value: str, limit: int) -> str:
    """Over-long param and run-tag values are cut to the limit, as MLflow clients expect."""
    return value if len(value) <= limit else value[:limit]


def check_length(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise InvalidParameter(f"{what} is {len(value)} characters long; the limit is {limit}.")
    return value


def validate_experiment_name(name: str, field: str = "name") -> str:
    require(name, field)
    if not name.strip():
        raise InvalidParameter(f"Invalid value for parameter '{field}': the experiment name is blank.")
    return check_length(name, MAX_EXPERIMENT_NAME_LENGTH, f"Experiment name {_shown(name)}")


def validate_metric_value(value: float, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, float | int):
        raise InvalidParameter(f"Got invalid value {_shown(value)} for metric '{key}': expected a number.")
    return float(value)


def validate_timestamp(timestamp: int, what: str) -> int:
    if timestamp < 0:
        raise InvalidParameter(f"Invalid timestamp {timestamp} for {what}: must not be negative.")
    return timestamp


def validate_max_results(value: int, field: str, limit: int, minimum: int = 1) -> int:
    if value < minimum or value > limit:
        raise InvalidParameter(
            f"Invalid value {value} for parameter '{field}': it must be between {minimum} and {limit}."
        )
    return value


def validate_batch_sizes(metrics: int, params: int, tags: int) -> None:
    for count, limit, what in (
        (metrics, MAX_BATCH_METRICS, "metrics"),
        (params, MAX_BATCH_PARAMS, "params"),
        (tags, MAX_BATCH_TAGS, "tags"),
    ):
        if count > limit:
            raise InvalidParameter(
                f"A batch logging request can contain at most {limit} {what}; got {count}."
            )
    if metrics + params + tags > MAX_BATCH_TOTAL:
        raise InvalidParameter(
            f"A batch logging request can contain at most {MAX_BATCH_TOTAL} metrics, params and tags "
            f"in total; got {metrics + params + tags}."
        )


def reject_duplicate_keys(keys: Sequence[str], what: str) -> None:
    duplicates = sorted(key for key, count in Counter(keys).items() if count > 1)
    if duplicates:
        raise InvalidParameter(f"Duplicate {what} keys in one request: {', '.join(map(repr, duplicates))}.")


def validate_artifact_location(location: str) -> str:
    """Reject locations that could later point the server outside its artifact roots.

    The artifacts layer confines every read and write to its roots as well; this check refuses
    the known smuggling forms up front so they are never stored.
    """
    check_length(location, MAX_ARTIFACT_LOCATION_LENGTH, "artifact_location")
    if location.startswith("runs:"):
        raise InvalidParameter(
            f"Invalid artifact_location {_shown(location)}: 'runs:' URIs are not valid artifact locations."
        )
    if "?" in location or "#" in location or "\x00" in location or "\\" in location:
        raise InvalidParameter(
            f"Invalid artifact_location {_shown(location)}: query strings, fragments, backslashes and NUL "
            "characters are not allowed."
        )
    decoded = location
    for _ in range(3):  # catch single, double and triple percent-encoding
        decoded = unquote(decoded)
    if any(part == ".." for part in re.split(r"[/\\]", decoded)):
        raise InvalidParameter(
            f"Invalid artifact_location {_shown(location)}: '..' segments are not allowed."
        )
    _check_location_form(location, decoded)
    return location


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def _check_location_form(location: str, decoded: str) -> None:
    """Refuse the forms that disguise a local path: `//host/...` without a scheme (read by some
    URI parsers as a host, by others as the path `/proc/...`), `file://` URIs naming a host or a
    relative path (`file://./etc`), drive letters, and relative paths without a scheme (resolved
    against whatever the working directory happens to be)."""
    scheme = _SCHEME.match(decoded)
    if scheme is None:
        if decoded.startswith("//"):
            raise InvalidParameter(
                f"Invalid artifact_location {_shown(location)}: a location starting with '//' needs a scheme."
            )
        if not decoded.startswith("/"):
            raise InvalidParameter(
                f"Invalid artifact_location {_shown(location)}: give an absolute path or a URI with a "
                "scheme, not a relative path."
            )
        return
    name = scheme.group(1).lower()
    if len(name) == 1:
        raise InvalidParameter(
            f"Invalid artifact_location {_shown(location)}: drive letters are not allowed."
        )
    if name == "file":
        rest = decoded[len("file:") :]
        if rest.startswith("//"):
            host = rest[2:].partition("/")[0]
            if host not in ("", "localhost"):
                raise InvalidParameter(
                    f"Invalid artifact_location {_shown(location)}: a file: URI must name a local "
                    "absolute path (file:///path), not a host or a relative path."
                )
        elif not rest.startswith("/"):
            raise InvalidParameter(
                f"Invalid artifact_location {_shown(location)}: a file: URI must name an absolute path."
            )


def finite_or_clamped(value: float) -> float:
    """Infinity is stored as the largest finite double; NaN stays NaN."""
    if math.isinf(value):
        return math.copysign(1.7976931348623157e308, value)
    return value
