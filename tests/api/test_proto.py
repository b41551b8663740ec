"""The proto files are the spec partners read: they compile, the committed code matches them,
and they keep the AIP conventions the API promises."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from google.protobuf import descriptor as _descriptor

from samenloop import protogen

API_MODULES = ["audit", "common", "partner", "policy", "pseudonymiser", "wijkteam"]


def test_every_proto_compiles_and_the_generated_modules_import(tmp_path: Path) -> None:
    generated = protogen.generate(tmp_path)
    names = {p.name for p in generated}
    for module in API_MODULES:
        assert f"{module}_pb2.py" in names
        assert f"{module}_pb2_grpc.py" in names
    for module in API_MODULES:
        importlib.import_module(f"samenloop.v1.{module}_pb2")
        importlib.import_module(f"samenloop.v1.{module}_pb2_grpc")


def test_committed_generated_code_matches_the_protos() -> None:
    assert protogen.main(["--check"]) == 0, "run `make proto` and commit samenloop/v1"


def _files() -> list[_descriptor.FileDescriptor]:
    return [importlib.import_module(f"samenloop.v1.{m}_pb2").DESCRIPTOR for m in API_MODULES]


def test_package_is_versioned() -> None:
    for file in _files():
        assert file.package == "samenloop.v1", file.name


@pytest.mark.parametrize("file", _files(), ids=lambda f: f.name)
def test_enums_start_with_unspecified_zero(file: _descriptor.FileDescriptor) -> None:
    for enum in file.enum_types_by_name.values():
        zero = enum.values_by_number[0]
        assert zero.name.endswith("_UNSPECIFIED"), f"{enum.name}: value 0 is {zero.name}"
        prefix = zero.name.removesuffix("UNSPECIFIED")
        for value in enum.values:
            assert value.name.startswith(prefix), f"{enum.name}.{value.name} lacks prefix {prefix}"


def test_every_rpc_has_its_own_request_message() -> None:
    seen: dict[str, str] = {}
    for file in _files():
        for service in file.services_by_name.values():
            for method in service.methods:
                request = method.input_type.full_name
                assert request.endswith("Request"), f"{service.name}.{method.name} takes {request}"
                assert request not in seen, f"{request} used twice ({method.name})"
                seen[request] = method.name


def test_services_cover_every_role() -> None:
    services = {s for f in _files() for s in f.services_by_name}
    assert services == {
        "Pseudonymiser",
        "PartnerService",
        "WijkteamService",
        "PolicyService",
        "AuditService",
    }


def test_no_message_carries_identity_fields_in_clear() -> None:
    forbidden = {"bsn", "geslachtsnaam", "voornamen", "voorletters", "geboortedatum", "postcode",
                 "huisnummer", "email", "telefoon", "name_of_person", "address"}
    for file in _files():
        for message in file.message_types_by_name.values():
            for field in message.fields:
                assert field.name not in forbidden, f"{message.name}.{field.name}"
