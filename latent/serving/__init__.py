"""Serving: the layer between the engine (:mod:`latent.core`) and the features. The scheduler
gathers many sessions' model work, removes duplicates and hands the distinct work to a backend."""
