"""WeasyPrint behind a URL fetcher that serves only the packaged assets.

Every PDF reporter writes, whole report, appendix chunk or page-number stamps, is laid out by
:func:`html_to_pdf`. :class:`AssetFetcher` refuses every URL but ``reporter-asset:NAME``
(``file:``, ``http:``, ``data:``, ...) and records the refusal, so a hostile value in the
data can make the PDF fetch nothing (SPEC 7).
"""

import mimetypes

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from reporter.gcpause import collector_paused
from reporter.render.templating import assets_dir

ASSET_SCHEME = "reporter-asset"

# Every URL any fetcher refused in this process, for tests and diagnostics.
REFUSED_URLS: list[str] = []


class FetchRefusedError(ValueError):
    """The PDF asked for a URL that is not a packaged asset."""


class AssetFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves only ``reporter-asset:NAME`` from the assets folder.

    Anything else raises :class:`FetchRefusedError` and is recorded in ``refused`` and in
    :data:`REFUSED_URLS`, so that a test can show a hostile value caused no fetch.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols=[ASSET_SCHEME], allow_redirects=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        """Serve a packaged asset; refuse everything else."""
        prefix = f"{ASSET_SCHEME}:"
        if url.startswith(prefix):
            folder = assets_dir().resolve()
            path = (folder / url[len(prefix) :].lstrip("/")).resolve()
            if folder in path.parents and path.is_file():
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})
        self.refused.append(url)
        REFUSED_URLS.append(url)
        raise FetchRefusedError(f"the PDF may load only packaged assets, not {url[:200]!r}")


def html_to_pdf(page: str, fetcher: AssetFetcher, variant: str | None, **options: object) -> bytes:
    """Lay out and write one HTML document with ``fetcher`` as its only way out.

    Args:
        page: the HTML document.
        fetcher: the only way the document may load anything.
        variant: WeasyPrint's ``pdf_variant`` (``"pdf/a-3u"``) or None for a plain PDF.
        **options: more ``write_pdf`` options (``attachments``).

    Returns:
        The PDF.
    """
    with collector_paused(collect_after=True):
        document = HTML(string=page, base_url=f"{ASSET_SCHEME}:/", url_fetcher=fetcher)
        return document.write_pdf(pdf_variant=variant, **options)
