"""Server settings: model source roots from `--model-source-root` and $POLYTRACK_MODEL_SOURCE_ROOTS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from polytrack.cli import build_parser, main
from polytrack_server.config import (
    MODEL_SOURCE_ROOTS_ENV,
    ServerConfig,
    from_environment,
    model_source_root,
    split_model_source_roots,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("s3://models/released", "s3://models/released"),
        ("s3://models/released/", "s3://models/released"),
        ("mlflow-artifacts:/shared", "mlflow-artifacts:/shared"),
        ("/srv/models", "/srv/models"),
        ("/srv//models/./v1/", "/srv/models/v1"),
        ("file:///srv/models", "/srv/models"),
        ("file://localhost/srv/my%20models", "/srv/my models"),
        ("  /srv/models  ", "/srv/models"),
    ],
)
def test_roots_are_normalised(given: str, expected: str) -> None:
    assert model_source_root(given) == expected


def test_relative_and_home_paths_become_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_source_root("released") == str(tmp_path / "released")
    assert model_source_root("./a/b") == str(tmp_path / "a" / "b")
    assert model_source_root("~/models") == str(tmp_path / "home" / "models")
    # A local root need not exist, and nothing is created.
    assert not (tmp_path / "released").exists()


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("", "must not be empty"),
        ("../models", "'..' segments"),
        ("/srv/models/../../etc", "'..' segments"),
        ("s3://bucket/%2e%2e/x", "'..' segments"),
        ("file:///srv/../etc", "'..' segments"),
        ("/srv/models?x=1", "query strings"),
        ("s3://bucket/m#frag", "fragments"),
        ("/srv/a\\b", "backslashes"),
        ("/srv/a\x00b", "control characters"),
        ("file://otherhost/srv/models", "must name this host"),
        ("/", "filesystem root"),
        ("file:///", "filesystem root"),
        ("s3:", "needs a location"),
    ],
)
def test_bad_roots_are_refused_with_a_reason(given: str, problem: str) -> None:
    with pytest.raises(ValueError, match="--model-source-root") as refused:
        model_source_root(given)
    assert problem in str(refused.value)


def test_environment_list_keeps_uris_whole() -> None:
    joined = os.pathsep.join(["s3://bucket/models", "/srv/models", "file:///data/m", "gs://b/x"])
    assert split_model_source_roots(joined) == ("s3://bucket/models", "/srv/models", "/data/m", "gs://b/x")
    assert split_model_source_roots(os.pathsep + "/a" + os.pathsep) == ("/a",)


def test_from_environment_reads_and_validates_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_SOURCE_ROOTS_ENV, os.pathsep.join(["s3://b/m/", "/srv/models"]))
    assert from_environment().model_source_roots == ("s3://b/m", "/srv/models")
    # An explicit value (the command line) replaces the environment's.
    assert from_environment(model_source_roots=("/x",)).model_source_roots == ("/x",)
    monkeypatch.setenv(MODEL_SOURCE_ROOTS_ENV, "/srv/../etc")
    with pytest.raises(ValueError, match=rf"\${MODEL_SOURCE_ROOTS_ENV}: .*'\.\.' segments"):
        from_environment()


def test_validate_refuses_roots_that_are_not_normalised() -> None:
    ServerConfig(model_source_roots=("/srv/models", "s3://b/m")).validate()
    with pytest.raises(ValueError, match="not normalised: give '/srv/models'"):
        ServerConfig(model_source_roots=("file:///srv/models",)).validate()
    with pytest.raises(ValueError, match=r"'\.\.' segments"):
        ServerConfig(model_source_roots=("/srv/../etc",)).validate()


def test_cli_option_is_repeatable_and_normalised() -> None:
    args = build_parser().parse_args(
        ["server", "--model-source-root", "file:///srv/models/", "--model-source-root", "s3://b/released"]
    )
    assert args.model_source_roots == ["/srv/models", "s3://b/released"]
    assert build_parser().parse_args(["server"]).model_source_roots is None


def test_cli_refuses_a_bad_root_with_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["server", "--model-source-root", "../escape"])
    assert exited.value.code == 2
    assert "--model-source-root '../escape': '..' segments are not allowed" in capsys.readouterr().err


def test_cli_help_documents_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["server", "--help"])
    text = capsys.readouterr().out
    assert "--model-source-root PATH_OR_URI" in text and MODEL_SOURCE_ROOTS_ENV in text
