"""The tags a new run gets automatically: who started it, from which script, at which git commit.

`context_tags()` returns MLflow's system tags for the current process:

* `mlflow.user`: the login name (`getpass.getuser()`, which reads LOGNAME/USER/... before the
  password database), or "unknown" when none can be found (some containers have no user entry);
* `mlflow.source.name`: the absolute path of the main script (`sys.argv[0]`), or what argv[0] says
  when it is not a file (`-c`, an interactive session gives "<console>");
* `mlflow.source.type`: "LOCAL";
* `mlflow.source.git.commit`: the commit checked out in the git work tree holding the script, when
  there is one. The repository's files are read directly (HEAD, loose refs, packed-refs, worktree
  `gitdir:` links), with `git rev-parse HEAD` (2 s timeout) as the fallback for layouts those do not
  cover. Git is never required: without it the tag is simply absent.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["context_tags", "find_git_commit", "source_name"]

USER_TAG = "mlflow.user"
SOURCE_NAME_TAG = "mlflow.source.name"
SOURCE_TYPE_TAG = "mlflow.source.type"
GIT_COMMIT_TAG = "mlflow.source.git.commit"

_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1 or SHA-256 object names
_GIT_TIMEOUT_SECONDS = 2.0


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no LOGNAME/USER and no passwd entry for the uid
        return "unknown"


def source_name(argv: list[str] | None = None) -> str:
    """The main program as MLflow names it: the script's absolute path, else argv[0] as given."""
    arguments = sys.argv if argv is None else argv
    if not arguments or not arguments[0]:
        return "<console>"
    first = arguments[0]
    if os.path.isfile(first):
        return os.path.abspath(first)
    return first


def _git_dir_of(work_tree: Path) -> Path | None:
    dot_git = work_tree / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():  # worktrees and submodules: ".git" holds "gitdir: <path>"
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:") :].strip())
            return target if target.is_absolute() else (work_tree / target).resolve()
    return None


def _find_git_dir(start: Path) -> tuple[Path, Path] | None:
    """(work tree, git dir) of the repository containing `start`, searching upwards."""
    for folder in (start, *start.parents):
        git_dir = _git_dir_of(folder)
        if git_dir is not None:
            return folder, git_dir
    return None


def _read_ref(git_dir: Path, common_dir: Path, ref: str) -> str | None:
    for base in (git_dir, common_dir):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8", errors="replace").strip()
            if _COMMIT.match(value):
                return value
    packed = common_dir / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split(" ", 1)
            if len(parts) == 2 and parts[1].strip() == ref and _COMMIT.match(parts[0]):
                return parts[0]
    return None


def _commit_from_files(git_dir: Path) -> str | None:
    common_dir = git_dir
    common_file = git_dir / "commondir"  # a linked worktree shares refs with the main repository
    if common_file.is_file():
        common = Path(common_file.read_text(encoding="utf-8", errors="replace").strip())
        common_dir = common if common.is_absolute() else (git_dir / common).resolve()
    head_file = git_dir / "HEAD"
    if not head_file.is_file():
        return None
    head = head_file.read_text(encoding="utf-8", errors="replace").strip()
    if head.startswith("ref:"):
        return _read_ref(git_dir, common_dir, head[len("ref:") :].strip())
    return head if _COMMIT.match(head) else None


def _commit_from_git_command(work_tree: Path) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=work_tree,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = completed.stdout.strip()
    return value if completed.returncode == 0 and _COMMIT.match(value) else None


def find_git_commit(path: str | os.PathLike[str]) -> str | None:
    """The commit checked out in the git work tree containing `path` (a file or folder), if any."""
    start = Path(path).resolve()
    if not start.is_dir():
        start = start.parent
    found = _find_git_dir(start)
    if found is None:
        return None
    work_tree, git_dir = found
    try:
        commit = _commit_from_files(git_dir)
    except OSError:
        commit = None
    return commit if commit is not None else _commit_from_git_command(work_tree)


def context_tags() -> dict[str, str]:
    """The automatic tags of a run created by this process now."""
    source = source_name()
    tags = {USER_TAG: _user(), SOURCE_NAME_TAG: source, SOURCE_TYPE_TAG: "LOCAL"}
    location = source if os.path.isfile(source) else os.getcwd()
    commit = find_git_commit(location)
    if commit is not None:
        tags[GIT_COMMIT_TAG] = commit
    return tags
