"""Secrets never leak (SPEC 7): not in any output file, evidence, manifest, stdout, stderr or log.

A run logs in with a distinctive password, gets several tokens (the simulator expires them
every few requests) and writes every format with ``--debug`` on. Then every byte it produced
is searched for the password and for every token the simulator issued: inside the xlsx zip
members and the PDF's compressed streams (attachments included) too. The API's error
messages are shown to the user, so some answers here echo the secret back on purpose.
"""

import io
import json
import logging
import re
import zipfile
import zlib
from pathlib import Path

import pypdf
import pytest
import requests

from reporter.cli import main
from reporter.simulator import FaultConfig, Fleet, SimulatorServer

USER = "auditor-7QX"
PASSWORD = "Pw-5e3cr3t-ZZ9!"
TOKEN_TTL = 7  # requests per token: a 20-execution run needs several


@pytest.fixture
def clean_env(monkeypatch):
    for name in (
        "CLC_USER",
        "CLC_PASSWORD",
        "CLC_V2_API_USERNAME",
        "CLC_V2_API_PASSWD",
        "CLC_BEARER_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(autouse=True)
def restore_urllib3_logging():
    # --debug points urllib3's logger at this test's captured stderr; later tests (and this
    # test's own requests before main()) must not write to a closed capture.
    logger = logging.getLogger("urllib3")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def readable_bytes(path: Path) -> list[bytes]:
    """The file's bytes, plus what they hold compressed (xlsx members, PDF streams)."""
    data = path.read_bytes()
    found = [data]
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            found += [archive.read(member) for member in archive.namelist()]
    if path.suffix == ".pdf":
        # The page text is in font glyph codes, not bytes one could search: extract it.
        pages = pypdf.PdfReader(path).pages
        found.append("\n".join(page.extract_text() for page in pages).encode())
        for match in re.finditer(rb"stream\r?\n", data):
            try:
                found.append(zlib.decompressobj().decompress(data[match.end() :]))
            except zlib.error:
                continue  # not a Flate stream (an image, say): its raw bytes are searched
    return found


def everything_written(out: Path) -> dict[str, list[bytes]]:
    """Every file under ``out`` (names included), readable as bytes."""
    files = {str(path): readable_bytes(path) for path in out.rglob("*") if path.is_file()}
    assert any(name.endswith(".pdf") for name in files)
    return files


def assert_absent(secrets: list[str], out: Path, texts: dict[str, str]) -> int:
    """No secret in any file, file name or text; return how many blobs were searched."""
    blobs = everything_written(out)
    searched = 0
    for secret in secrets:
        needles = {secret.encode(), secret.encode("utf-16-be"), json.dumps(secret)[1:-1].encode()}
        for name, contents in blobs.items():
            assert secret not in name
            for blob in contents:
                assert not any(needle in blob for needle in needles), f"{name} holds a secret"
        for label, text in texts.items():
            assert secret not in text, f"{label} holds a secret"
    for contents in blobs.values():
        searched += len(contents)
    return searched


def small_fleet() -> Fleet:
    return Fleet.generate(servers=10, executions_per_server=2, seed=13)


def inventory_with_echoes(fleet: Fleet, sim: SimulatorServer, path: Path, echo: str) -> None:
    """Every execution, plus two the API answers with an error message echoing ``echo``."""
    lines = ["server_id,execution_id,account_alias,owner"]
    lines += [f"{e.server_id},{e.execution_id},{e.account},ops" for e in fleet.executions]
    for number, status in ((900001, 404), (900002, 400)):
        message = {"message": f"request with credentials {echo} for auditor refused"}
        fleet.override("OSD", "VA1ECHO01", f"VA1-{number}", json.dumps(message).encode(), status)
        lines.append(f"VA1ECHO01,VA1-{number},OSD,ops")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_debug(
    sim: SimulatorServer, inventory: Path, out: Path, debug: bool = True
) -> tuple[int, str]:
    argv = ["run", str(inventory), "--out", str(out), "--pdf-detail", "all"]
    argv += ["--debug"] if debug else []
    argv += ["--concurrency", "4", "--api-url", sim.api_url, "--login-url", sim.login_url]
    stdout = io.StringIO()
    code = main(argv, stdout=stdout)
    return code, stdout.getvalue()


def test_password_and_tokens_never_written(tmp_path, clean_env, capsys):
    fleet = small_fleet()
    faults = FaultConfig(token_ttl_requests=TOKEN_TTL, error_rate=0.1)
    with SimulatorServer(fleet, faults=faults, user=USER, password=PASSWORD) as sim:
        inventory_with_echoes(fleet, sim, tmp_path / "inventory.csv", PASSWORD)
        clean_env.setenv("CLC_USER", USER)
        clean_env.setenv("CLC_PASSWORD", PASSWORD)
        code, stdout = run_debug(sim, tmp_path / "inventory.csv", tmp_path / "out")
        tokens = sim.issued_tokens
    err = capsys.readouterr().err
    assert code == 3, err
    assert len(tokens) >= 3
    assert "GET " in err and "POST " in err  # the debug request log was on
    # The API's message reached the reports, redacted; and the search reads what the PDF
    # shows (its pages and its attachments), not only its raw bytes.
    [html] = (tmp_path / "out").glob("*.html")
    assert "request with credentials *** for auditor refused" in html.read_text("utf-8")
    [pdf] = (tmp_path / "out").glob("*.pdf")
    pdf_text = b"".join(readable_bytes(pdf)[1:])
    assert b"VA1-900001" in pdf_text
    searched = assert_absent(
        [PASSWORD, *tokens], tmp_path / "out", {"stdout": stdout, "stderr": err}
    )
    print(
        f"\npassword and {len(tokens)} tokens: absent from {searched} files and members, "
        f"stdout and {len(err.splitlines())} stderr lines"
    )


def test_bearer_token_never_written(tmp_path, clean_env, capsys):
    fleet = small_fleet()
    with SimulatorServer(fleet, user=USER, password=PASSWORD) as sim:
        answer = requests.post(
            sim.login_url, json={"username": USER, "password": PASSWORD}, timeout=5
        )
        token = answer.json()["bearerToken"]
        inventory_with_echoes(fleet, sim, tmp_path / "inventory.csv", token)
        clean_env.setenv("CLC_BEARER_TOKEN", token)
        code, stdout = run_debug(sim, tmp_path / "inventory.csv", tmp_path / "out")
        assert sim.issued_tokens == [token]  # the run itself never logged in
    err = capsys.readouterr().err
    assert code == 3, err
    searched = assert_absent([token], tmp_path / "out", {"stdout": stdout, "stderr": err})
    print(f"\nCLC_BEARER_TOKEN: absent from {searched} files and members, stdout and stderr")


@pytest.mark.parametrize("debug", [False, True])
def test_expired_bearer_token_stops_the_run_without_showing_it(debug, tmp_path, clean_env, capsys):
    fleet = small_fleet()
    with SimulatorServer(fleet, user=USER, password=PASSWORD) as sim:
        answer = requests.post(
            sim.login_url, json={"username": USER, "password": PASSWORD}, timeout=5
        )
        token = answer.json()["bearerToken"]
        sim.revoke_tokens()
        inventory_with_echoes(fleet, sim, tmp_path / "inventory.csv", token)
        clean_env.setenv("CLC_BEARER_TOKEN", token)
        code, stdout = run_debug(sim, tmp_path / "inventory.csv", tmp_path / "out", debug)
    err = capsys.readouterr().err
    assert code == 2
    assert "CLC_BEARER_TOKEN (HTTP 401" in err.splitlines()[-1]
    if not debug:
        assert len(err.splitlines()) <= 2 and "Traceback" not in err  # progress, then why
    assert token not in err and token not in stdout  # the --debug traceback included
    assert not list((tmp_path / "out").glob("patch-compliance-*"))


def test_an_env_file_given_as_the_inventory_does_not_echo_the_password(tmp_path, clean_env, capsys):
    env_file = tmp_path / "credentials.env"
    env_file.write_text(f"CLC_PASSWORD={PASSWORD}\nCLC_USER={USER}\n", encoding="utf-8")
    clean_env.setenv("CLC_USER", USER)
    clean_env.setenv("CLC_PASSWORD", PASSWORD)
    code = main(["run", str(env_file), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "has no server_id column" in err and "CLC_PASSWORD=***" in err
    assert PASSWORD not in err


def test_secret_looking_cells_are_never_echoed_even_when_not_registered(
    tmp_path, clean_env, capsys
):
    env_file = tmp_path / "other.env"
    env_file.write_text("export SMTP_PASSWORD=s3cr3t-value\n", encoding="utf-8")
    code = main(["run", str(env_file), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "SMTP_PASSWORD=***" in err and "s3cr3t-value" not in err
