"""The one small Streamlit adapter: caching, model loading with progress, export buttons.

Pages import from here; ``latent/`` never imports streamlit.
"""
