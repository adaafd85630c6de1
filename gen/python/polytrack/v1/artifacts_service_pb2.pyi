from google.api import annotations_pb2 as _annotations_pb2
from polytrack.v1 import tracking_pb2 as _tracking_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListArtifactFilesRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ListArtifactFilesResponse(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[_tracking_pb2.FileInfo]
    def __init__(self, files: _Optional[_Iterable[_Union[_tracking_pb2.FileInfo, _Mapping]]] = ...) -> None: ...

class DeleteArtifactRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class DeleteArtifactResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UploadArtifactRequest(_message.Message):
    __slots__ = ("path", "run_id", "data", "crc32c")
    PATH_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    path: str
    run_id: str
    data: bytes
    crc32c: int
    def __init__(self, path: _Optional[str] = ..., run_id: _Optional[str] = ..., data: _Optional[bytes] = ..., crc32c: _Optional[int] = ...) -> None: ...

class UploadArtifactResponse(_message.Message):
    __slots__ = ("path", "file_size", "crc32c")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    path: str
    file_size: int
    crc32c: int
    def __init__(self, path: _Optional[str] = ..., file_size: _Optional[int] = ..., crc32c: _Optional[int] = ...) -> None: ...

class DownloadArtifactRequest(_message.Message):
    __slots__ = ("path", "run_id", "offset")
    PATH_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    path: str
    run_id: str
    offset: int
    def __init__(self, path: _Optional[str] = ..., run_id: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class DownloadArtifactResponse(_message.Message):
    __slots__ = ("file_size", "data", "crc32c")
    FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    file_size: int
    data: bytes
    crc32c: int
    def __init__(self, file_size: _Optional[int] = ..., data: _Optional[bytes] = ..., crc32c: _Optional[int] = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("store_type", "workspaces_enabled", "trace_archival_enabled", "multipart_uploads_enabled", "multipart_downloads_enabled", "presigned_upload_run_id_supported", "presigned_upload_model_id_supported", "features_enabled")
    class FeaturesEnabledEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    STORE_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKSPACES_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TRACE_ARCHIVAL_ENABLED_FIELD_NUMBER: _ClassVar[int]
    MULTIPART_UPLOADS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    MULTIPART_DOWNLOADS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    PRESIGNED_UPLOAD_RUN_ID_SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    PRESIGNED_UPLOAD_MODEL_ID_SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    FEATURES_ENABLED_FIELD_NUMBER: _ClassVar[int]
    store_type: str
    workspaces_enabled: bool
    trace_archival_enabled: bool
    multipart_uploads_enabled: bool
    multipart_downloads_enabled: bool
    presigned_upload_run_id_supported: bool
    presigned_upload_model_id_supported: bool
    features_enabled: _containers.ScalarMap[str, bool]
    def __init__(self, store_type: _Optional[str] = ..., workspaces_enabled: _Optional[bool] = ..., trace_archival_enabled: _Optional[bool] = ..., multipart_uploads_enabled: _Optional[bool] = ..., multipart_downloads_enabled: _Optional[bool] = ..., presigned_upload_run_id_supported: _Optional[bool] = ..., presigned_upload_model_id_supported: _Optional[bool] = ..., features_enabled: _Optional[_Mapping[str, bool]] = ...) -> None: ...
