"""Concepts: a dictionary of the model's own features (a sparse autoencoder), its files and its quality card.

``sae`` (the dictionary, training, splicing), ``io`` (SAELens and Gemma Scope folders), ``collect``
(states from texts), ``card`` (the quality card) and ``build`` (collect → train → save → card).
"""
