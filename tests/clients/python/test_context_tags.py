"""The automatic run tags: user, source name and type, and the git commit read from the repository."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from polytrack import _context_tags
from polytrack._context_tags import context_tags, find_git_commit, source_name

COMMIT_A = "a" * 40
COMMIT_B = "0123456789abcdef0123456789abcdef01234567"

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="the git command is not installed")


def git(folder: Path, *arguments: str) -> str:
    completed = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *arguments],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    (folder / "train.py").write_text("print('hi')\n")
    git(folder, "add", "train.py")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def fake_git_dir(work_tree: Path, head: str, refs: dict[str, str] | None = None, packed: str = "") -> None:
    git_dir = work_tree / ".git"
    git_dir.mkdir(parents=True)
    (git_dir / "HEAD").write_text(head + "\n")
    for ref, commit in (refs or {}).items():
        (git_dir / ref).parent.mkdir(parents=True, exist_ok=True)
        (git_dir / ref).write_text(commit + "\n")
    if packed:
        (git_dir / "packed-refs").write_text(packed)


def test_a_branch_head_is_read_from_its_loose_ref(tmp_path: Path) -> None:
    fake_git_dir(tmp_path, "ref: refs/heads/main", {"refs/heads/main": COMMIT_A})
    script = tmp_path / "src" / "train.py"
    script.parent.mkdir()
    script.write_text("")
    assert find_git_commit(script) == COMMIT_A


def test_a_packed_ref_and_a_detached_head_are_read(tmp_path: Path) -> None:
    packed = f"# pack-refs with: peeled fully-peeled sorted\n{COMMIT_B} refs/heads/dev\n^{COMMIT_A}\n"
    fake_git_dir(tmp_path / "packed", "ref: refs/heads/dev", packed=packed)
    assert find_git_commit(tmp_path / "packed") == COMMIT_B
    fake_git_dir(tmp_path / "detached", COMMIT_A)
    assert find_git_commit(tmp_path / "detached") == COMMIT_A


def test_outside_a_repository_there_is_no_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_context_tags, "_find_git_dir", lambda start: None)
    assert find_git_commit(tmp_path) is None


@needs_git
def test_the_commit_matches_git_for_a_real_repository(repository: Path) -> None:
    assert find_git_commit(repository / "train.py") == git(repository, "rev-parse", "HEAD")
    git(repository, "pack-refs", "--all")  # the loose ref is gone; packed-refs holds it
    assert not (repository / ".git" / "refs" / "heads" / "main").exists()
    assert find_git_commit(repository) == git(repository, "rev-parse", "HEAD")


@needs_git
def test_a_linked_worktree_is_followed_to_the_shared_refs(repository: Path, tmp_path: Path) -> None:
    (repository / "more.py").write_text("")
    git(repository, "add", "more.py")
    git(repository, "commit", "-q", "-m", "second")
    worktree = tmp_path / "wt"
    git(repository, "worktree", "add", "-q", "-b", "feature", str(worktree), "HEAD~1")
    assert (worktree / ".git").is_file()
    assert find_git_commit(worktree / "train.py") == git(worktree, "rev-parse", "HEAD")
    assert find_git_commit(worktree) != find_git_commit(repository)


def test_a_broken_git_dir_falls_back_to_the_git_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_git_dir(tmp_path, "ref: refs/heads/missing")
    asked: list[Path] = []

    def fake_command(work_tree: Path) -> str | None:
        asked.append(work_tree)
        return COMMIT_B

    monkeypatch.setattr(_context_tags, "_commit_from_git_command", fake_command)
    assert find_git_commit(tmp_path) == COMMIT_B
    assert asked == [tmp_path.resolve()]


def test_source_name_is_the_scripts_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    monkeypatch.chdir(tmp_path)
    assert source_name(["train.py", "--epochs", "3"]) == str(script)
    assert source_name(["-c"]) == "-c"
    assert source_name([]) == "<console>"


def test_context_tags_name_the_user_source_and_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_git_dir(tmp_path, "ref: refs/heads/main", {"refs/heads/main": COMMIT_A})
    script = tmp_path / "train.py"
    script.write_text("")
    monkeypatch.setattr(sys, "argv", [str(script)])
    tags = context_tags()
    assert tags == {
        "mlflow.user": getpass.getuser(),
        "mlflow.source.name": str(script),
        "mlflow.source.type": "LOCAL",
        "mlflow.source.git.commit": COMMIT_A,
    }


def test_an_unknown_user_does_not_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_user() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert context_tags()["mlflow.user"] == "unknown"
