"""Export any figure: PNG/SVG/PDF (kaleido + a local Chrome/Chromium), offline HTML, CSV, recipe.

Recipes (the JSON that rebuilds a figure) are made and replayed in :mod:`latent.recipes`.

Files made for the app's export buttons are kept (:func:`kept_export`, in memory, least recently used
first out) by what they hold: a page redrawn every two seconds in a class hands its download buttons the
same bytes on every run instead of making them again or making them on the click.

Example::

    >>> data = figure_bytes(fig, "svg")             # doctest: +SKIP
    >>> key = export_key(figure_digest(fig), "svg")  # doctest: +SKIP
    >>> made_export(key) is None                    # doctest: +SKIP
    True
    >>> kept_export(key, "svg", fig=fig) == data    # doctest: +SKIP
    True
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from latent.core.errors import LatentError

IMAGE_FORMATS = ("png", "svg", "pdf")
FORMATS = IMAGE_FORMATS + ("html", "csv", "json")
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf",
        "html": "text/html", "csv": "text/csv", "json": "application/json"}
_kaleido_lock = threading.Lock()
_kaleido_started = False
KEPT_BYTES = 256 * 2 ** 20          # the made files kept in memory, at most (a page's five HTML files are ~25 MB)
_kept: OrderedDict[str, bytes] = OrderedDict()
_kept_lock = threading.Lock()


class ExportError(LatentError):
    """An export that cannot be made here (e.g. no Chrome/Chromium for images)."""


def find_browser() -> str | None:
    """The Chrome/Chromium kaleido will use: ``$BROWSER_PATH``, else one on PATH."""
    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).exists():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _ensure_kaleido() -> None:
    global _kaleido_started
    if _kaleido_started:
        return
    browser = find_browser()
    if browser is None:
        raise ExportError("PNG/SVG/PDF export needs Chrome or Chromium (e.g. `apt-get install chromium`). "
                          "HTML, CSV and recipe export work without it.")
    os.environ.setdefault("BROWSER_PATH", browser)
    import kaleido  # noqa: PLC0415 - heavy: kaleido starts a browser; loaded only for an image export

    kaleido.start_sync_server(mathjax=False, silence_warnings=True)
    _kaleido_started = True


def figure_bytes(fig, fmt: str, *, width: int = 1200, height: int = 800, scale: float = 2.0) -> bytes:
    """The figure as PNG, SVG, PDF or self-contained HTML bytes."""
    if fmt == "html":  # opens where the screen was (no auto-play from the first frame)
        return fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False).encode("utf-8")
    if fmt not in IMAGE_FORMATS:
        raise ExportError(f"Unknown figure format {fmt!r}. Must be one of: png, svg, pdf, html")

    fig = go.Figure(fig)  # a still image has no use for the ▶ button and the layer slider
    fig.layout.updatemenus, fig.layout.sliders, fig.frames = (), (), ()
    with _kaleido_lock:
        _ensure_kaleido()
        try:
            return fig.to_image(format=fmt, width=width, height=height, scale=scale if fmt == "png" else 1)
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"{fmt.upper()} export failed: {str(e).splitlines()[0][:200]}") from None


def table_csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def recipe_json(recipe: dict) -> bytes:
    return (json.dumps(recipe, indent=1, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def export_bytes(fmt: str, *, fig=None, table: pd.DataFrame | None = None, recipe: dict | None = None) -> bytes:
    """One entry point for every format: figure formats need ``fig``, csv ``table``, json ``recipe``."""
    if fmt == "csv":
        if table is None:
            raise ExportError("This figure has no data table to export.")
        return table_csv(table)
    if fmt == "json":
        if recipe is None:
            raise ExportError("This figure has no recipe to export.")
        return recipe_json(recipe)
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format {fmt!r}. Must be one of: {', '.join(FORMATS)}")
    return figure_bytes(fig, fmt)


def output_format(path: str | Path) -> str:
    """The format a path's suffix asks for (.png .svg .pdf .html .csv .json), or an :class:`ExportError`:
    the CLI asks before it loads a model or computes anything."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"Unknown output type .{fmt}. Must be one of: {', '.join('.' + f for f in FORMATS)}")
    return fmt


def write(path: str | Path, *, fig=None, table=None, recipe=None) -> Path:
    """Write by the file's suffix (.png .svg .pdf .html .csv .json)."""
    path = Path(path)
    fmt = output_format(path)
    data = export_bytes(fmt, fig=fig, table=table, recipe=recipe)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def figure_digest(fig) -> str:
    """A digest of a figure as drawn (its data, layout, titles and their language, presenter or phone styling),
    so a changed figure is never served an old file."""
    return hashlib.sha256(fig.to_json().encode("utf-8")).hexdigest()


def export_key(digest: str, fmt: str) -> str:
    """The address of a figure's file in ``fmt`` (``digest``: :func:`figure_digest`)."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format {fmt!r}. Must be one of: {', '.join(FORMATS)}")
    return f"{fmt}:{digest}"


def made_export(key: str) -> bytes | None:
    """The file kept under ``key`` (:func:`export_key`), or None where it was not made yet (or was dropped)."""
    with _kept_lock:
        data = _kept.get(key)
        if data is not None:
            _kept.move_to_end(key)
        return data


def kept_export(key: str, fmt: str, *, fig=None, table: pd.DataFrame | None = None, recipe: dict | None = None) -> bytes:
    """The file under ``key``, made once (:func:`export_bytes`) and kept; the oldest kept files go first when
    they pass :data:`KEPT_BYTES`. An :class:`ExportError` is raised and nothing is kept."""
    data = made_export(key)
    if data is not None:
        return data
    data = export_bytes(fmt, fig=fig, table=table, recipe=recipe)
    with _kept_lock:
        _kept[key] = data
        while sum(map(len, _kept.values())) > KEPT_BYTES and len(_kept) > 1:
            _kept.popitem(last=False)
    return data
