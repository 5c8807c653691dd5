"""The seeds' claims, tested live. The framework (types, parameter specs, the registry, running an
experiment in fp32 on the CPU) is :mod:`latent.claims.framework`; the verdict rules are
:mod:`latent.claims.evidence`; the seven experiments are :mod:`latent.claims.experiments`, one file each."""
from latent.claims.evidence import ARITHMETIC, INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, VERDICTS, Evidence, Finding
from latent.claims.framework import (
    Claim,
    Experiment,
    ExperimentError,
    ExperimentResult,
    Param,
    check_layer,
    check_prompts,
    corpus_prompts,
    fp32_cpu,
    get,
    kept_run,
    other_model,
    registry,
    run,
)

__all__ = ["ARITHMETIC", "INCONCLUSIVE", "NOT_SUPPORTED", "SUPPORTED", "VERDICTS", "Evidence", "Finding", "Claim",
           "Experiment", "ExperimentError", "ExperimentResult", "Param", "check_layer", "check_prompts",
           "corpus_prompts", "fp32_cpu", "get", "kept_run", "other_model", "registry", "run"]
