"""Path confinement: every hostile form is refused, clean paths are normalised, symlinks stay inside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from polytrack_server.artifacts.paths import clean_relative_path, confined, local_path_of, proxied_path
from polytrack_server.errors import InvalidParameter

HOSTILE = [
    "../secret.txt",
    "a/../../secret.txt",
    "..",
    "/etc/passwd",
    "C:/Windows/win.ini",
    "c:",
    "..\\..\\secret.txt",
    "a\\b",
    "a\x00b",
    "%2e%2e%2fsecret.txt",
    "%2E%2E/secret.txt",
    "%252E%252E%252Fsecret.txt",
    "%25252e%25252e%25252fsecret.txt",
    "%2fetc%2fpasswd",
    "a?/../..",
    "a#/../..",
    "%00",
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidParameter, match="Invalid artifact path"):
        clean_relative_path(path)


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("", ""),
        ("a/b.txt", "a/b.txt"),
        ("./a//b/", "a/b"),
        ("dir/é ü.txt", "dir/é ü.txt"),
        ("100%.txt", "100%.txt"),
    ],
)
def test_clean_paths_are_normalised(path: str, clean: str) -> None:
    assert clean_relative_path(path) == clean


def test_symlinks_leaving_the_root_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner")
    with pytest.raises(InvalidParameter, match="outside"):
        confined(root, "escape/file.txt")
    assert confined(root, "alias/x") == Path(os.path.realpath(root / "inner" / "x"))


def test_mlflow_artifacts_uris_map_below_the_destination() -> None:
    assert proxied_path("mlflow-artifacts:/1/abc/artifacts") == "1/abc/artifacts"
    assert proxied_path("mlflow-artifacts://host:5000/1/x") == "1/x"
    assert proxied_path("s3://bucket/x") is None
    with pytest.raises(InvalidParameter):
        proxied_path("mlflow-artifacts:/../../etc")


def test_local_paths_of_uris() -> None:
    assert local_path_of("file:///srv/a") == Path("/srv/a")
    assert local_path_of("/srv/a") == Path("/srv/a")
    for uri in ("//proc/self/root", "file://host/x", "relative/x", "http://h/x"):
        assert local_path_of(uri) is None
