"""The first screen's annotated map: every note points at a real turn and says something true of it."""
import numpy as np
import pytest

from latent.core.corpus import load_corpus
from latent.dialogues.figures import tour_figure
from latent.dialogues.tour import QUEEN, first_screen


def no_encoder():
    raise AssertionError("the seed texts' encoder vectors ship in assets/vectors")


@pytest.fixture(scope="module")
def tour():
    return first_screen(load_corpus(), encoder=no_encoder)


def row(tour, dialogue, turn):
    df = tour.table
    r = df[(df["dialogue"] == dialogue) & (df["turn"] == turn)]
    assert len(r) == 1
    return r.iloc[0]


def test_notes_point_at_what_they_say(tour):
    df = tour.table
    start, end, queen = tour.notes[:3]
    longest = df.groupby("dialogue").size().idxmax()
    assert (start.dialogue, start.turn) == (longest, df[df["dialogue"] == longest]["turn"].min())
    assert (end.dialogue, end.turn) == (longest, df[df["dialogue"] == longest]["turn"].max())
    assert QUEEN.search(row(tour, queen.dialogue, queen.turn)["text"])
    earlier = df[df["text"].str.contains(QUEEN)]
    assert (earlier.iloc[0]["dialogue"], earlier.iloc[0]["turn"]) == (queen.dialogue, queen.turn)


def test_closest_pair_is_closest_in_the_full_space_and_ranked_on_the_map(tour):
    from latent.dialogues.map import turn_vectors
    from latent.dialogues.tour import SPEC

    df = tour.table
    X = turn_vectors(SPEC, df["text"].tolist(), encoder=no_encoder)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    (da, ta), (db, tb) = tour.pair
    assert da != db
    ia = df.index[(df["dialogue"] == da) & (df["turn"] == ta)][0]
    ib = df.index[(df["dialogue"] == db) & (df["turn"] == tb)][0]
    assert tour.nearest_cos == pytest.approx(float(U[ia] @ U[ib]), abs=1e-6)
    # brute force: no other cross-text pair is closer in the full space
    d = df["dialogue"].to_numpy()
    C = U @ U.T
    C[d[:, None] == d[None, :]] = -2
    assert C.max() == pytest.approx(tour.nearest_cos, abs=1e-6)
    assert 1 <= tour.nearest_rank <= tour.n_pairs == int((d[:, None] != d[None, :]).sum() // 2)
    assert 0 < tour.explained < 1


def test_tour_figure_draws_every_note_and_caption_states_the_numbers(tour):
    fig = tour_figure(tour)
    texts = [a.text for a in fig.layout.annotations]
    assert len(texts) == len(tour.notes) + 1
    assert any("“queen”" in t for t in texts) and any(f"{tour.nearest_cos:.2f}" in t for t in texts)
    cap = tour.caption()
    assert f"{tour.explained:.0%}" in cap and f"pair {tour.nearest_rank} of {tour.n_pairs}" in cap


def test_the_kept_first_screen_equals_a_fresh_one_and_a_changed_turn_misses(tour, tmp_path, monkeypatch):
    """Home's map comes from the result store after the first start: what is read back equals the map fitted
    afresh, and a corpus with one turn changed is fitted again (not served the old map)."""
    import dataclasses

    import pandas as pd

    from latent.core.store import Memo, store
    from latent.dialogues import tour as tour_mod
    from latent.dialogues.tour import kept_first_screen

    monkeypatch.setenv("LATENT_STORE", "on")
    monkeypatch.setenv("LATENT_STORE_DIR", str(tmp_path / "store"))
    corpus = load_corpus()
    s = store()
    monkeypatch.setattr(tour_mod, "memo", Memo())             # each call as in a new process: an empty memo
    first = kept_first_screen(corpus, encoder=no_encoder)
    monkeypatch.setattr(tour_mod, "memo", Memo())
    again = kept_first_screen(corpus, encoder=no_encoder)
    assert (s.misses, s.hits) == (1, 1)
    for t in (first, again):
        pd.testing.assert_frame_equal(t.table, tour.table)
        assert (t.notes, t.pair, t.nearest_rank, t.n_pairs) == (tour.notes, tour.pair, tour.nearest_rank, tour.n_pairs)
        assert t.explained == pytest.approx(tour.explained) and t.nearest_cos == pytest.approx(tour.nearest_cos)
    d0 = corpus[0]
    turns = [dataclasses.replace(d0.turns[0], text=d0.turns[0].text + " (edited)"), *d0.turns[1:]]
    changed = [dataclasses.replace(d0, turns=turns), *corpus[1:]]
    monkeypatch.setattr("latent.dialogues.map.cached_vectors", lambda name, texts, compute: np.random.default_rng(0)
                        .normal(size=(len(texts), 384)).astype(np.float32))   # no encoder here: any vectors will do
    other = kept_first_screen(changed, encoder=no_encoder)
    assert (s.misses, s.hits) == (2, 1)
    assert other.table["text"].iloc[0].endswith("(edited)")
