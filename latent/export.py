"""Export any figure: PNG/SVG/PDF (kaleido + a local Chrome/Chromium), offline HTML, CSV, recipe.

Recipes (the JSON that rebuilds a figure) are made and replayed in :mod:`latent.recipes`.

Example::

    >>> data = figure_bytes(fig, "svg")             # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import shutil
import threading
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
