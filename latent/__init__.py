"""Latent Dialogue Explorer: the library behind the app (never imports streamlit).

Packages, from the ground up: ``core`` (the model-agnostic engine: models, the architecture table,
hooks, hidden states, decoding, requests, statistics, lens, projection, directions, corpus),
``serving`` (the scheduler), the features ``dialogues``, ``tokens``, ``senses``, ``steering``,
``claims`` and ``lessons``; beside them ``recipes``, ``export``, ``style`` and ``cli``
(``python -m latent``). The app's page registry is ``app_pages.site``: the library never imports the app.
"""
__version__ = "0.2.0"
