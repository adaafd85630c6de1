"""The servicer of `polytrack.v1.ArtifactsService`, and the tracking service's ListArtifacts.

Paths from requests are cleaned (`artifacts.paths.clean_relative_path`) before any storage call,
and a run's artifact root is dereferenced only through `ArtifactRoots.locate`, so neither a
hostile path nor a hostile stored URI can reach outside the server's artifact storage. The
streaming RPCs are plain iterators: `upload_artifact` consumes request messages and
`download_artifact` yields serialized response messages; the gRPC edge feeds and drains them.
"""

from __future__ import annotations

from collections.abc import Iterator

from crc32c import CRC32CHash

from polytrack.v1 import artifacts_service_pb2 as art
from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.artifacts.paths import clean_relative_path
from polytrack_server.artifacts.repository import ArtifactReader, ArtifactRepository
from polytrack_server.artifacts.roots import ArtifactRoots
from polytrack_server.errors import InvalidParameter, Unavailable
from polytrack_server.services import validation as v
from polytrack_server.services.artifact_wire import UploadPart, download_chunk_message, parse_upload_part
from polytrack_server.store.interface import TrackingStore

STREAM_CHUNK_SIZE = 1024 * 1024
STORE_TYPE = "SqlStore"
NOT_SERVING_MESSAGE = (
    "This server does not serve artifacts (it runs with --no-serve-artifacts); "
    "read and write the artifact store directly."
)


def list_run_artifacts(
    store: TrackingStore, roots: ArtifactRoots, request: api.ListArtifactsRequest
) -> api.ListArtifactsResponse:
    """TrackingService.ListArtifacts: the entries under `path` of a run's artifact root."""
    run = store.get_run(v.run_id_of(request))
    root_uri = run.info.artifact_uri
    relative = clean_relative_path(request.path)
    response = api.ListArtifactsResponse(root_uri=root_uri)
    repository, run_root = roots.locate(root_uri)
    entries = repository.list(f"{run_root}/{relative}".strip("/") if relative else run_root)
    for entry in entries or ():
        name = entry.path.rsplit("/", 1)[-1]
        info = pb.FileInfo(path=f"{relative}/{name}" if relative else name, is_dir=entry.is_dir)
        if entry.file_size is not None:
            info.file_size = entry.file_size
        response.files.append(info)
    return response


class ArtifactsServicer:
    """Implements every RPC of ArtifactsService over the server's artifact roots.

    `serving` False (`--no-serve-artifacts`) makes the transfer RPCs fail with
    TEMPORARILY_UNAVAILABLE; GetServerInfo still answers.
    """

    def __init__(self, roots: ArtifactRoots, store: TrackingStore, *, serving: bool = True) -> None:
        self._roots = roots
        self._store = store
        self._serving = serving

    def destination(self) -> ArtifactRepository:
        if not self._serving:
            raise Unavailable(NOT_SERVING_MESSAGE)
        return self._roots.destination

    def _target(self, path: str, run_id: str | None) -> tuple[ArtifactRepository, str]:
        destination = self.destination()
        if run_id:
            run = self._store.get_run(run_id)
            return self._roots.locate(run.info.artifact_uri, path)
        return destination, clean_relative_path(path)

    def list_artifact_files(self, request: art.ListArtifactFilesRequest) -> art.ListArtifactFilesResponse:
        repository = self.destination()
        entries = repository.list(clean_relative_path(request.path))
        response = art.ListArtifactFilesResponse()
        for entry in entries or ():
            info = pb.FileInfo(path=entry.path.rsplit("/", 1)[-1], is_dir=entry.is_dir)
            if entry.file_size is not None:
                info.file_size = entry.file_size
            response.files.append(info)
        return response

    def delete_artifact(self, request: art.DeleteArtifactRequest) -> art.DeleteArtifactResponse:
        repository = self.destination()
        path = clean_relative_path(request.path)
        if not path:
            raise InvalidParameter(
                "Missing value for required parameter 'path': name the artifact to delete."
            )
        repository.delete(path)
        return art.DeleteArtifactResponse()

    # The gRPC edge hands upload_artifact its messages read by this instead of protobuf's parser.
    upload_artifact_request_parser = staticmethod(parse_upload_part)

    def upload_artifact(
        self, requests: Iterator[UploadPart | art.UploadArtifactRequest]
    ) -> art.UploadArtifactResponse:
        parts = _readable_parts(requests)
        first = next(parts, None)
        if first is None:
            raise InvalidParameter("An UploadArtifact stream needs at least one message naming the file.")
        path = v.require(first.path, "path")
        repository, target = self._target(path, first.run_id or None)
        if not target:
            raise InvalidParameter("Missing value for required parameter 'path': name the file to store.")
        checksum = CRC32CHash()
        expected: int | None = None
        with repository.open_write(target) as writer:
            part: UploadPart | None = first
            while part is not None:
                if expected is not None:
                    raise InvalidParameter("Only the last message of an upload may carry 'crc32c'.")
                if part is not first and (part.path or part.run_id):
                    raise InvalidParameter(
                        "Only the first message of an upload may carry 'path' and 'run_id'."
                    )
                if part.data:
                    writer.write(part.data)
                    checksum.update(part.data)
                if part.crc32c is not None:
                    expected = part.crc32c
                part = next(parts, None)
            if expected is None:
                raise InvalidParameter(
                    "Missing value for required parameter 'crc32c' in the last message of the upload; "
                    "nothing was stored."
                )
            actual = checksum.checksum
            if actual != expected:
                raise InvalidParameter(
                    f"Checksum mismatch for {target!r}: received bytes have CRC-32C {actual:08x}, the "
                    f"client sent {expected:08x}; nothing was stored."
                )
            size = writer.commit(crc32c=actual)
        return art.UploadArtifactResponse(path=target, file_size=size, crc32c=actual)

    def download_artifact(self, request: art.DownloadArtifactRequest) -> Iterator[bytes]:
        path = v.require(request.path, "path")
        repository, target = self._target(path, request.run_id or None)
        # Opened here, not in the generator, so that a missing file fails the call at once.
        reader = repository.open_read(target, 0)
        return self._send(reader, request.offset)

    @staticmethod
    def _send(reader: ArtifactReader, offset: int) -> Iterator[bytes]:
        """The serialized responses of a download (the gRPC edge sends bytes as they are)."""
        with reader:
            size = reader.file_size
            if offset < 0 or offset > size:
                raise InvalidParameter(f"Invalid offset {offset}: the file has {size} bytes.")
            # The whole file's checksum, kept by the repository, spares reading a skipped prefix
            # (a resumed download) to compute it; without one the bytes are checksummed as they go,
            # the skipped prefix included.
            kept = reader.crc32c
            checksum = None if kept is not None else CRC32CHash()
            if checksum is None:
                reader.skip(offset)
            else:
                skipped = 0
                while skipped < offset:
                    data = reader.read(min(STREAM_CHUNK_SIZE, offset - skipped))
                    if not data:
                        # Shrunk behind the server's back: the checksum sent will not match, and
                        # the client reports the download as corrupt.
                        break
                    checksum.update(data)
                    skipped += len(data)
            announced = False
            for data in reader.chunks(STREAM_CHUNK_SIZE):
                if checksum is not None:
                    checksum.update(data)
                yield download_chunk_message(data, None if announced else size)
                announced = True
            if checksum is not None:
                kept = checksum.checksum
                reader.remember_crc32c(kept)
            last = art.DownloadArtifactResponse(crc32c=kept)
            if not announced:
                last.file_size = size
            yield last.SerializeToString()

    def get_server_info(self, request: art.GetServerInfoRequest) -> art.GetServerInfoResponse:
        return art.GetServerInfoResponse(
            store_type=STORE_TYPE,
            workspaces_enabled=False,
            trace_archival_enabled=False,
            multipart_uploads_enabled=False,
            multipart_downloads_enabled=False,
            presigned_upload_run_id_supported=True,
            presigned_upload_model_id_supported=True,
            features_enabled={"gateway": False},
        )


def _readable_parts(requests: Iterator[UploadPart | art.UploadArtifactRequest]) -> Iterator[UploadPart]:
    """The upload's messages as parts (protobuf messages too); a malformed one ends the upload."""
    for request in requests:
        part = request if isinstance(request, UploadPart) else UploadPart.of_message(request)
        if part.malformed is not None:
            raise InvalidParameter(f"Malformed UploadArtifact message: {part.malformed}; nothing was stored.")
        yield part
