"""A run imports only the renderers of the formats asked for, in a thread beside the fetch."""

import subprocess
import sys
import textwrap

from reporter.pipeline import RENDERERS, import_renderers

# Run in a fresh interpreter: the test process has imported every renderer long ago.
SCRIPT = textwrap.dedent(
    """
    import io, os, sys
    from pathlib import Path
    from reporter.cli import main
    from reporter.simulator import Fleet, SimulatorServer

    folder = Path(sys.argv[1])
    fleet = Fleet.generate(servers=3, executions_per_server=1, seed=2)
    fleet.write_inventory(folder / "inventory.csv")
    os.environ.update({"CLC_USER": "demo", "CLC_PASSWORD": "demo"})
    with SimulatorServer(fleet) as sim:
        code = main(
            ["run", str(folder / "inventory.csv"), "--out", str(folder / "out"),
             "--format", sys.argv[2], "--no-history", "--no-completeness-check",
             "--api-url", sim.api_url, "--login-url", sim.login_url],
            stdout=io.StringIO(),
        )
    loaded = [name for name in ("weasyprint", "xlsxwriter", "pypdf") if name in sys.modules]
    print(code, ",".join(loaded))
    """
)


def run_alone(tmp_path, formats: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), formats],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    code, _, loaded = done.stdout.strip().splitlines()[-1].partition(" ")
    return int(code), [name for name in loaded.split(",") if name]


def test_a_csv_run_imports_neither_weasyprint_nor_xlsxwriter(tmp_path):
    code, loaded = run_alone(tmp_path, "csv")
    assert code in (0, 3)
    assert loaded == []
    assert any((tmp_path / "out").glob("patch-compliance-*.csv"))


def test_an_excel_run_imports_xlsxwriter_only(tmp_path):
    code, loaded = run_alone(tmp_path, "csv,xlsx")
    assert code in (0, 3)
    assert loaded == ["xlsxwriter"]


def test_the_background_import_loads_the_renderers_and_survives_a_failure(monkeypatch):
    monkeypatch.setitem(RENDERERS, "bogus", "reporter.render.no_such_module")
    thread = import_renderers(["csv", "bogus", "html"])
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert {RENDERERS["csv"], RENDERERS["html"]} <= set(sys.modules)
