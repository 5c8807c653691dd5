"""The app's pages (one script each, run by the frame ``app.py``), the page registry :mod:`app_pages.site`
and the Streamlit adapter :mod:`app_pages.ui`. A package, so that ``site`` is ``app_pages.site`` and
never Python's own ``site`` module (pytest collects its doctest by that name)."""
