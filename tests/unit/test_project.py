import numpy as np
import pytest

from latent.core.project import ProjectionError, Projector


def planted(n_per=40, k=4, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=8, size=(k, d))
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centers])
    return X.astype(np.float32), np.repeat(np.arange(k), n_per)


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_same_seed_same_coordinates(method):
    X, _ = planted()
    a = Projector(method, seed=3).fit_transform(X)
    b = Projector(method, seed=3).fit_transform(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_clusters_stay_apart(method):
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import silhouette_score

    X, y = planted()
    Y = Projector(method, seed=0, metric="euclidean").fit_transform(X)
    assert silhouette_score(Y, y) > 0.5
    assert trustworthiness(X, Y, n_neighbors=5) >= 0.9


def test_three_dims():
    X, _ = planted()
    assert Projector("pca", n_components=3).fit_transform(X).shape == (160, 3)


def test_too_few_points_falls_back_to_pca():
    X, _ = planted(n_per=3, k=2)
    p = Projector("umap", n_neighbors=15).fit(X)
    assert p.method_used_ == "pca" and "PCA instead" in p.note_
    assert p.embedding_.shape == (6, 2)


def test_pca_transform_of_fitted_point_lands_on_it():
    X, _ = planted()
    p = Projector("pca").fit(X)
    np.testing.assert_allclose(p.transform(X[:5]), p.embedding_[:5], atol=1e-4)


@pytest.mark.parametrize("kwargs,msg", [
    ({"method": "tsne"}, "Unknown method 'tsne'. Must be one of: umap, pca"),
    ({"n_components": 4}, "n_components must be 2 or 3"),
    ({"n_neighbors": 1}, "n_neighbors must be at least 2"),
])
def test_validation_one_rule_per_message(kwargs, msg):
    with pytest.raises(ProjectionError, match=msg.replace("(", r"\(")):
        Projector(**kwargs)


@pytest.mark.parametrize("X,msg", [
    (np.zeros(5), "2-D array"), (np.zeros((2, 3)), "at least 3 points"),
    (np.full((5, 3), np.nan), "NaN or inf"),
])
def test_bad_arrays(X, msg):
    with pytest.raises(ProjectionError, match=msg):
        Projector("pca").fit(X)


def test_umap_pca_front_and_transform_lands_near_fit():
    from sklearn.metrics import silhouette_score

    X, y = planted(n_per=50, k=4, d=120)
    p = Projector("umap", seed=0).fit(X)
    assert p.pre_ is not None and p.pre_.n_components_ == 50
    assert silhouette_score(p.embedding_, y) > 0.5
    Y = p.transform(X[:40])
    spread = np.ptp(p.embedding_, axis=0).max()
    err = np.linalg.norm(Y - p.embedding_[:40], axis=1)
    assert np.median(err) < 0.1 * spread


def test_umap_learns_functions_use_numbas_disk_cache_and_numba_is_left_as_it_was():
    """``import_umap``: umap-learn's compiled functions are cached on disk (a second process loads them, not
    compiles them: bench/bench_umap_cache.py), and numba's decorators are numba's own again afterwards."""
    import numba

    from latent.core.project import import_umap

    umap = import_umap()
    assert numba.njit.__module__.startswith("numba") and numba.jit.__module__.startswith("numba")
    cached = [f for f in vars(umap.layouts).values() if isinstance(f, numba.core.registry.CPUDispatcher)]
    assert cached and all(type(f._cache).__name__ == "FunctionCache" for f in cached), [
        (f.__name__, type(f._cache).__name__) for f in cached]
