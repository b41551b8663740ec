"""Development PKI: certificates carry the identity the services read, and work with gRPC mTLS."""

from __future__ import annotations

import json
import os
from concurrent import futures
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from crypto import devsetup, keys
from crypto.errors import PkiError
from crypto.pki import (
    CertifiedKey,
    PeerIdentity,
    create_ca,
    identity_from_auth_context,
    identity_from_certificate,
    issue_certificate,
    load_certified_key,
    save_certified_key,
    verify_issued_by,
)

CA = create_ca()
OIN = "00000001234567890000"  # 20 digits, the shape of an Organisatie-identificatienummer


def _leaf(**kw: str) -> CertifiedKey:
    args = {"organisation": "woonstad-rotterdam", "role": "gateway", "common_name": "gw-woonstad"}
    args.update(kw)
    return issue_certificate(CA, **args)


def test_identity_round_trip_pem_and_der() -> None:
    leaf = issue_certificate(
        CA, organisation="woonstad-rotterdam", role="gateway", common_name="gw-woonstad"
    )
    expected = PeerIdentity("woonstad-rotterdam", "gateway", "gw-woonstad", "woonstad-rotterdam")
    assert identity_from_certificate(leaf.certificate_pem()) == expected
    assert identity_from_certificate(leaf.certificate_pem().decode()) == expected
    der = leaf.certificate.public_bytes(serialization.Encoding.DER)
    assert identity_from_certificate(der) == expected
    assert identity_from_auth_context({"x509_pem_cert": [leaf.certificate_pem()]}) == expected
    assert str(expected) == "woonstad-rotterdam/gateway/gw-woonstad"


def test_pkioverheid_layout_oin_in_serial_number_legal_name_in_o() -> None:
    leaf = issue_certificate(CA, organisation="Gemeente Rotterdam", oin=OIN, role="gateway",
                             common_name="gateway-gemeente")
    subject = leaf.certificate.subject
    assert subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value == OIN
    assert subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == \
        "Gemeente Rotterdam"
    assert identity_from_certificate(leaf.certificate_pem()) == PeerIdentity(
        organisation=OIN, role="gateway", common_name="gateway-gemeente",
        organisation_name="Gemeente Rotterdam")
    # The dev layout has no serialNumber: the slug in O is the id.
    slug = _leaf()
    assert not slug.certificate.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
    assert identity_from_certificate(slug.certificate_pem()).organisation == "woonstad-rotterdam"


@pytest.mark.parametrize("oin", ["1234", "0000000123456789000A", "000000012345678900001"])
def test_an_oin_must_be_20_digits_at_issue(oin: str) -> None:
    with pytest.raises(PkiError, match="must be exactly 20 digits"):
        issue_certificate(CA, organisation="Gemeente Rotterdam", oin=oin, role="gateway",
                          common_name="gw")


def _raw_leaf(attributes: list[x509.NameAttribute]) -> x509.Certificate:
    """A CA-signed certificate with exactly the given subject (what another PKI might issue)."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder().subject_name(x509.Name(attributes))
        .issuer_name(CA.certificate.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(CA.key, hashes.SHA256())
    )


def test_a_subject_serial_number_that_is_not_an_oin_is_refused() -> None:
    oid = x509.NameOID
    cert = _raw_leaf([x509.NameAttribute(oid.SERIAL_NUMBER, "KvK-24253040"),
                      x509.NameAttribute(oid.ORGANIZATION_NAME, "Gemeente Rotterdam"),
                      x509.NameAttribute(oid.ORGANIZATIONAL_UNIT_NAME, "gateway"),
                      x509.NameAttribute(oid.COMMON_NAME, "gw.rotterdam.nl")])
    with pytest.raises(PkiError, match="not a 20-digit OIN"):
        identity_from_certificate(cert)
    # The same subject with a real OIN and a PKIoverheid-style CN (an FQDN) is accepted.
    good = _raw_leaf([x509.NameAttribute(oid.SERIAL_NUMBER, OIN),
                      x509.NameAttribute(oid.ORGANIZATION_NAME, "Gemeente Rotterdam"),
                      x509.NameAttribute(oid.ORGANIZATIONAL_UNIT_NAME, "gateway"),
                      x509.NameAttribute(oid.COMMON_NAME, "Gateway.Rotterdam.nl")])
    assert identity_from_certificate(good) == PeerIdentity(
        OIN, "gateway", "Gateway.Rotterdam.nl", "Gemeente Rotterdam")
    # Without an OIN, a legal name in O is not an organisation id.
    bare = _raw_leaf([x509.NameAttribute(oid.ORGANIZATION_NAME, "Gemeente Rotterdam"),
                      x509.NameAttribute(oid.ORGANIZATIONAL_UNIT_NAME, "gateway"),
                      x509.NameAttribute(oid.COMMON_NAME, "gw")])
    with pytest.raises(PkiError, match="organisation"):
        identity_from_certificate(bare)


def test_certificate_profile() -> None:
    leaf = issue_certificate(
        CA,
        organisation="politie-rotterdam",
        role="gateway",
        common_name="gw-politie",
        dns_names=["localhost", "gw.example"],
        ip_addresses=["127.0.0.1", "::1"],
    )
    cert = leaf.certificate
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "gw-politie.samenloop.internal", "localhost", "gw.example"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert CA.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    verify_issued_by(cert, CA.certificate)
    with pytest.raises(PkiError):
        verify_issued_by(cert, create_ca().certificate)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"role": "admin"},
        {"organisation": "Woonstad Rotterdam"},
        {"common_name": ""},
        {"organisation": "x" * 65},
    ],
)
def test_bad_identities_are_refused_at_issue(kwargs: dict[str, str]) -> None:
    with pytest.raises(PkiError):
        _leaf(**kwargs)


def test_bad_san_is_refused() -> None:
    with pytest.raises(PkiError):
        issue_certificate(
            CA, organisation="o", role="gateway", common_name="c", ip_addresses=["999.1.1.1"]
        )


def test_identity_requires_exactly_one_known_role() -> None:
    # A certificate from elsewhere (the CA's own) has no OU: not a samenloop identity.
    with pytest.raises(PkiError, match="OU"):
        identity_from_certificate(CA.certificate_pem())
    with pytest.raises(PkiError):
        identity_from_certificate(b"not a certificate")
    with pytest.raises(PkiError):
        identity_from_auth_context({})


def test_save_and_load(tmp_path: Path) -> None:
    leaf = _leaf()
    save_certified_key(leaf, tmp_path / "tls.crt", tmp_path / "tls.key")
    assert os.stat(tmp_path / "tls.key").st_mode & 0o777 == 0o600
    loaded = load_certified_key(tmp_path / "tls.crt", tmp_path / "tls.key")
    assert loaded.certificate == leaf.certificate
    other = _leaf(common_name="other")
    save_certified_key(other, tmp_path / "o.crt", tmp_path / "o.key")
    with pytest.raises(PkiError, match="does not belong"):
        load_certified_key(tmp_path / "tls.crt", tmp_path / "o.key")


def test_dev_setup_layout_and_manifest(tmp_path: Path) -> None:
    root = tmp_path / "dev"
    manifest = devsetup.dev_setup(root)
    assert json.loads((root / "manifest.json").read_text()) == manifest
    comps = manifest["components"]
    roles = {name: (c["organisation"], c["role"]) for name, c in comps.items()}
    assert roles["pseudonymiser"][1] == "pseudonymiser"
    assert roles["matcher"][1] == "matcher"
    assert {c.get("partner_kind") for c in comps.values() if c["role"] == "gateway"} == {
        "housing",
        "police",
        "mental_health",
        "municipality",
    }
    assert sum(c["role"] == "privacy_officer" for c in comps.values()) == 2
    assert roles["independent-reviewer"][1] == "independent_review"
    assert roles["wijkteam-feijenoord"] == ("wijkteam-feijenoord", "wijkteam")
    for name, comp in comps.items():
        cert_pem = (root / comp["certificate"]).read_bytes()
        ident = identity_from_certificate(cert_pem)
        assert (ident.organisation, ident.role, ident.common_name) == (*roles[name], name)
        assert os.stat(root / comp["tls_key"]).st_mode & 0o777 == 0o600
        for entry in comp["keys"].values():
            assert os.stat(root / entry["file"]).st_mode & 0o777 == 0o600
    # The files load with the loaders the services use and match the manifest.
    voprf = comps["pseudonymiser"]["keys"]["voprf"]
    sk = keys.load_voprf_key(root / voprf["file"])
    from crypto.oprf import public_key_id

    assert public_key_id(keys.load_voprf_public_key(root / voprf["public_file"])) == voprf["key_id"]
    assert sk is not None
    signing = comps["fg-gemeente-rotterdam"]["keys"]["signing"]
    assert keys.load_signing_key(root / signing["file"]).key_id == signing["key_id"]
    inbox = comps["wijkteam-feijenoord"]["keys"]["inbox"]
    assert keys.load_x25519_public_key(root / inbox["public_file"]).to_base64() == inbox["public"]
    assert len(keys.load_hmac_key(root / comps["matcher"]["keys"]["hmac"]["file"])) == 32
    assert comps["matcher"]["keys"]["checkpoint"]["note_vkey"].startswith("samenloop.local/audit+")


def test_dev_setup_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "something").write_text("x")
    with pytest.raises(PkiError, match="not empty"):
        devsetup.dev_setup(tmp_path / "dev")


def test_load_ca_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="samenloop pki init-ca"):
        devsetup.load_ca(tmp_path)


grpc = pytest.importorskip("grpc")


def _serve(server_leaf: CertifiedKey, ca_pem: bytes) -> tuple[grpc.Server, int]:
    """A gRPC server (mTLS, client cert required) whose one method returns the caller identity."""

    def who(request: bytes, context: grpc.ServicerContext) -> bytes:
        return str(identity_from_auth_context(context.auth_context())).encode()

    handler = grpc.method_handlers_generic_handler(
        "test.Identity", {"Who": grpc.unary_unary_rpc_method_handler(who)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials(
        [(server_leaf.key_pem(), server_leaf.certificate_pem())],
        root_certificates=ca_pem,
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    return server, port


def _call(port: int, ca_pem: bytes, client: CertifiedKey | None) -> bytes:
    kwargs = {}
    if client is not None:
        kwargs = {"private_key": client.key_pem(), "certificate_chain": client.certificate_pem()}
    creds = grpc.ssl_channel_credentials(root_certificates=ca_pem, **kwargs)
    options = [("grpc.ssl_target_name_override", "matcher.samenloop.internal")]
    with grpc.secure_channel(f"127.0.0.1:{port}", creds, options=options) as channel:
        method = channel.unary_unary("/test.Identity/Who")
        reply: bytes = method(b"", timeout=5)
        return reply


def test_grpc_mtls_carries_the_identity() -> None:
    ca_pem = CA.certificate_pem()
    server, port = _serve(
        issue_certificate(
            CA, organisation="gemeente-rotterdam", role="matcher", common_name="matcher"
        ),
        ca_pem,
    )
    try:
        gateway = issue_certificate(
            CA, organisation="ggz-delfland", role="gateway", common_name="gateway-ggz-delfland"
        )
        assert _call(port, ca_pem, gateway) == b"ggz-delfland/gateway/gateway-ggz-delfland"
        oin_gateway = issue_certificate(
            CA, organisation="GGZ Delfland", oin=OIN, role="gateway", common_name="gateway-ggz"
        )
        assert _call(port, ca_pem, oin_gateway) == f"{OIN}/gateway/gateway-ggz".encode()
        # No client certificate, or one from another CA: the handshake fails.
        with pytest.raises(grpc.RpcError):
            _call(port, ca_pem, None)
        stranger = issue_certificate(
            create_ca(), organisation="evil", role="gateway", common_name="gateway-evil"
        )
        with pytest.raises(grpc.RpcError):
            _call(port, ca_pem, stranger)
    finally:
        server.stop(None)
