from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    INTERNAL_ERROR: _ClassVar[ErrorCode]
    BAD_REQUEST: _ClassVar[ErrorCode]
    NOT_FOUND: _ClassVar[ErrorCode]
    TEMPORARILY_UNAVAILABLE: _ClassVar[ErrorCode]
    INVALID_PARAMETER_VALUE: _ClassVar[ErrorCode]
    ENDPOINT_NOT_FOUND: _ClassVar[ErrorCode]
    INVALID_STATE: _ClassVar[ErrorCode]
    PERMISSION_DENIED: _ClassVar[ErrorCode]
    NOT_IMPLEMENTED: _ClassVar[ErrorCode]
    UNAUTHENTICATED: _ClassVar[ErrorCode]
    RESOURCE_ALREADY_EXISTS: _ClassVar[ErrorCode]
    RESOURCE_DOES_NOT_EXIST: _ClassVar[ErrorCode]
    REQUEST_LIMIT_EXCEEDED: _ClassVar[ErrorCode]
ERROR_CODE_UNSPECIFIED: ErrorCode
INTERNAL_ERROR: ErrorCode
BAD_REQUEST: ErrorCode
NOT_FOUND: ErrorCode
TEMPORARILY_UNAVAILABLE: ErrorCode
INVALID_PARAMETER_VALUE: ErrorCode
ENDPOINT_NOT_FOUND: ErrorCode
INVALID_STATE: ErrorCode
PERMISSION_DENIED: ErrorCode
NOT_IMPLEMENTED: ErrorCode
UNAUTHENTICATED: ErrorCode
RESOURCE_ALREADY_EXISTS: ErrorCode
RESOURCE_DOES_NOT_EXIST: ErrorCode
REQUEST_LIMIT_EXCEEDED: ErrorCode
