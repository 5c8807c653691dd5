"""Latent Dialogue Explorer: the library behind the app (never imports streamlit).

Modules: models (loading), corpus (the seed dialogues), hidden (hidden states), project
(UMAP/PCA), dialogue_map, figures, export, replay, steer, cli.
"""
__version__ = "0.1.0"
