"""Export buttons under a figure: PNG, SVG, PDF, HTML, CSV and the JSON recipe."""
from __future__ import annotations

import streamlit as st

from latent import export
from latent.style import present

MADE_ON_CLICK = ("png", "svg", "pdf", "html")       # seconds each (a browser draws images); made when asked


def export_buttons(fig, table, recipe: dict, *, key: str, stem: str) -> None:
    """A row of export buttons under a figure (it wraps where it is narrow).

    Every download button is given its file's bytes, never a callable made on the click: a file made on the
    click belongs to no session, and in a class (every page reruns every two seconds) any two sessions' runs
    deleted it before the browser fetched it (a 404), or the page's next rerun dropped the callable the click
    still named. So the CSV and the recipe (cheap) are made while the page draws. PNG, SVG, PDF and HTML take
    seconds each: their button first makes the file (a click reruns only this row, a fragment), then the
    row offers it as "⬇ PNG". Made files are kept by the figure's content (:func:`latent.export.kept_export`),
    so every later run, and every session drawing the same figure, hands its button the same bytes."""
    st.caption("Export this figure")
    _row(fig, table, recipe, key, stem)


@st.fragment
def _row(fig, table, recipe: dict, key: str, stem: str) -> None:
    # one row that wraps, each button as wide as its label: six equal columns cut the labels to "P…" in the
    # presenter's narrow main column
    row = st.container(horizontal=True, gap="small", key=f"export_{key}")
    failed, digest = [], export.figure_digest(fig)
    for fmt in ("png", "svg", "pdf", "html", "csv", "json"):
        label = "recipe" if fmt == "json" else fmt.upper()
        if fmt in export.IMAGE_FORMATS and export.find_browser() is None:
            row.button(label, key=f"do_export_{key}-{fmt}", disabled=True, width="content",
                       help="Needs Chrome/Chromium installed (apt-get install chromium).")
            continue
        if fmt == "csv" and table is None:
            row.button(label, key=f"do_export_{key}-{fmt}", disabled=True, width="content",
                       help="This figure has no data table.")
            continue
        data = None
        try:
            if fmt in MADE_ON_CLICK:
                fkey = export.export_key(digest, fmt)
                data = export.made_export(fkey)
                if data is None and row.button(label, key=f"do_make_{key}-{fmt}", width="content",
                                               help=f"Makes the {label} file (a few seconds); then ⬇ {label} saves it."):
                    with st.spinner(f"Making the {label} file…"):
                        data = export.kept_export(fkey, fmt, fig=fig)
            else:
                data = export.export_bytes(fmt, fig=fig, table=table, recipe=recipe)
        except export.ExportError as e:
            failed.append(str(e))
        if data is not None:
            row.download_button(f"⬇ {label}", data, file_name=f"{stem}.{fmt}", mime=export.MIME[fmt],
                                key=f"do_export_{key}-{fmt}", on_click="ignore", width="content")
    for msg in failed:
        st.text(f"Export failed: {msg}")


def chart(fig, caption: str, where=st, key: str = "", note: str = "", share: float = 1.0, **kw):
    """``st.plotly_chart`` for every page, with its one-line caption under it (what a point, an axis
    and a colour mean: a test checks every chart has one). In presenter view, big type, thick lines
    and big markers. ``where``: a column or container to draw in. ``key`` names the chart: it sits in
    a container keyed ``chart_<key>``, which a lesson step can name to bring it into view. ``note``: a
    line above the chart (such as what a lesson keeps hidden on it until the reveal). ``share``: the chart's width
    against half the main column (a narrower column wraps the title sooner: :func:`latent.style.present`)."""
    box = where.container(key=f"chart_{key}") if key else where
    if note:
        box.info(note)
    event = box.plotly_chart(present(fig, share), key=key or None, **kw)
    box.caption(caption)
    return event
