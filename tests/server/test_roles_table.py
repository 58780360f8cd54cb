"""The real role table covers every method of every service, and maps certificates right."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

import issuer.api
from issuer.config import Role, RoleRule, load_config
from issuer.server.app import BindError, BuiltServer, RoleTableError, build_server
from issuer.server.binding import ServiceBinding
from issuer.server.roles import (
    ANY_AUTHENTICATED,
    METHOD_ROLES,
    RoleMapper,
    facts_from_pem,
)
from issuer.wiring import default_services
from tests.server.conftest import ClientPki, write_config
from tests.server.pki import issue


def _generated_files() -> list[FileDescriptor]:
    files = []
    for info in pkgutil.walk_packages(issuer.api.__path__, "issuer.api."):
        if info.name.endswith("_pb2"):
            files.append(importlib.import_module(info.name).DESCRIPTOR)
    return files


def _methods(files: list[FileDescriptor]) -> list[str]:
    return [
        f"/{service.full_name}/{m.name}"
        for file in files
        for service in file.services_by_name.values()
        for m in service.methods
    ]


def test_every_method_of_every_proto_service_has_an_entry() -> None:
    files = _generated_files()
    assert any(f.name == "zorgid/v1/ca.proto" for f in files)
    methods = _methods([*files, health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR])
    assert methods
    missing = [m for m in methods if m not in METHOD_ROLES]
    assert not missing, f"add these to METHOD_ROLES in issuer/server/roles.py: {missing}"


def test_every_table_entry_names_a_real_method() -> None:
    known = set(_methods([*_generated_files(), health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR]))
    # grpc.reflection.v1 is listed ahead of grpcio-reflection serving it.
    stale = [m for m in METHOD_ROLES if m not in known and ".reflection.v1." not in m]
    assert not stale


def test_only_plumbing_is_open_to_any_authenticated_caller() -> None:
    open_to_all = {m for m, access in METHOD_ROLES.items() if access is ANY_AUTHENTICATED}
    assert all(m.startswith(("/grpc.health.", "/grpc.reflection.")) for m in open_to_all)
    assert all(access for access in METHOD_ROLES.values()), "an empty role set is a dead entry"


def test_build_server_refuses_a_service_missing_from_the_table(
    tmp_path: Path, test_pki: ClientPki
) -> None:
    config = load_config(write_config(tmp_path, test_pki))
    forgotten = ServiceBinding(
        name="zorgid.v1.Forgotten", methods=("/zorgid.v1.Forgotten/Do",), add_to=lambda s: None
    )
    with pytest.raises(RoleTableError, match=r"/zorgid\.v1\.Forgotten/Do"):
        build_server(config, [*default_services(config), forgotten])


def test_rules_combine_conditions_and_union_roles(test_pki: ClientPki) -> None:
    cert = issue(test_pki.client_ca, "ops-1", ou="Beheer", uris=("urn:zorgid:role:auditor",))
    facts = facts_from_pem(cert.cert_pem)
    mapper = RoleMapper(
        (
            RoleRule(role=Role.OPERATOR, subject_ou="Beheer", subject_cn="ops-1"),
            RoleRule(role=Role.PORTAL, subject_ou="Beheer", subject_cn="ops-2"),
            RoleRule(role=Role.AUDITOR, san_uri="urn:zorgid:role:auditor"),
            RoleRule(role=Role.MOBILE, san_dns="ops-1"),
        )
    )
    assert mapper.roles_for(facts) == {Role.OPERATOR, Role.AUDITOR}
    assert RoleMapper(()).roles_for(facts) == frozenset()


def test_a_second_server_on_the_same_port_is_refused(
    tmp_path: Path, test_pki: ClientPki, mtls_server: BuiltServer
) -> None:
    path = write_config(tmp_path, test_pki)
    path.write_text(path.read_text().replace("127.0.0.1:0", f"127.0.0.1:{mtls_server.port}"))
    with pytest.raises(BindError, match=r"cannot listen on 127\.0\.0\.1"):
        build_server(load_config(path), default_services(load_config(path)))
