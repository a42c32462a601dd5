"""The reports' integrity, read back from the files a real run writes: a ``.sha256`` line beside
each that ``sha256sum -c`` accepts, and the PDF's PAdES signature, validated with pyHanko
against a certificate authority made here, on a file that still declares PDF/A-3u."""

import datetime as dt
import io
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from reporter.checksums import checksum_line
from reporter.cli import main
from reporter.simulator import Fleet

PASSWORD = "correct horse battery staple"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def fleet() -> Fleet:
    return Fleet.generate(servers=6, executions_per_server=1, seed=4)


def run(argv: list[str]) -> tuple[int, str]:
    stdout = io.StringIO()
    return main(argv, stdout=stdout), stdout.getvalue()


def run_argv(sim, inventory: Path, out: Path, *options: str) -> list[str]:
    argv = ["run", str(inventory), "--out", str(out), "--no-history"]
    return [*argv, "--api-url", sim.api_url, "--login-url", sim.login_url, *options]


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "reporter tests"),
        ]
    )


def certificate(subject: str, key, issuer: x509.Name, issuer_key, *, ca: bool, days=(-1, 30)):
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


class Authority:
    """A throwaway certificate authority, and signing keys it certifies as PKCS#12 files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = certificate(
            "Test Root CA", self.key, name("Test Root CA"), self.key, ca=True
        )
        self.pem = folder / "ca.pem"
        self.pem.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def signer(
        self,
        file_name: str = "signer.p12",
        *,
        days=(-1, 30),
        with_certificate=True,
        password: str = PASSWORD,
    ) -> Path:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = certificate(
            "Alice Auditor", key, self.certificate.subject, self.key, ca=False, days=days
        )
        path = self.folder / file_name
        path.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"signer",
                key,
                cert if with_certificate else None,
                [self.certificate],
                serialization.BestAvailableEncryption(password.encode()),
            )
        )
        return path


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    folder = tmp_path / "keys"
    folder.mkdir()
    return Authority(folder)


def test_every_report_file_has_a_line_that_sha256sum_checks(
    tmp_path, fleet, sim_factory, credentials
):
    sim = sim_factory(fleet)
    inventory = fleet.write_inventory(tmp_path / "inventory.csv")
    out = tmp_path / "out"
    code, _ = run(run_argv(sim, inventory, out))
    assert code in (0, 3)
    reports = sorted(out.glob("patch-compliance-*.*[!6]"))
    assert [path.suffix for path in reports] == [".csv", ".html", ".pdf", ".xlsx"]
    checksums = [path.name + ".sha256" for path in reports]
    assert sorted(path.name for path in out.glob("*.sha256")) == sorted(checksums)
    checked = subprocess.run(
        ["sha256sum", "--strict", "-c", *checksums], cwd=out, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines() == [f"{path.name}: OK" for path in reports]

    # A changed report no longer matches its line.
    csv_file = out / reports[0].name
    csv_file.write_bytes(csv_file.read_bytes().replace(b"OSD", b"OSE", 1))
    checked = subprocess.run(
        ["sha256sum", "-c", checksums[0]], cwd=out, capture_output=True, text=True
    )
    assert checked.returncode == 1 and "FAILED" in checked.stdout


def test_checksum_lines_name_only_plain_files():
    assert checksum_line("0" * 64, "a.pdf") == "0" * 64 + "  a.pdf\n"
    with pytest.raises(ValueError):
        checksum_line("0" * 64, "a\nb.pdf")


def test_a_signed_pdf_validates_against_its_ca_and_stays_pdf_a_3u(
    tmp_path, fleet, sim_factory, credentials, authority, monkeypatch
):
    monkeypatch.setenv("REPORTER_SIGN_PASSWORD", PASSWORD)
    sim = sim_factory(fleet)
    inventory = fleet.write_inventory(tmp_path / "inventory.csv")
    out = tmp_path / "out"
    key = authority.signer()
    code, said = run(run_argv(sim, inventory, out, "--format", "pdf", "--sign-key", str(key)))
    assert code in (0, 3)
    [pdf] = out.glob("*.pdf")
    assert f"Signed {pdf.name} as Alice Auditor (PAdES)" in said

    with pdf.open("rb") as handle:
        reader = PdfFileReader(handle)
        [signature] = reader.embedded_signatures
        status = validate_pdf_signature(
            signature, ValidationContext(trust_roots=[load_cert_from_pemder(authority.pem)])
        )
        assert status.intact and status.valid and status.trusted
        assert status.coverage.name == "ENTIRE_FILE"
        assert status.signing_cert.subject.native["common_name"] == "Alice Auditor"
        assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
        # Signed as an incremental update: the rendered file is the first revision, untouched.
        assert reader.xrefs.total_revisions == 2
        xmp = reader.root["/Metadata"].data.decode("utf-8")
        assert re.search(r'pdfaid:part="3"', xmp) and re.search(r'pdfaid:conformance="U"', xmp)
        [intent] = reader.root["/OutputIntents"]
        assert intent["/S"] == "/GTS_PDFA1"
        producer = re.search(r'pdf:Producer="([^"]*)"', xmp)
        assert producer and reader.trailer["/Info"]["/Producer"] == producer.group(1)
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
        attached = [str(names[index]) for index in range(0, len(names), 2)]
        assert {"servers.csv", "failed-patches.csv", "manifest.json"} <= set(attached)

    # The .sha256 line is that of the signed file.
    checked = subprocess.run(
        ["sha256sum", "-c", pdf.name + ".sha256"], cwd=out, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("wrong password", "the password in REPORTER_SIGN_PASSWORD does not open it"),
        ("no password", "needs a password: set REPORTER_SIGN_PASSWORD"),
        ("missing file", "cannot be read: No such file or directory"),
        ("PEM file", "is not a PKCS#12 file (.p12 or .pfx); it is PEM text"),
        ("no certificate", "holds a key but no certificate for it"),
        ("expired", "its certificate expired on"),
        ("no format", "--sign-key signs the PDF: add pdf to --format"),
    ],
)
def test_a_key_that_cannot_sign_stops_the_run_before_anything_is_fetched(
    tmp_path, fleet, sim_factory, credentials, authority, monkeypatch, capsys, case, said
):
    monkeypatch.setenv("REPORTER_SIGN_PASSWORD", "wrong" if case == "wrong password" else PASSWORD)
    key = {
        "wrong password": lambda: authority.signer(),
        "no password": lambda: authority.signer(),
        "missing file": lambda: authority.folder / "nowhere.p12",
        "PEM file": lambda: authority.pem,
        "no certificate": lambda: authority.signer(with_certificate=False),
        "expired": lambda: authority.signer(days=(-60, -1)),
        "no format": lambda: authority.signer(),
    }[case]()
    if case == "no password":
        monkeypatch.delenv("REPORTER_SIGN_PASSWORD")
    sim = sim_factory(fleet)
    inventory = fleet.write_inventory(tmp_path / "inventory.csv")
    out = tmp_path / "out"
    formats = "csv" if case == "no format" else "pdf,csv"
    code, _ = run(run_argv(sim, inventory, out, "--format", formats, "--sign-key", str(key)))
    assert code == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert PASSWORD not in err and "Traceback" not in err
    assert sim.stats.snapshot()["requests"] == 0
    assert not list(out.glob("patch-compliance-*"))
