"""Export buttons under a figure: PNG, SVG, PDF, HTML, CSV and the JSON recipe."""
from __future__ import annotations

import streamlit as st

from latent import export


def _maker(fmt, fig, table, recipe):
    def make():
        try:
            return export.export_bytes(fmt, fig=fig, table=table, recipe=recipe)
        except export.ExportError as e:
            return f"Export failed: {e}\n".encode()
    return make


def export_buttons(fig, table, recipe: dict, *, key: str, stem: str) -> None:
    """A row of download buttons; files are made only when clicked."""
    st.caption("Export this figure")
    cols = st.columns(6)
    for col, fmt in zip(cols, ("png", "svg", "pdf", "html", "csv", "json")):
        label = "recipe" if fmt == "json" else fmt.upper()
        if fmt in export.IMAGE_FORMATS and export.find_browser() is None:
            col.button(label, key=f"{key}-{fmt}", disabled=True,
                       help="Needs Chrome/Chromium installed (apt-get install chromium).")
            continue
        col.download_button(label, _maker(fmt, fig, table, recipe), file_name=f"{stem}.{fmt}",
                            mime=export.MIME[fmt], key=f"{key}-{fmt}", on_click="ignore")
