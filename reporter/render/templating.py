"""The Jinja environment shared by the HTML and PDF reports, and where it finds its templates.

The templates live in the repository's top-level ``templates/`` folder, which the wheel ships
as ``reporter/templates``. An installed reporter finds them through ``importlib.resources``;
a source checkout (including an editable install) finds the top-level folder.
"""

import functools
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from reporter.render.filters import FILTERS


def templates_dir() -> Path:
    """The folder holding the report templates and their assets.

    Raises:
        FileNotFoundError: neither the installed package nor the source tree has them.
    """
    packaged = resources.files("reporter") / "templates"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"report templates not found (looked in {packaged} and {checkout})")


def assets_dir() -> Path:
    """The folder of packaged assets (style sheets) the reports may use."""
    return templates_dir() / "assets"


@functools.cache
def environment() -> jinja2.Environment:
    """The one Jinja environment: autoescape everywhere (``.j2`` included), strict undefined."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.globals["asset_text"] = asset_text
    return env


@functools.cache
def asset_text(name: str) -> Markup:
    """A packaged text asset (a style sheet) to inline into a report, trusted as markup.

    Only files inside the assets folder are served; the name comes from the templates.
    """
    folder = assets_dir().resolve()
    path = (folder / name).resolve()
    if folder not in path.parents:
        raise ValueError(f"not a packaged asset: {name!r}")
    return Markup(path.read_text(encoding="utf-8"))  # noqa: S704 - our own style sheet


def render_template(name: str, **context: object) -> str:
    """Render the template ``name`` with ``context``."""
    return environment().get_template(name).render(**context)
