"""Which artifact URIs the server itself may read and write, and with which repository.

The server dereferences an artifact URI (a run's `artifact_uri`) only when it names storage the
server owns:

* `mlflow-artifacts:/<p>`: `<p>` below the artifacts destination;
* a local directory (`file:///...` or an absolute path) inside the artifacts destination or
  inside a local default artifact root.

Anything else (another local directory such as `file:///etc`, `//proc/self/root`, http(s) URLs,
cloud URIs) is refused with INVALID_PARAMETER_VALUE: the server never reads a location just
because a client stored it in an experiment, which closes the whole family of stored-URI attacks
(reading `/etc/passwd` through an experiment's `artifact_location`) and server-side request
forgery through artifact URIs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from polytrack_server.artifacts.local import LocalArtifactRepository
from polytrack_server.artifacts.paths import clean_relative_path, join_relative, local_path_of, proxied_path
from polytrack_server.artifacts.repository import ArtifactRepository
from polytrack_server.errors import InvalidParameter


class ArtifactRoots:
    """The artifacts destination (`destination`, a repository for `mlflow-artifacts:` URIs) and the
    local directories (`local_roots`) whose artifact URIs the server may dereference."""

    def __init__(self, destination: ArtifactRepository, local_roots: Sequence[Path] = ()) -> None:
        self.destination = destination
        self._local_roots = [Path(os.path.realpath(root)) for root in local_roots]

    @classmethod
    def local(cls, destination: Path, extra_roots: Sequence[Path] = ()) -> ArtifactRoots:
        """Roots for a destination directory on this machine (also a dereferenceable local root)."""
        return cls(LocalArtifactRepository(destination), [destination, *extra_roots])

    def locate(self, uri: str, relative: str = "") -> tuple[ArtifactRepository, str]:
        """The repository holding `uri` and the clean path of `uri`/`relative` inside it."""
        relative = clean_relative_path(relative)
        proxied = proxied_path(uri)
        if proxied is not None:
            return self.destination, join_relative(proxied, relative)
        local = local_path_of(uri)
        if local is not None:
            real = Path(os.path.realpath(local))
            for root in self._local_roots:
                if real == root or root in real.parents:
                    inside = clean_relative_path(real.relative_to(root).as_posix().removeprefix("."))
                    return LocalArtifactRepository(root), join_relative(inside, relative)
        raise InvalidParameter(
            f"The server does not serve artifacts stored at {uri[:200]!r}: only mlflow-artifacts: URIs "
            "and directories inside its artifact roots are served. Read such artifacts from the "
            "client directly."
        )


def artifact_roots_for(destination: Path, default_artifact_root: str) -> ArtifactRoots:
    """The roots of a server storing under `destination` whose new experiments default to
    `default_artifact_root` (also dereferenceable when it is a local directory)."""
    extra = local_path_of(default_artifact_root)
    return ArtifactRoots.local(destination, [extra] if extra is not None else [])
