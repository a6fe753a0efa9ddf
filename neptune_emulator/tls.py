"""TLS for `neptune-stream emulator --tls`: a local certificate authority made on first use, and a server
certificate for `localhost` and `127.0.0.1` signed by it, so clients configured for Neptune (`https://`,
`wss://`, certificate verification on) work against the emulator once they trust `ca.pem`.

"Amazon Neptune only allows Secure Sockets Layer (SSL) connections through HTTPS to any instance or cluster
endpoint", with "at least TLS version 1.2" (https://docs.aws.amazon.com/neptune/latest/userguide/security-ssl.html).
The CA lives beside the database file (ca.pem, and its key ca-key.pem readable by its owner only), so a client set up once keeps
trusting every later run; the server certificate is issued afresh at each start (short-lived, nothing to
renew)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"
SERVER_FILE, SERVER_KEY_FILE = "emulator-cert.pem", "emulator-key.pem"
CA_DAYS, SERVER_DAYS = 3650, 30
# What common clients read to trust a CA: botocore and the AWS CLI (AWS_CA_BUNDLE), requests-based clients
# (REQUESTS_CA_BUNDLE), node and so the JavaScript SDK and gremlin-javascript (NODE_EXTRA_CA_CERTS). The first two
# replace those clients' default trust: set them only where the client talks to the emulator. Python's urllib
# (SPARQLWrapper, rdflib) and aiohttp (gremlinpython) read SSL_CERT_FILE, or take an ssl context (client_context).
TRUST_VARIABLES = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


@dataclass(frozen=True)
class ServerTls:
    ca_file: Path
    context: ssl.SSLContext

    def client_variables(self) -> dict[str, str]:
        """The environment that makes common clients trust the emulator's CA."""
        return dict.fromkeys(TRUST_VARIABLES, str(self.ca_file))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """A key file readable by its owner only, written whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def ensure_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA kept in `directory`, made there on first use."""
    cert_path, key_path = directory / CA_FILE, directory / CA_KEY_FILE
    if cert_path.is_file() and key_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not the emulator's CA key (an EC key); delete {cert_path} and it to make a new CA")
        if cert.not_valid_after_utc > _now() + dt.timedelta(days=SERVER_DAYS):
            return cert, key
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "neptune-stream emulator local CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def server_tls(directory: Path) -> ServerTls:
    """The server side: a certificate for localhost and 127.0.0.1, signed by the CA in `directory`."""
    ca_cert, ca_key = ensure_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / SERVER_FILE, directory / SERVER_KEY_FILE
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # Neptune's floor too (security-ssl.html)
    context.load_cert_chain(cert_path, key_path)
    return ServerTls(directory / CA_FILE, context)


def client_context(ca_file: Path | str) -> ssl.SSLContext:
    """A client context that verifies the emulator's certificate against its CA (and nothing else)."""
    return ssl.create_default_context(cafile=str(ca_file))


def ca_directory(database: str) -> Path:
    """Where the CA is kept: beside the database file; for an in-memory database, `.local/` of the current
    directory (the local run's data folder)."""
    if database == ":memory:" or not database:
        return Path(".local").resolve()
    return Path(database).resolve().parent


__all__ = ["CA_FILE", "TRUST_VARIABLES", "ServerTls", "ca_directory", "client_context", "ensure_ca", "server_tls"]
