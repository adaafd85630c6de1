from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Transport(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSPORT_UNSPECIFIED: _ClassVar[Transport]
    REST: _ClassVar[Transport]
    GRPC: _ClassVar[Transport]
TRANSPORT_UNSPECIFIED: Transport
REST: Transport
GRPC: Transport

class Case(_message.Message):
    __slots__ = ("name", "description", "transports", "mlflow_compatible", "requires_features", "steps")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TRANSPORTS_FIELD_NUMBER: _ClassVar[int]
    MLFLOW_COMPATIBLE_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_FEATURES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    transports: _containers.RepeatedScalarFieldContainer[Transport]
    mlflow_compatible: bool
    requires_features: _containers.RepeatedScalarFieldContainer[str]
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., transports: _Optional[_Iterable[_Union[Transport, str]]] = ..., mlflow_compatible: _Optional[bool] = ..., requires_features: _Optional[_Iterable[str]] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("rpc", "http", "expect", "captures", "label")
    RPC_FIELD_NUMBER: _ClassVar[int]
    HTTP_FIELD_NUMBER: _ClassVar[int]
    EXPECT_FIELD_NUMBER: _ClassVar[int]
    CAPTURES_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    rpc: RpcCall
    http: HttpCall
    expect: Expectation
    captures: _containers.RepeatedCompositeFieldContainer[Capture]
    label: str
    def __init__(self, rpc: _Optional[_Union[RpcCall, _Mapping]] = ..., http: _Optional[_Union[HttpCall, _Mapping]] = ..., expect: _Optional[_Union[Expectation, _Mapping]] = ..., captures: _Optional[_Iterable[_Union[Capture, _Mapping]]] = ..., label: _Optional[str] = ...) -> None: ...

class RpcCall(_message.Message):
    __slots__ = ("service", "method", "request")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    service: str
    method: str
    request: _struct_pb2.Struct
    def __init__(self, service: _Optional[str] = ..., method: _Optional[str] = ..., request: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class HttpCall(_message.Message):
    __slots__ = ("method", "path", "query", "headers", "json", "raw")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    method: str
    path: str
    query: _containers.RepeatedCompositeFieldContainer[QueryParameter]
    headers: _containers.ScalarMap[str, str]
    json: _struct_pb2.Value
    raw: str
    def __init__(self, method: _Optional[str] = ..., path: _Optional[str] = ..., query: _Optional[_Iterable[_Union[QueryParameter, _Mapping]]] = ..., headers: _Optional[_Mapping[str, str]] = ..., json: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., raw: _Optional[str] = ...) -> None: ...

class QueryParameter(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Expectation(_message.Message):
    __slots__ = ("response_subset", "error", "http_status", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    RESPONSE_SUBSET_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    response_subset: _struct_pb2.Value
    error: ErrorExpectation
    http_status: int
    headers: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, response_subset: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[ErrorExpectation, _Mapping]] = ..., http_status: _Optional[int] = ..., headers: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class ErrorExpectation(_message.Message):
    __slots__ = ("error_code", "message_regex", "grpc_status")
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_REGEX_FIELD_NUMBER: _ClassVar[int]
    GRPC_STATUS_FIELD_NUMBER: _ClassVar[int]
    error_code: str
    message_regex: str
    grpc_status: str
    def __init__(self, error_code: _Optional[str] = ..., message_regex: _Optional[str] = ..., grpc_status: _Optional[str] = ...) -> None: ...

class Capture(_message.Message):
    __slots__ = ("name", "path")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...
