import json

import numpy as np
import pytest

from latent import export
from latent.dialogues.map import MapSpec
from latent.recipes import Resources, make_recipe, replay


@pytest.fixture(scope="module")
def encoder_map(encoder):
    recipe = make_recipe("dialogue_map", MapSpec(source="encoder", method="pca").to_dict(),
                                model="all-MiniLM-L6-v2")
    res = Resources()
    res._enc = encoder
    return recipe, res, replay(recipe, res)


def test_recipe_round_trip_replays_same_data(encoder_map, tmp_path):
    recipe, res, (df, fig, _) = encoder_map
    path = export.write(tmp_path / "map.json", recipe=recipe)
    loaded = json.loads(path.read_text())
    assert loaded["versions"]["torch"].startswith("2.13")
    df2, fig2, _ = replay(loaded, res)
    assert df2[["dialogue", "turn", "speaker"]].equals(df[["dialogue", "turn", "speaker"]])
    np.testing.assert_allclose(df2[["x", "y"]].to_numpy(), df[["x", "y"]].to_numpy(), atol=1e-5)
    assert len(df) == 112


def test_user_dialogue_in_recipe(encoder_map):
    recipe, res, _ = encoder_map
    extra = {"id": "user1", "title": "T", "kind": "user", "source": "pasted",
             "turns": [{"speaker": "A", "index": 0, "text": "bees make honey", "source": "pasted"}]}
    r = dict(recipe, params={**recipe["params"], "extra_dialogues": [extra]})
    df, _, _ = replay(r, res)
    assert len(df) == 113 and "user1" in set(df["dialogue"])


def test_csv_and_offline_html(encoder_map):
    _, _, (df, fig, _) = encoder_map
    csv = export.export_bytes("csv", table=df).decode()
    assert csv.splitlines()[0] == "dialogue,title,turn,speaker,section,text,x,y,placed"
    html = export.figure_bytes(fig, "html").decode()
    assert len(html) > 3_000_000 and "<script src=" not in html  # plotly.js inlined, no CDN


@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("svg", b"<svg"), ("pdf", b"%PDF")])
def test_image_exports(encoder_map, fmt, magic):
    if export.find_browser() is None:
        pytest.skip("no Chrome/Chromium here")
    _, _, (_, fig, _) = encoder_map
    data = export.figure_bytes(fig, fmt)
    assert magic in data[:200]


def test_shipped_encoder_vectors_match_the_live_encoder(encoder):
    """assets/vectors holds the seed corpus embedded by all-MiniLM-L6-v2 (so the first map draws
    without loading the encoder); it must equal what the encoder computes now."""
    from latent.core.corpus import load_corpus
    from latent.dialogues.map import SHIPPED_VECTORS, _vector_file, turn_table

    texts = turn_table(load_corpus())["text"].tolist()
    shipped = np.load(SHIPPED_VECTORS / _vector_file("encoder:all-MiniLM-L6-v2", texts))
    live = encoder.encode(texts, batch_size=32, normalize_embeddings=True)
    np.testing.assert_allclose(shipped, live, atol=1e-4)


@pytest.mark.parametrize("method", ["pca", pytest.param("umap", marks=[pytest.mark.full, pytest.mark.slow])])  # umap: docs/testing.md
def test_added_dialogue_is_placed_and_the_map_keeps_its_shape(encoder, method):
    from latent.core.corpus import Dialogue, load_corpus
    from latent.dialogues.map import compute_map

    spec = MapSpec(source="encoder", method=method)
    extra = Dialogue.from_dict({"id": "user1", "title": "T", "kind": "user", "source": "pasted",
                                "turns": [{"speaker": "A", "index": i, "text": t, "source": "pasted"}
                                          for i, t in enumerate(["bees make honey", "the queen lays eggs"])]})
    before, _ = compute_map(spec, load_corpus(), encoder=encoder)
    after, _ = compute_map(spec, load_corpus() + [extra], encoder=encoder)
    seed = after[~after["placed"]]
    assert len(seed) == len(before) and after["placed"].sum() == 2
    np.testing.assert_allclose(seed[["x", "y"]].to_numpy(), before[["x", "y"]].to_numpy(), atol=1e-5)
