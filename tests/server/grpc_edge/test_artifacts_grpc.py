"""ArtifactsService over a real gRPC socket: streaming transfers with checksums, resumed downloads,
and every path attack of the attack list refused, as over REST."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from crc32c import crc32c

from polytrack.v1 import artifacts_service_pb2 as art
from polytrack.v1 import artifacts_service_pb2_grpc, tracking_service_pb2_grpc
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.app import Application, build_application
from polytrack_server.artifacts.local import CHECKSUM_ATTRIBUTE
from polytrack_server.config import ServerConfig
from polytrack_server.grpc_edge.server import build_grpc_server

TRAVERSALS = [
    "../secret.txt",
    "a/../../secret.txt",
    "/etc/passwd",
    "C:/secret.txt",
    "..\\secret.txt",
    "a\x00b",
    "%2e%2e%2fsecret.txt",
    "%252E%252E%252Fsecret.txt",
    "a?/../../secret.txt",
    "a#/../../secret.txt",
]
HOSTILE_LOCATIONS = [
    "file://./etc",
    "//proc/self/root",
    "http:///?/../../etc",
    "http:///#/../../etc",
    "../../etc",
]


class Server:
    def __init__(self, application: Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.application = application
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server, self.port = build_grpc_server(
            self.application.methods, self.application.invoker, "127.0.0.1:0"
        )
        self.loop.run_until_complete(self.server.start())
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(grace=None), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def stubs(tmp_path: Path) -> Iterator[tuple[object, object, Path]]:
    root = tmp_path / "root"
    destination = root / "dest"
    destination.mkdir(parents=True)
    (root / "secret.txt").write_text("s3cr3t")
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path}/db.sqlite", artifacts_destination=str(destination)
    )
    application = build_application(config)
    server = Server(application)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    artifacts = artifacts_service_pb2_grpc.ArtifactsServiceStub(channel)
    artifacts.channel = channel  # type: ignore[attr-defined]  # for calls with hand-made bytes
    artifacts.port = server.port  # type: ignore[attr-defined]  # for clients of their own
    try:
        yield (
            artifacts,
            tracking_service_pb2_grpc.TrackingServiceStub(channel),
            destination,
        )
    finally:
        channel.close()
        server.stop()
        application.close()


def upload_messages(
    path: str, data: bytes, checksum: int | None = None, chunk: int = 100_000
) -> Iterator[art.UploadArtifactRequest]:
    yield art.UploadArtifactRequest(path=path)
    for start in range(0, len(data), chunk):
        yield art.UploadArtifactRequest(data=data[start : start + chunk])
    yield art.UploadArtifactRequest(crc32c=crc32c(data) if checksum is None else checksum)


def download(stub: object, path: str, offset: int = 0, run_id: str = "") -> tuple[int, bytes, int | None]:
    size, chunks, checksum = -1, [], None
    request = art.DownloadArtifactRequest(path=path, offset=offset, run_id=run_id or None)
    for message in stub.DownloadArtifact(request):  # type: ignore[attr-defined]
        if message.HasField("file_size"):
            size = message.file_size
        chunks.append(message.data)
        if message.HasField("crc32c"):
            checksum = message.crc32c
    return size, b"".join(chunks), checksum


def test_upload_download_resume_list_delete(stubs: tuple[object, object, Path]) -> None:
    stub, _, destination = stubs
    data = bytes(range(256)) * 10_000
    reply = stub.UploadArtifact(upload_messages("1/r/artifacts/a.bin", data))  # type: ignore[attr-defined]
    assert (reply.path, reply.file_size, reply.crc32c) == ("1/r/artifacts/a.bin", len(data), crc32c(data))
    size, received, checksum = download(stub, "1/r/artifacts/a.bin")
    assert (size, received, checksum) == (len(data), data, crc32c(data))
    size, tail, checksum = download(stub, "1/r/artifacts/a.bin", offset=1_000_000)
    assert tail == data[1_000_000:] and checksum == crc32c(data)
    stub.UploadArtifact(upload_messages("1/r/artifacts/empty", b""))  # type: ignore[attr-defined]
    # The CRC-32C of nothing is 0, sent all the same: the last message always carries the field.
    assert download(stub, "1/r/artifacts/empty") == (0, b"", 0)
    listing = stub.ListArtifactFiles(art.ListArtifactFilesRequest(path="1/r/artifacts"))  # type: ignore[attr-defined]
    assert [(f.path, f.is_dir, f.file_size) for f in listing.files] == [
        ("a.bin", False, len(data)),
        ("empty", False, 0),
    ]
    stub.DeleteArtifact(art.DeleteArtifactRequest(path="1/r"))  # type: ignore[attr-defined]
    assert not (destination / "1" / "r").exists()


def test_checksum_mismatch_stores_nothing_and_a_retry_succeeds(stubs: tuple[object, object, Path]) -> None:
    stub, _, destination = stubs
    with pytest.raises(grpc.RpcError) as failure:
        stub.UploadArtifact(upload_messages("f.bin", b"payload", checksum=crc32c(b"payload") ^ 1))  # type: ignore[attr-defined]
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"received bytes have CRC-32C {crc32c(b'payload'):08x}" in failure.value.details()
    assert not (destination / "f.bin").exists() and not list(destination.iterdir())
    with pytest.raises(grpc.RpcError):
        stub.UploadArtifact(iter([art.UploadArtifactRequest(path="f.bin", data=b"no checksum")]))  # type: ignore[attr-defined]
    assert not list(destination.iterdir())
    stub.UploadArtifact(upload_messages("f.bin", b"payload"))  # type: ignore[attr-defined]
    stub.UploadArtifact(upload_messages("f.bin", b"payload v2"))  # type: ignore[attr-defined]
    assert (destination / "f.bin").read_bytes() == b"payload v2"


@pytest.mark.parametrize(
    ("late", "problem"),
    [
        (
            art.UploadArtifactRequest(crc32c=crc32c(b"part")),
            "Only the last message of an upload may carry 'crc32c'",
        ),
        (
            art.UploadArtifactRequest(path="other.bin", data=b"more"),
            "Only the first message of an upload may carry",
        ),
    ],
)
def test_fields_out_of_place_are_refused_by_name_and_store_nothing(
    stubs: tuple[object, object, Path], late: art.UploadArtifactRequest, problem: str
) -> None:
    stub, _, destination = stubs
    messages = [
        art.UploadArtifactRequest(path="placed.bin", data=b"part"),
        late,
        art.UploadArtifactRequest(data=b"rest", crc32c=crc32c(b"partrest")),
    ]
    with pytest.raises(grpc.RpcError) as failure:
        stub.UploadArtifact(iter(messages))  # type: ignore[attr-defined]
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in failure.value.details()
    assert not list(destination.iterdir())


def test_a_malformed_message_midway_is_refused_by_name_and_stores_nothing(
    stubs: tuple[object, object, Path],
) -> None:
    stub, _, destination = stubs
    raw_upload = stub.channel.stream_unary(  # type: ignore[attr-defined]
        "/polytrack.v1.ArtifactsService/UploadArtifact",
        response_deserializer=art.UploadArtifactResponse.FromString,
    )
    good = [art.UploadArtifactRequest(path="m.bin").SerializeToString()]
    good += [art.UploadArtifactRequest(data=b"x" * 70_000).SerializeToString()] * 3
    truncated = bytes([3 << 3 | 2, 0x90, 0x4E]) + b"only part of the chunk"
    with pytest.raises(grpc.RpcError) as failure:
        raw_upload(iter([*good, truncated, *good[1:]]))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Malformed UploadArtifact message" in failure.value.details()
    assert "field 3 runs past the end of the message" in failure.value.details()
    assert not list(destination.iterdir())


def test_the_checksum_of_an_upload_is_sent_with_later_downloads_and_exposes_corruption_on_disk(
    stubs: tuple[object, object, Path],
) -> None:
    stub, _, destination = stubs
    data = bytes(range(256)) * 8_000
    checksum = crc32c(data)
    stub.UploadArtifact(upload_messages("k/f.bin", data))  # type: ignore[attr-defined]
    assert download(stub, "k/f.bin") == (len(data), data, checksum)
    # Resuming with the kept checksum skips the prefix without reading it and still sends it.
    assert download(stub, "k/f.bin", offset=len(data) - 10) == (len(data), data[-10:], checksum)
    # Bytes rotting on disk without the file's size or modification time changing: the server
    # sends the checksum of what was uploaded, so the client's check sees the damage.
    stored = destination / "k" / "f.bin"
    before = stored.stat()
    damaged = bytearray(data)
    damaged[1234] ^= 0xFF
    stored.write_bytes(damaged)
    os.utime(stored, ns=(before.st_atime_ns, before.st_mtime_ns))
    _, received, sent = download(stub, "k/f.bin")
    assert received == bytes(damaged) and sent == checksum != crc32c(received)


def test_a_file_stored_without_a_checksum_is_checksummed_once_then_sent_with_the_kept_one(
    stubs: tuple[object, object, Path],
) -> None:
    stub, _, destination = stubs
    (destination / "plain.txt").write_bytes(b"written by other means")
    checksum = crc32c(b"written by other means")
    with pytest.raises(OSError):
        os.getxattr(destination / "plain.txt", CHECKSUM_ATTRIBUTE)
    # A partial download checksums the skipped prefix too, so its checksum is the whole file's.
    assert download(stub, "plain.txt", offset=8) == (22, b"by other means", checksum)
    assert os.getxattr(destination / "plain.txt", CHECKSUM_ATTRIBUTE).endswith(f":{checksum:08x}".encode())
    assert download(stub, "plain.txt") == (22, b"written by other means", checksum)


def test_an_upload_broken_off_midway_leaves_the_old_file_and_no_partial_one(
    stubs: tuple[object, object, Path],
) -> None:
    stub, _, destination = stubs
    stub.UploadArtifact(upload_messages("m/f.bin", b"version 1"))  # type: ignore[attr-defined]
    data = bytes(range(256)) * 4_000

    def broken_off() -> Iterator[art.UploadArtifactRequest]:
        messages = upload_messages("m/f.bin", data, chunk=65_536)
        for _ in range(6):
            yield next(messages)
        raise ConnectionResetError("the client went away")

    # gRPC cancels the call on the wire and reports "Exception iterating requests!".
    with pytest.raises(grpc.RpcError):
        stub.UploadArtifact(broken_off())  # type: ignore[attr-defined]
    # The server notices the cancellation on its worker thread; its temporary file goes then.
    deadline = time.monotonic() + 10
    while len(list((destination / "m").iterdir())) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [entry.name for entry in (destination / "m").iterdir()] == ["f.bin"]
    assert (destination / "m" / "f.bin").read_bytes() == b"version 1"
    # Retrying the whole upload, twice (a retry after a lost reply), stores it.
    for _ in range(2):
        reply = stub.UploadArtifact(upload_messages("m/f.bin", data))  # type: ignore[attr-defined]
        assert reply.crc32c == crc32c(data)
    assert (destination / "m" / "f.bin").read_bytes() == data
    assert [entry.name for entry in (destination / "m").iterdir()] == ["f.bin"]


def _open_descriptors_of(path: Path) -> int:
    count = 0
    for descriptor in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{descriptor}") == str(path)
    return count


def test_downloads_left_unread_hold_no_other_transfer_back_and_end_when_cancelled(
    stubs: tuple[object, object, Path],
) -> None:
    stub, _, destination = stubs
    large = destination / "large.bin"
    large.write_bytes(bytes(range(256)) * (128 * 1024))  # 32 MiB: more than any window and queue
    # Clients that start a download and stop reading, more of them than asyncio's default pool
    # has threads (cores + 4): each holds its server thread while its queue is full.
    channels = [grpc.insecure_channel(f"127.0.0.1:{stub.port}") for _ in range(12)]  # type: ignore[attr-defined]
    stalled = [
        artifacts_service_pb2_grpc.ArtifactsServiceStub(channel).DownloadArtifact(
            art.DownloadArtifactRequest(path="large.bin"), timeout=20
        )
        for channel in channels
    ]
    try:
        for download_call in stalled:
            assert next(download_call).file_size == large.stat().st_size
        assert _open_descriptors_of(large) == len(stalled)
        # Another client's transfers still go through at once.
        reply = stub.UploadArtifact(upload_messages("small.txt", b"small"), timeout=10)  # type: ignore[attr-defined]
        assert reply.crc32c == crc32c(b"small")
        assert download(stub, "small.txt")[1] == b"small"
    finally:
        for download_call in stalled:
            download_call.cancel()
        for channel in channels:
            channel.close()
    # Each cancelled download's producer stops and closes its file on its own thread.
    deadline = time.monotonic() + 10
    while _open_descriptors_of(large) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _open_descriptors_of(large) == 0


def test_run_relative_transfers_and_tracking_list(stubs: tuple[object, object, Path]) -> None:
    stub, tracking, _ = stubs
    experiment = tracking.CreateExperiment(api.CreateExperimentRequest(name="e")).experiment_id  # type: ignore[attr-defined]
    run = tracking.CreateRun(api.CreateRunRequest(experiment_id=experiment)).run  # type: ignore[attr-defined]
    run_id = run.info.run_id
    messages = list(upload_messages("dir/x.txt", b"hello"))
    messages[0].run_id = run_id
    stub.UploadArtifact(iter(messages))  # type: ignore[attr-defined]
    assert download(stub, "dir/x.txt", run_id=run_id)[1] == b"hello"
    listing = tracking.ListArtifacts(api.ListArtifactsRequest(run_id=run_id, path="dir"))  # type: ignore[attr-defined]
    assert listing.root_uri == run.info.artifact_uri
    assert [(f.path, f.file_size) for f in listing.files] == [("dir/x.txt", 5)]
    root = tracking.ListArtifacts(api.ListArtifactsRequest(run_id=run_id))  # type: ignore[attr-defined]
    assert [(f.path, f.is_dir) for f in root.files] == [("dir", True)]
    with pytest.raises(grpc.RpcError) as failure:
        tracking.ListArtifacts(api.ListArtifactsRequest(run_id=run_id, path="../../.."))  # type: ignore[attr-defined]
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_is_refused_on_every_rpc(path: str, stubs: tuple[object, object, Path]) -> None:
    stub, _, destination = stubs
    root = destination.parent
    calls = [
        lambda: stub.UploadArtifact(upload_messages(path, b"pwned")),  # type: ignore[attr-defined]
        lambda: download(stub, path),
        lambda: stub.DeleteArtifact(art.DeleteArtifactRequest(path=path)),  # type: ignore[attr-defined]
        lambda: stub.ListArtifactFiles(art.ListArtifactFilesRequest(path=path)),  # type: ignore[attr-defined]
    ]
    for attempt in calls:
        with pytest.raises(grpc.RpcError) as failure:
            attempt()
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "s3cr3t" not in (failure.value.details() or "")
    assert (root / "secret.txt").read_text() == "s3cr3t"
    assert sorted(p.name for p in root.iterdir()) == ["dest", "secret.txt"]
    assert not list(destination.iterdir())


def test_symlink_out_of_the_destination_is_refused(stubs: tuple[object, object, Path]) -> None:
    stub, _, destination = stubs
    (destination / "link").symlink_to(destination.parent)
    with pytest.raises(grpc.RpcError):
        download(stub, "link/secret.txt")
    with pytest.raises(grpc.RpcError):
        stub.UploadArtifact(upload_messages("link/new.txt", b"x"))  # type: ignore[attr-defined]
    assert not (destination.parent / "new.txt").exists()


@pytest.mark.parametrize("location", HOSTILE_LOCATIONS)
def test_hostile_artifact_locations_are_refused_at_creation(
    location: str, stubs: tuple[object, object, Path]
) -> None:
    _, tracking, _ = stubs
    with pytest.raises(grpc.RpcError) as failure:
        tracking.CreateExperiment(api.CreateExperimentRequest(name=location, artifact_location=location))  # type: ignore[attr-defined]
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_local_location_outside_the_roots_is_never_read(
    stubs: tuple[object, object, Path], tmp_path: Path
) -> None:
    _, tracking, _ = stubs
    elsewhere = tmp_path / "elsewhere"
    experiment = tracking.CreateExperiment(  # type: ignore[attr-defined]
        api.CreateExperimentRequest(name="direct", artifact_location=f"file://{elsewhere}")
    ).experiment_id
    run = tracking.CreateRun(api.CreateRunRequest(experiment_id=experiment)).run  # type: ignore[attr-defined]
    planted = elsewhere / run.info.run_id / "artifacts"
    planted.mkdir(parents=True)
    (planted / "passwd").write_text("root:x:0:0")
    with pytest.raises(grpc.RpcError) as failure:
        tracking.ListArtifacts(api.ListArtifactsRequest(run_id=run.info.run_id))  # type: ignore[attr-defined]
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "root:x" not in (failure.value.details() or "")
