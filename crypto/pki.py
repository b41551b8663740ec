"""Development PKI: a CA and per-component X.509 certificates for mTLS, and caller identity.

Every gRPC link is mutual TLS. The services learn who is calling from the client certificate,
so the certificate carries the identity in fixed places (ADR 0003):

    Subject serialNumber = OIN (20 digits), when present: the organisation id (PKIoverheid)
    Subject O  = legal name with an OIN; otherwise the organisation id (`woonstad-rotterdam`)
    Subject OU = role             (one of `ROLES`)
    Subject CN = component name   (e.g. `gateway-woonstad-rotterdam`)
    SAN        = DNS `<CN>.samenloop.internal` by default: the name clients expect (server
                 identity, ADR 0003); extra DNS names and IPs only when asked for
    EKU        = serverAuth and clientAuth (every component is both)

Keys are ECDSA P-256: the key type every TLS stack (gRPC's BoringSSL included) supports for both
client and server authentication. This CA is for development and tests; production certificates
come from the organisations' own PKI but must carry the same subject fields.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto._files import read_private_file, write_private_file, write_public_file
from crypto.errors import PkiError

ROLES: Final = (
    "gateway",
    "pseudonymiser",
    "matcher",
    "privacy_officer",
    "wijkteam",
    "independent_review",
)
SERVICE_DOMAIN: Final = "samenloop.internal"
DEFAULT_DNS: Final[tuple[str, ...]] = ()
DEFAULT_IPS: Final[tuple[str, ...]] = ()
CA_VALID_DAYS: Final = 3650
LEAF_VALID_DAYS: Final = 825
_ID_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
_OIN: Final = re.compile(r"[0-9]{20}")


def component_dns_name(common_name: str) -> str:
    """The DNS name a component's certificate carries and its clients check (ADR 0003).

    `matcher` -> `matcher.samenloop.internal`. One name per component, so a certificate
    issued to another component fails the client's name check, whatever address it serves on.
    """
    return f"{common_name}.{SERVICE_DOMAIN}"


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """Who is on the other end of an mTLS connection, as the certificate says.

    `organisation` is the id configurations use: the OIN for a PKIoverheid-style certificate,
    the slug in `O` for the development CA. `organisation_name` is the `O` as written (the
    legal name under PKIoverheid, the slug otherwise).
    """

    organisation: str
    role: str
    common_name: str
    organisation_name: str = ""

    def __str__(self) -> str:
        return f"{self.organisation}/{self.role}/{self.common_name}"


def is_oin(value: str) -> bool:
    """True for an Organisatie-identificatienummer: exactly 20 ASCII digits."""
    return bool(_OIN.fullmatch(value))


def _check_id(value: str, what: str) -> str:
    if not value or not set(value) <= _ID_CHARS or len(value) > 64:
        raise PkiError(
            f"{what} {value!r} must be 1-64 characters of lowercase letters, digits, '-', '_', '.'"
        )
    return value


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise PkiError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _single(name: x509.Name, oid: x509.ObjectIdentifier, what: str) -> str:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1:
        raise PkiError(f"certificate subject must have exactly one {what}, has {len(values)}")
    value = values[0].value
    return value if isinstance(value, str) else bytes(value).decode("utf-8")


def _load_certificate(cert: bytes | str | x509.Certificate) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    data = cert.encode("ascii") if isinstance(cert, str) else bytes(cert)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise PkiError("not a PEM or DER X.509 certificate") from None


def _check_text(value: str, what: str) -> str:
    """A legal name or a PKIoverheid CN: printable, 1-64 characters (X.520 upper bound)."""
    if not value or len(value) > 64 or not value.isprintable():
        raise PkiError(f"{what} must be 1-64 printable characters")
    return value


def identity_from_certificate(cert: bytes | str | x509.Certificate) -> PeerIdentity:
    """Read the organisation, role (OU) and name (CN) from a peer certificate (PEM or DER).

    Two layouts (ADR 0003): with a subject `serialNumber` it must be an OIN, which becomes the
    organisation id, and `O` is the legal name; without one, `O` is the organisation slug.
    Call it only on a certificate the TLS layer has already verified against the CA; this
    function reads identity, it does not check trust.
    """
    certificate = _load_certificate(cert)
    subject = certificate.subject
    role = _check_role(_single(subject, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU"))
    org_name = _single(subject, NameOID.ORGANIZATION_NAME, "O")
    if subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        oin = _single(subject, NameOID.SERIAL_NUMBER, "serialNumber")
        if not is_oin(oin):
            raise PkiError("certificate subject serialNumber is not a 20-digit OIN")
        return PeerIdentity(
            organisation=oin,
            role=role,
            common_name=_check_text(_single(subject, NameOID.COMMON_NAME, "CN"), "common name"),
            organisation_name=_check_text(org_name, "organisation name (O)"),
        )
    return PeerIdentity(
        organisation=_check_id(org_name, "organisation"),
        role=role,
        common_name=_check_id(_single(subject, NameOID.COMMON_NAME, "CN"), "common name"),
        organisation_name=org_name,
    )


def identity_from_auth_context(auth_context: Mapping[str, Sequence[bytes]]) -> PeerIdentity:
    """The caller of a gRPC method: `identity_from_auth_context(context.auth_context())`."""
    pems = auth_context.get("x509_pem_cert") or []
    if len(pems) != 1:
        raise PkiError("the call carries no (single) verified client certificate")
    return identity_from_certificate(pems[0])


# ---------------------------------------------------------------------------------------------
# Issuing


@dataclass(frozen=True, slots=True)
class CertifiedKey:
    """A private key and its certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def fingerprint(self) -> str:
        return "sha256:" + self.certificate.fingerprint(hashes.SHA256()).hex()

    def __repr__(self) -> str:
        return f"CertifiedKey({self.certificate.subject.rfc4514_string()})"


def _serial() -> int:
    return x509.random_serial_number()


def create_ca(
    common_name: str = "samenloop development CA",
    organisation: str = "samenloop-dev",
    valid_days: int = CA_VALID_DAYS,
) -> CertifiedKey:
    """A self-signed P-256 CA that may sign leaf certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


def issue_certificate(
    ca: CertifiedKey,
    *,
    organisation: str,
    role: str,
    common_name: str,
    dns_names: Iterable[str] = DEFAULT_DNS,
    ip_addresses: Iterable[str] = DEFAULT_IPS,
    valid_days: int = LEAF_VALID_DAYS,
    oin: str | None = None,
) -> CertifiedKey:
    """A P-256 leaf certificate for one component, usable as TLS server and client.

    Without `oin`, `organisation` is the slug id (dev layout). With `oin`, `organisation` is
    the legal name and the OIN goes into the subject serialNumber (PKIoverheid layout). The
    SAN always holds `component_dns_name(common_name)`, plus `dns_names` and `ip_addresses`.
    """
    _check_role(role)
    _check_id(common_name, "common name")
    attributes = []
    if oin is None:
        _check_id(organisation, "organisation")
    else:
        if not is_oin(oin):
            raise PkiError(f"OIN {oin!r} must be exactly 20 digits")
        _check_text(organisation, "organisation name (O)")
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, oin))
    names = list(dict.fromkeys([component_dns_name(common_name), *dns_names]))
    try:
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    except ValueError as exc:
        raise PkiError(f"invalid subject alternative name: {exc}") from None
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    subject = x509.Name(
        [
            *attributes,
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(
            min(now + dt.timedelta(days=valid_days), ca.certificate.not_valid_after_utc)
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


# ---------------------------------------------------------------------------------------------
# Files


def save_certified_key(
    item: CertifiedKey, cert_path: Path, key_path: Path, *, overwrite: bool = False
) -> None:
    """Certificate as PEM (0644), private key as unencrypted PKCS#8 PEM (0600)."""
    write_private_file(key_path, item.key_pem(), overwrite=overwrite)
    write_public_file(cert_path, item.certificate_pem(), overwrite=overwrite)


def load_certified_key(cert_path: Path, key_path: Path) -> CertifiedKey:
    """Load a certificate and its key; refuses an exposed key file or a key that does not match."""
    key_pem = read_private_file(key_path)
    try:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    except OSError as exc:
        raise PkiError(f"cannot read certificate {cert_path}: {exc.strerror}") from None
    except ValueError:
        raise PkiError(f"{cert_path} is not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise PkiError(f"{key_path} is not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{key_path} is not an ECDSA key")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise PkiError(f"{key_path} does not belong to {cert_path}")
    return CertifiedKey(key, cert)


def verify_issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> None:
    """Check `cert` is signed by `ca_cert` and currently valid (a sanity check for tools)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise PkiError("certificate was not issued by this CA") from None
    now = _now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise PkiError("certificate is not valid at this time")
