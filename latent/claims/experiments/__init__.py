"""The seven experiments, one module each; each ends with ``EXPERIMENT = Experiment(...)`` and is
found by :func:`latent.claims.framework.registry`. Adding an experiment is adding one file here."""
