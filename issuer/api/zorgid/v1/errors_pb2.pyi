from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListErrorsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListErrorsResponse(_message.Message):
    __slots__ = ("errors",)
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[CatalogueEntry]
    def __init__(self, errors: _Optional[_Iterable[_Union[CatalogueEntry, _Mapping]]] = ...) -> None: ...

class CatalogueEntry(_message.Message):
    __slots__ = ("code", "status", "title", "texts", "retired")
    CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    RETIRED_FIELD_NUMBER: _ClassVar[int]
    code: str
    status: str
    title: str
    texts: _containers.RepeatedCompositeFieldContainer[CatalogueText]
    retired: bool
    def __init__(self, code: _Optional[str] = ..., status: _Optional[str] = ..., title: _Optional[str] = ..., texts: _Optional[_Iterable[_Union[CatalogueText, _Mapping]]] = ..., retired: _Optional[bool] = ...) -> None: ...

class CatalogueText(_message.Message):
    __slots__ = ("locale", "cause", "solution")
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_FIELD_NUMBER: _ClassVar[int]
    locale: str
    cause: str
    solution: str
    def __init__(self, locale: _Optional[str] = ..., cause: _Optional[str] = ..., solution: _Optional[str] = ...) -> None: ...
