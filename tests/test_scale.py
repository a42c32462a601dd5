"""What keeps big runs fast and lean: manifest rewrites, the PDF layout and the collector."""

import gc
import json
import weakref
from datetime import UTC, datetime

import pytest

from reporter.fetch import EvidenceStore
from reporter.fetch.evidence import body_path, execution_fields
from reporter.render.pdf import AssetFetcher, html_to_pdf

PAGE = "<!DOCTYPE html><html><body><p>one page</p></body></html>"


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector_on():
    """Leave the collector enabled after the test, whatever the test did to it."""
    yield
    gc.enable()


def test_pdf_layout_restores_the_collector_and_frees_its_cycles(collector_on):
    gc.enable()
    assert html_to_pdf(PAGE, AssetFetcher(), None).startswith(b"%PDF")
    assert gc.isenabled()

    gc.disable()  # a caller that paused the collector gets it back paused
    cycle = Node()
    alive = weakref.ref(cycle)
    del cycle
    assert alive() is not None
    html_to_pdf(PAGE, AssetFetcher(), None)
    assert not gc.isenabled()
    assert alive() is None  # the one collection after the layout freed the cycle


def test_pdf_layout_restores_the_collector_when_it_fails(collector_on):
    gc.enable()
    with pytest.raises(KeyError):
        html_to_pdf(PAGE, AssetFetcher(), "no-such-variant")
    assert gc.isenabled()


class CountingStore(EvidenceStore):
    """An evidence store that counts its manifest rewrites."""

    rewrites = 0

    def flush(self) -> None:
        self.rewrites += 1
        super().flush()


def test_manifest_rewrites_grow_with_the_log_of_the_run_not_with_its_length(tmp_path):
    # A clock that never moves: only the count of new bodies makes a rewrite due.
    store = CountingStore(tmp_path / "evidence", flush_entries=10, clock=lambda: 0.0)
    body = b'{"execution_id": "VA1-1", "status": "completed", "patches": []}'
    fetched_at = datetime(2026, 11, 20, tzinfo=UTC)
    for number in range(2000):
        server, execution = f"SRV{number}", f"VA1-{number}"
        url = f"http://127.0.0.1/rest/servers/OSD/server/{server}/patch/{execution}"
        fields = execution_fields("OSD", server, execution, json.loads(body))
        store.save(body_path("OSD", server, execution), url, body, fetched_at, fields=fields)
    # Every 10 bodies would be 200 rewrites of an ever longer manifest; waiting for a quarter
    # more entries each time makes about 25.
    assert 15 <= store.rewrites <= 40
    store.close()
    manifest = json.loads((tmp_path / "evidence" / "manifest.json").read_bytes())
    assert len(manifest["entries"]) == 2000
