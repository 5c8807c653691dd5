"""Export buttons under a figure: PNG, SVG, PDF, HTML, CSV and the JSON recipe."""
from __future__ import annotations

import streamlit as st

from latent import export
from latent.style import present


def _maker(fmt, fig, table, recipe):
    def make():
        try:
            return export.export_bytes(fmt, fig=fig, table=table, recipe=recipe)
        except export.ExportError as e:
            return f"Export failed: {e}\n".encode()
    return make


def export_buttons(fig, table, recipe: dict, *, key: str, stem: str) -> None:
    """A row of download buttons (it wraps where it is narrow); files are made only when clicked."""
    st.caption("Export this figure")
    # one row that wraps, each button as wide as its label: six equal columns cut the labels to "P…" in the
    # presenter's narrow main column
    row = st.container(horizontal=True, gap="small", key=f"export_{key}")
    for fmt in ("png", "svg", "pdf", "html", "csv", "json"):
        label = "recipe" if fmt == "json" else fmt.upper()
        if fmt in export.IMAGE_FORMATS and export.find_browser() is None:
            row.button(label, key=f"do_export_{key}-{fmt}", disabled=True, width="content",
                       help="Needs Chrome/Chromium installed (apt-get install chromium).")
            continue
        row.download_button(label, _maker(fmt, fig, table, recipe), file_name=f"{stem}.{fmt}",
                            mime=export.MIME[fmt], key=f"do_export_{key}-{fmt}", on_click="ignore", width="content")


def chart(fig, caption: str, where=st, key: str = "", note: str = "", **kw):
    """``st.plotly_chart`` for every page, with its one-line caption under it (what a point, an axis
    and a colour mean: a test checks every chart has one). In presenter view, big type, thick lines
    and big markers. ``where``: a column or container to draw in. ``key`` names the chart: it sits in
    a container keyed ``chart_<key>``, which a lesson step can name to bring it into view. ``note``: a
    line above the chart (such as what a lesson keeps hidden on it until the reveal)."""
    box = where.container(key=f"chart_{key}") if key else where
    if note:
        box.info(note)
    event = box.plotly_chart(present(fig), key=key or None, **kw)
    box.caption(caption)
    return event
