"""Artifact storage: the repository interface, its local-filesystem implementation, and the
confinement of user-supplied paths to a root."""

from polytrack_server.artifacts.local import LocalArtifactRepository
from polytrack_server.artifacts.paths import clean_relative_path, confined, proxied_path
from polytrack_server.artifacts.repository import (
    ArtifactReader,
    ArtifactRepository,
    ArtifactWriter,
    FileInfo,
    FileStat,
)

__all__ = [
    "ArtifactReader",
    "ArtifactRepository",
    "ArtifactWriter",
    "FileInfo",
    "FileStat",
    "LocalArtifactRepository",
    "clean_relative_path",
    "confined",
    "proxied_path",
]
