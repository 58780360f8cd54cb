"""Server reflection as ``grpc.reflection.v1`` beside ``v1alpha`` (grpcurl, Postman, grpcui).

grpcio-reflection (1.85) only serves ``grpc.reflection.v1alpha.ServerReflection``
(grpc/grpc#38576); newer clients ask ``grpc.reflection.v1`` first and some no longer
fall back. The two protocols are the same messages under another package: every field
name, number and type of ``grpc/reflection/v1/reflection.proto`` is that of the v1alpha
file (grpc kept them wire-identical on purpose). So ``v1`` is served by the library's own
v1alpha servicer on the v1 method path, its requests and responses (de)serialised with the
v1alpha classes: no second implementation, no vendored proto.

So that reflection can also *describe* ``grpc.reflection.v1.ServerReflection`` (a client
lists services, then asks for each one's file), the v1 file descriptor is derived from
the v1alpha one at import (package and type names renamed) and added to the default pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

__all__ = ["SERVICE_NAME_V1", "SERVICE_NAME_V1ALPHA", "enable_reflection"]

_ALPHA_PACKAGE: Final = "grpc.reflection.v1alpha"
_V1_PACKAGE: Final = "grpc.reflection.v1"
_V1_FILE: Final = "grpc/reflection/v1/reflection.proto"
SERVICE_NAME_V1ALPHA: Final[str] = reflection.SERVICE_NAME
SERVICE_NAME_V1: Final = f"{_V1_PACKAGE}.ServerReflection"
_METHOD: Final = "ServerReflectionInfo"


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    """The v1 reflection file: the v1alpha one under the v1 package (same wire format)."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = _V1_FILE
    proto.package = _V1_PACKAGE
    proto.ClearField("options")
    old, new = f".{_ALPHA_PACKAGE}.", f".{_V1_PACKAGE}."
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name.removeprefix(old)
    for service in proto.service:
        for rpc in service.method:
            rpc.input_type = new + rpc.input_type.removeprefix(old)
            rpc.output_type = new + rpc.output_type.removeprefix(old)
    return proto


def _register_v1_descriptor() -> None:
    """Add the v1 file to the default pool once (a second import finds it there)."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(_V1_FILE)
    except KeyError:
        pool.Add(_v1_file())


_register_v1_descriptor()


def enable_reflection(service_names: Sequence[str], server: grpc.Server) -> tuple[str, ...]:
    """Serve reflection v1alpha and v1 for ``service_names`` (plus both reflection services).

    Returns every service name reflection lists, for the server's own record.
    """
    names = (*service_names, SERVICE_NAME_V1ALPHA, SERVICE_NAME_V1)
    servicer: Any = reflection.ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1_handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE_NAME_V1, {_METHOD: v1_handler}),)
    )
    return names
