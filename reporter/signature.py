"""The PDF's digital signature (SPEC 5): PAdES B-B with a PKCS#12 key, added with pyHanko as an
incremental update, so the signed file is still the PDF/A-3u that was rendered.

Example::

    key = load_signing_key(Path("auditor.p12"), os.environ)   # before anything is fetched
    signed = key.sign(pdf_bytes)

The signature is invisible (a field with no area on the first page): a visible one would need
an appearance drawn in a font pyHanko does not embed, which PDF/A forbids, at a place tied to
the cover's layout; every PDF reader shows the signer in its signature panel instead. The key,
its certificate and the password are checked when the key is loaded, so that a run that
cannot sign stops before it fetches anything.
"""

import io
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from reporter.errors import SigningError

PASSWORD_VARIABLE = "REPORTER_SIGN_PASSWORD"  # noqa: S105 - the name, not the value
MAX_KEY_BYTES = 1024 * 1024  # a PKCS#12 file holds a key and a few certificates
FIELD_NAME = "Signature"
# A PKCS#12 file is a DER SEQUENCE whose first element is the version, INTEGER 3.
PFX_VERSION = b"\x02\x01\x03"


@dataclass(frozen=True)
class SigningKey:
    """A private key and its certificate, checked and ready to sign PDFs.

    ``signer`` is pyHanko's signer; ``subject`` names the certificate's holder.
    """

    path: Path
    subject: str
    not_after: datetime
    signer: Any = field(repr=False)

    def sign(self, pdf: bytes) -> bytes:
        """``pdf`` with a PAdES B-B signature over the whole file, added as an incremental
        update (everything before it is left byte for byte as it was).

        Raises:
            SigningError: pyHanko could not sign this PDF.
        """
        from pyhanko.pdf_utils import generic
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.pdf_utils.metadata.model import VENDOR
        from pyhanko.sign import signers
        from pyhanko.sign.fields import SigSeedSubFilter

        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
            # pyHanko names itself the producer in the XMP metadata but appends itself to
            # the info dictionary's producer: PDF/A wants the two to agree, so both say it.
            info = writer.trailer.raw_get("/Info")
            if isinstance(info, generic.IndirectObject):
                info.get_object()["/Producer"] = generic.TextStringObject(VENDOR)
                writer.mark_update(info)
            metadata = signers.PdfSignatureMetadata(
                field_name=FIELD_NAME, subfilter=SigSeedSubFilter.PADES
            )
            output = io.BytesIO()
            signers.sign_pdf(writer, metadata, signer=self.signer, output=output)
        except (ValueError, TypeError, KeyError, OSError) as error:
            raise SigningError(f"cannot sign the PDF with {self.path}: {error}") from error
        return output.getvalue()


def load_signing_key(path: Path, env: Mapping[str, str], now: datetime | None = None) -> SigningKey:
    """Read and check the PKCS#12 file ``path`` with the password in ``REPORTER_SIGN_PASSWORD``.

    Raises:
        SigningError: one line saying what is wrong: the file cannot be read or is not
            PKCS#12, the password is missing or wrong, the file holds no key or no
            certificate for it, or the certificate is not valid now.
    """
    path = Path(path)
    data = read_key_file(path)
    if not data.startswith(b"\x30") or PFX_VERSION not in data[1:8]:
        pem = b"-----BEGIN" in data[:4096]
        raise SigningError(
            f"--sign-key {path} is not a PKCS#12 file (.p12 or .pfx)"
            + ("; it is PEM text: export the key and certificate as PKCS#12" if pem else "")
        )
    password = env.get(PASSWORD_VARIABLE)
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(
            data, password.encode("utf-8") if password else None
        )
    except ValueError:
        if not password:
            raise SigningError(
                f"--sign-key {path} needs a password: set {PASSWORD_VARIABLE}"
            ) from None
        raise SigningError(
            f"--sign-key {path}: the password in {PASSWORD_VARIABLE} does not open it "
            "(wrong password, or a damaged file)"
        ) from None
    if key is None:
        raise SigningError(f"--sign-key {path} holds no private key")
    if certificate is None:
        raise SigningError(f"--sign-key {path} holds a key but no certificate for it")
    if public_der(key.public_key()) != public_der(certificate.public_key()):
        raise SigningError(f"--sign-key {path}: its certificate is not the one of its key")
    check_validity(path, certificate, now or datetime.now(UTC))
    return SigningKey(
        path=path,
        subject=holder(certificate),
        not_after=certificate.not_valid_after_utc,
        signer=pyhanko_signer(path, key, certificate, chain),
    )


def read_key_file(path: Path) -> bytes:
    """The bytes of a regular, reasonably small file (a FIFO is refused, not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise SigningError(f"--sign-key {path} cannot be read: {error.strerror}") from None
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SigningError(f"--sign-key {path} is not a file")
        try:
            data = handle.read(MAX_KEY_BYTES + 1)
        except OSError as error:
            raise SigningError(f"--sign-key {path} cannot be read: {error.strerror}") from None
    if len(data) > MAX_KEY_BYTES:
        raise SigningError(f"--sign-key {path} is too large to be a PKCS#12 key file")
    return data


def public_der(public_key: Any) -> bytes:
    """A public key's DER bytes, to compare two keys."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_validity(path: Path, certificate: x509.Certificate, now: datetime) -> None:
    """Refuse a certificate that has expired or is not valid yet: no validator would accept
    what it signs."""
    if now > certificate.not_valid_after_utc:
        expired = f"{certificate.not_valid_after_utc:%Y-%m-%d}"
        raise SigningError(f"--sign-key {path}: its certificate expired on {expired}")
    if now < certificate.not_valid_before_utc:
        starts = f"{certificate.not_valid_before_utc:%Y-%m-%d}"
        raise SigningError(f"--sign-key {path}: its certificate is not valid before {starts}")


def holder(certificate: x509.Certificate) -> str:
    """Who a certificate names: its common name, else its whole subject."""
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else certificate.subject.rfc4514_string()
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def pyhanko_signer(
    path: Path, key: Any, certificate: x509.Certificate, chain: list[x509.Certificate]
) -> Any:
    """pyHanko's signer for ``key`` and ``certificate``, with the rest of the file's chain."""
    from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = serialization.Encoding.DER
    try:
        signing_key = load_private_key_from_pemder_data(
            key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            passphrase=None,
        )
        [signing_cert, *others] = load_certs_from_pemder_data(
            b"".join(
                item.public_bytes(serialization.Encoding.PEM) for item in [certificate, *chain]
            )
        )
        return signers.SimpleSigner(
            signing_cert=signing_cert,
            signing_key=signing_key,
            cert_registry=SimpleCertificateStore.from_certs([signing_cert, *others]),
        )
    except (ValueError, TypeError, NotImplementedError) as error:
        raise SigningError(f"--sign-key {path}: pyHanko cannot sign with this key") from error
