"""UMAP and PCA behind one seeded ``fit``/``transform`` API.

UMAP's first call in a fresh process compiles numba code (~25 s here). Three things keep that
off the user's path: numba's compiled-function cache lives in the cache dir (``NUMBA_CACHE_DIR``,
set by :func:`configure_numba` before umap is imported), umap-learn's own functions use that cache
too (:func:`import_umap`), and :func:`warm_up` runs one tiny fit in a background thread when the app starts.

Example::

    >>> p = Projector("pca", n_components=2, seed=0)
    >>> xy = p.fit_transform(np.random.default_rng(0).normal(size=(50, 8)))
    >>> xy.shape
    (50, 2)
"""
from __future__ import annotations

import os
import threading
import time
import warnings

import numpy as np

from latent.core.errors import LatentError
from latent.core.models import cache_dir

METHODS = ("umap", "pca")
_warm = threading.Event()        # small maps ready
_warm_large = threading.Event()  # large maps (NN-descent) ready
_warm_lock = threading.Lock()
warm_seconds: dict[str, float] = {}


class ProjectionError(LatentError):
    """Bad projection input; one rule per message."""


def configure_numba() -> None:
    """Point numba's on-disk cache at our cache dir (must run before ``import umap``)."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        d = cache_dir() / "numba"
        d.mkdir(parents=True, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = str(d)


def import_umap():
    """``import umap`` with numba's on-disk cache on for umap-learn's own compiled functions.

    pynndescent marks its functions ``cache=True``; umap-learn does not, so every fresh process (an app
    start, a CLI run, a test process) compiled umap's layout and graph code again. While umap's modules
    are imported, ``numba.njit``/``numba.jit`` default to ``cache=True`` (a function that cannot be cached,
    such as a closure, only warns and compiles as before); afterwards numba is as it was. The cached
    machine code is what numba would compile, so the maps are the same. Measured on this 2-core machine,
    a second process's first small and large fits: 36 s against 49 s of CPU (``bench/bench_umap_cache.py``)."""
    configure_numba()
    import sys  # noqa: PLC0415 - only to see whether umap is already imported

    if "umap" in sys.modules:
        return sys.modules["umap"]
    import numba  # noqa: PLC0415 - heavy, and only with umap

    njit, jit = numba.njit, numba.jit

    def cached(decorator):
        def wrap(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return decorator(*args, **kwargs)
        return wrap

    numba.njit, numba.jit = cached(njit), cached(jit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=numba.NumbaWarning)    # "cannot cache": compiled as before
            import umap  # noqa: PLC0415 - heavy: umap-learn and its numba code
    finally:
        numba.njit, numba.jit = njit, jit
    return umap


def warm_up(large: bool = True) -> float:
    """Import umap and compile its code paths now, not on a click: one small fit (exact
    neighbours) and, with ``large``, one of 4,200 points (umap switches to NN-descent above 4,096).
    The small path's code is kept in numba's disk cache (a later process loads it in a fraction of a
    second); the large path's NN-descent closures are compiled again in every process (~35 s of a core)."""
    with _warm_lock:
        if _warm_large.is_set() or (not large and _warm.is_set()):
            return warm_seconds.get("total" if large else "small", 0.0)
        t0 = time.perf_counter()
        import_umap()          # the warm-up: umap-learn's numba code off the request path

        warm_seconds["import"] = time.perf_counter() - t0
        rng = np.random.default_rng(0)
        p = Projector("umap", seed=0, n_neighbors=10, n_epochs=20).fit(rng.normal(size=(200, 60)))
        p.transform(rng.normal(size=(5, 60)))
        warm_seconds["small"] = time.perf_counter() - t0
        _warm.set()
        if not large:
            return warm_seconds["small"]
        Projector("umap", seed=0, n_epochs=10).fit(rng.normal(size=(4200, 60))).transform(rng.normal(size=(5, 60)))
        warm_seconds["total"] = time.perf_counter() - t0
        _warm_large.set()
        return warm_seconds["total"]


def warm_up_in_background() -> threading.Thread:
    t = threading.Thread(target=warm_up, name="umap-warm-up", daemon=True)
    t.start()
    return t


def is_warm() -> bool:
    """True once small maps (exact neighbours) no longer compile on first use."""
    return _warm.is_set()


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (zero rows stay zero): cosine geometry for Euclidean tools."""
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


class Projector:
    """Seeded 2D/3D projection; ``method`` is umap or pca.

    With fewer points than ``n_neighbors + 2``, UMAP falls back to PCA and says so in ``note_``.
    """

    def __init__(self, method: str = "umap", n_components: int = 2, seed: int = 0,
                 n_neighbors: int = 15, min_dist: float = 0.1, metric: str = "cosine",
                 pca_dims: int | None = 50, n_epochs: int | None = None):
        if method not in METHODS:
            raise ProjectionError(f"Unknown method {method!r}. Must be one of: {', '.join(METHODS)}")
        if n_components not in (2, 3):
            raise ProjectionError(f"n_components must be 2 or 3, not {n_components}.")
        if n_neighbors < 2:
            raise ProjectionError(f"n_neighbors must be at least 2, not {n_neighbors}.")
        self.method, self.n_components, self.seed = method, n_components, int(seed)
        self.n_neighbors, self.min_dist, self.metric = n_neighbors, min_dist, metric
        self.pca_dims, self.n_epochs = pca_dims, n_epochs
        self.pre_ = None  # PCA applied before UMAP (speed: nearest-neighbour search in 50-D, not 576-D)
        self.method_used_: str | None = None
        self.note_ = ""
        self.model_ = None

    def params(self) -> dict:
        return {"method": self.method, "n_components": self.n_components, "seed": self.seed,
                "n_neighbors": self.n_neighbors, "min_dist": self.min_dist, "metric": self.metric,
                "pca_dims": self.pca_dims, "n_epochs": self.n_epochs}

    @staticmethod
    def _check(X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ProjectionError(f"Expected a 2-D array (points, dims), got shape {X.shape}.")
        if len(X) < 3:
            raise ProjectionError(f"Need at least 3 points to project, got {len(X)}.")
        if not np.isfinite(X).all():
            raise ProjectionError("Input contains NaN or inf.")
        return X

    def fit(self, X) -> "Projector":
        X = self._check(X)
        method = self.method
        if method == "umap" and len(X) < self.n_neighbors + 2:
            method = "pca"
            self.note_ = (f"Only {len(X)} points, fewer than UMAP needs for n_neighbors="
                          f"{self.n_neighbors}: shown with PCA instead.")
        if method == "pca":
            from sklearn.decomposition import PCA  # noqa: PLC0415 - heavy (scikit-learn): imported when first needed

            k = min(self.n_components, X.shape[1], len(X))
            self.model_ = PCA(n_components=k, svd_solver="full", random_state=self.seed).fit(X)
            self.embedding_ = self._pad(self.model_.transform(X))
        else:
            self.embedding_ = self._fit_umap(X)
        self.method_used_ = method
        return self

    def _fit_umap(self, X: np.ndarray) -> np.ndarray:
        """UMAP on the (optionally PCA-reduced) points. With PCA first, the metric is euclidean
        on the PCA coordinates of the row-normalised input (cosine geometry, 5-20x faster)."""
        umap = import_umap()
        metric = self.metric
        if self.pca_dims and X.shape[1] > self.pca_dims and len(X) > self.pca_dims:
            from sklearn.decomposition import PCA  # noqa: PLC0415 - heavy (scikit-learn): imported when first needed

            if metric == "cosine":
                X, metric = unit_rows(X), "euclidean"
            self.pre_ = PCA(n_components=self.pca_dims, svd_solver="full", random_state=self.seed).fit(X)
            X = self.pre_.transform(X).astype(np.float32)
        # 500 epochs (umap's default below 10k points) cost 4x more than 100 for no visible gain here
        epochs = self.n_epochs or (200 if len(X) <= 2000 else 100)
        # below 4,096 points umap computes exact distances through a per-pair Python callback
        # (~4 s at 2,000 points); NN-descent (compiled by the warm-up) is ~10x faster there
        self.model_ = umap.UMAP(n_components=self.n_components, n_neighbors=self.n_neighbors,
                                min_dist=self.min_dist, metric=metric, n_epochs=epochs,
                                random_state=self.seed, transform_seed=self.seed,
                                force_approximation_algorithm=len(X) > 1000)
        with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded on purpose
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(self.model_.fit_transform(X), dtype=np.float32)

    def _prep(self, X: np.ndarray) -> np.ndarray:
        if self.pre_ is None:
            return X
        return self.pre_.transform(unit_rows(X) if self.metric == "cosine" else X).astype(np.float32)

    def _pad(self, Y) -> np.ndarray:
        Y = np.asarray(Y, dtype=np.float32)
        if Y.shape[1] < self.n_components:
            Y = np.hstack([Y, np.zeros((len(Y), self.n_components - Y.shape[1]), np.float32)])
        return Y

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).embedding_

    def transform(self, X) -> np.ndarray:
        """Place new points on the fitted map without refitting."""
        if self.model_ is None:
            raise ProjectionError("Call fit before transform.")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or len(X) == 0:
            raise ProjectionError(f"Expected a non-empty 2-D array, got shape {X.shape}.")
        if not np.isfinite(X).all():
            raise ProjectionError("Input contains NaN or inf.")
        if self.method_used_ == "pca":
            return self._pad(self.model_.transform(X))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(self.model_.transform(self._prep(X)), dtype=np.float32)
