"""CLI commands of the explorer pages (registered into :mod:`latent.cli`)."""
