"""The HTML report, read back: sections, figures, escaping, self-containment, the detail cap."""

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from factories import make_model

from reporter.render import filters
from reporter.render.html import render_html
from reporter.render.templating import environment, templates_dir

SECTION_ORDER = [
    "title-block",
    "summary",
    "trend",
    "non-compliant",
    "failed",
    "patch-rollup",
    "servers",
    "executions",
    "completeness",
    "problems",
    "patch-detail",
    "methodology",
]


class Page(HTMLParser):
    """The parts of a page the tests look at: ids, attributes, scripts, KPI tiles, text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self._kpi: list[str] | None = None
        self.kpis: dict[str, str] = {}
        self._kpi_part: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in ("section", "header") and attributes.get("id"):
            self.ids.append(attributes["id"])
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
        css = (attributes.get("class") or "").split()
        if "kpi-label" in css:
            self._kpi_part = "label"
        elif "kpi-value" in css:
            self._kpi_part = "value"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        if tag == "div":
            self._kpi_part = None

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
            return
        self.text.append(data)
        if self._kpi_part == "label":
            self._label = data.strip()
        elif self._kpi_part == "value":
            self.kpis[self._label] = data.strip()


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Page, str]:
    path = tmp_path_factory.mktemp("html") / "report.html"
    render_html(make_model(servers=12), path)
    text = path.read_text(encoding="utf-8")
    return Page(text), text


def test_sections_in_spec_order(page):
    parsed, _ = page
    assert parsed.ids == SECTION_ORDER


def test_kpi_tiles_show_the_model_figures(page):
    parsed, _ = page
    kpis = make_model(servers=12).kpis
    assert parsed.kpis["Servers in scope"] == str(kpis.servers)
    assert parsed.kpis["Compliant"] == f"{kpis.compliant_pct:.1f}%"
    assert parsed.kpis["Non-compliant"] == str(kpis.non_compliant)
    assert parsed.kpis["In progress"] == str(kpis.in_progress)
    assert parsed.kpis["No data"] == str(kpis.no_data)
    assert parsed.kpis["Executions"] == str(kpis.executions)
    assert parsed.kpis["Patches attempted"] == str(kpis.patches_attempted)
    assert parsed.kpis["Succeeded"] == str(kpis.succeeded)
    assert parsed.kpis["Failed"] == str(kpis.failed)
    assert f"{kpis.compliant} of {kpis.servers} servers" in " ".join(parsed.text)


def test_content_security_policy_and_nothing_external(page):
    parsed, _ = page
    csp = [a["content"] for t, a in parsed.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]
    for tag, attributes in parsed.tags:
        assert "src" not in attributes, tag
        href = attributes.get("href")
        if href is not None:
            assert href.startswith(("#", "https://support.microsoft.com/help/")), href
            if href.startswith("https://"):
                assert attributes.get("rel") == "noopener noreferrer"
    assert not [t for t, _ in parsed.tags if t in ("link", "iframe", "img", "object", "embed")]


def test_kb_numbers_link_to_microsoft_support(page):
    parsed, _ = page
    links = {a["href"] for t, a in parsed.tags if t == "a" and "href" in a}
    assert "https://support.microsoft.com/help/5031362" in links


def test_script_uses_text_only(page):
    parsed, _ = page
    assert len(parsed.scripts) == 1
    assert "innerHTML" not in parsed.scripts[0]
    assert "textContent" in parsed.scripts[0]


def test_hostile_values_are_escaped(tmp_path):
    path = render_html(make_model(servers=12, hostile=True), tmp_path / "hostile.html")
    text = path.read_text(encoding="utf-8")
    parsed = Page(text)
    assert len(parsed.scripts) == 1  # only the report's own script
    assert "alert" not in parsed.scripts[0]
    assert not [t for t, _ in parsed.tags if t == "img"]
    visible = "".join(parsed.text)
    assert "<script>alert(1)</script>" in visible
    assert "<img src=file:///etc/passwd>" in visible
    assert '=HYPERLINK("http://attacker.invalid","x")' in visible
    assert "<script>alert(1)" not in text  # in the markup it exists only escaped
    assert "&lt;img src=file:///etc/passwd&gt;" in text


def test_detail_is_capped_with_a_line_saying_where_the_rest_is(tmp_path):
    model = make_model(servers=12)
    path = render_html(model, tmp_path / "capped.html", detail_limit=10)
    text = path.read_text(encoding="utf-8")
    total = len(model.patches)
    assert (
        f"Showing 10 of {total} patch attempts; the full list is in the CSV and Excel reports."
        in text
    )
    detail = text.split('id="t-patch-detail"')[1].split("</table>")[0]
    assert detail.count("<tr>") == 11  # header + 10 rows
    assert not list(tmp_path.glob("*.part"))


def test_an_empty_model_still_renders(tmp_path):
    model = make_model(servers=0)
    text = render_html(model, tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "The inventory lists no server." in text
    assert Page(text).ids == SECTION_ORDER


def test_templates_are_found_and_escaped_everywhere():
    assert (templates_dir() / "report.html.j2").is_file()
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(Exception, match="undefined"):
        env.from_string("{{ missing }}").render()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "—"), (float("nan"), "—"), (pd.NA, "—"), (pd.NaT, "—"), ("", "—"), ("x", "x")],
)
def test_missing_values_read_as_a_dash(value, expected):
    assert filters.text(value) == expected
    if expected == "—":
        for name in ("timestamp", "number", "percent", "duration", "yes_no", "day"):
            assert getattr(filters, name)(value) == "—", name


def test_formatting_filters():
    moment = pd.Timestamp("2026-10-14T03:12:09Z")
    assert filters.timestamp(moment) == "2026-10-14 03:12 UTC"
    assert filters.timestamp(pd.Timestamp("2026-10-14 05:12:00+02:00")) == "2026-10-14 03:12 UTC"
    assert filters.number(1234567) == "1,234,567"
    assert filters.percent(93.456) == "93.5%"
    assert filters.share(187, 200) == "93.5%"
    assert filters.share(1, 0) == "0.0%"
    assert filters.duration(1204) == "20m 4s"
    assert filters.duration(3723) == "1h 2m 3s"
    assert filters.duration(45) == "45s"
    assert filters.yes_no(True) == "yes"
    assert filters.kb_url("KB3135998") == "https://support.microsoft.com/help/3135998"
    assert filters.kb_url("openssl-libs") is None
    assert filters.status_class("Non-compliant") == "bad"


def test_templates_folder_ships_in_the_wheel():
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"templates" = "reporter/templates"' in pyproject


def test_table_times_are_shown_in_the_report_zone(tmp_path):
    model = make_model(servers=2)
    model.meta = dataclasses.replace(model.meta, timezone="Asia/Tokyo")
    page = render_html(model, tmp_path / "tokyo.html").read_text(encoding="utf-8")
    table = page[page.index('id="t-executions"') :]
    table = table[: table.index("</table>")]
    assert "Start (Asia/Tokyo)</th>" in table
    start = model.executions["start"].iloc[0].tz_convert("Asia/Tokyo")
    assert f"{start:%Y-%m-%d %H:%M}" in table  # 9 hours after the UTC time
    assert f"{model.executions['start'].iloc[0]:%Y-%m-%d %H:%M}" not in table
