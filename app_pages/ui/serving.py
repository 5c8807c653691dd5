"""Results computed once per process (a small LRU, shared by every session) and the glue between a
session and the shared models' scheduler: its queue place, its progress, and a closed tab's cancel.

Every page's frame imports this module, so each result imports the model code it needs (torch,
transformers: 5 s on two cores) when it is first asked for: Home draws its map before they load.
"""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from concurrent.futures import CancelledError

import numpy as np
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_pages.ui import models
from latent.core.corpus import Dialogue, load_corpus
from latent.core.store import memo, store
from latent.dialogues.map import MapSpec, compute_map
from latent.dialogues.tour import kept_first_screen
from latent.serving.backends import InProcess, backend_note, current_backend
from latent.serving.scheduler import route_model_work as route
from latent.serving.scheduler import scheduler_for

_memo_lock = threading.Lock()


def dialogue_map(spec: dict, extra: list, lm, enc, progress=None):
    """Dialogue-map table (+ note) per spec, added dialogues and model (``lm`` is None for the encoder)."""

    def run():
        dialogues = load_corpus() + [Dialogue.from_dict(d) for d in extra]
        return compute_map(MapSpec(**spec), dialogues, lm=lm, encoder=enc, progress=progress)
    return memo("dialogue_map", (json.dumps(spec, sort_keys=True), json.dumps(extra), lm.key if lm else None), run)


def tour():
    """The first screen's annotated map of the seed texts (shipped encoder vectors: no model wait)."""
    return memo("tour", (), lambda: kept_first_screen(load_corpus(), encoder=models.encoder))


def token_map(prompts: tuple, layers: tuple, method: str, dims: int, seed: int, lm, progress=None):
    """Cached per input (moving the layer slider recomputes nothing) and kept in the result store."""
    from latent.tokens.map import token_map as compute_token_map  # noqa: PLC0415 - see the module docstring

    params = {"prompts": list(prompts), "layers": list(layers), "method": method, "dims": dims, "seed": seed}
    return memo("token_map", (prompts, layers, method, dims, seed, lm.key), lambda: store().cached(
        "tokens.map", params, lm, lambda: compute_token_map(lm, list(prompts), list(layers), method=method, dims=dims,
                                                            seed=seed, progress=progress)), max_entries=8)


def lens_table(text: str, lm):
    """One text's logit lens (the LM head on every layer: ~1 s on SmolLM2 for a sentence), kept in the store."""
    from latent.core.hidden import hidden_states  # noqa: PLC0415 - see the module docstring
    from latent.core.lens import lens_table as compute_lens  # noqa: PLC0415 - see the module docstring

    return memo("lens", (text, lm.key), lambda: store().cached(
        "tokens.lens", {"text": text, "k": 3}, lm, lambda: compute_lens(lm, hidden_states(lm, [text])[0], k=3)))


def direction(positive: tuple, negative: tuple, layer: int, method: str, lm):
    from latent.core.direction import Direction  # noqa: PLC0415 - see the module docstring

    return memo("direction", (positive, negative, layer, method, lm.key),
                lambda: Direction.from_texts(lm, list(positive), list(negative), layer, method=method))


def sense_fit(sset_json: str, readout: str, layer, lm, enc=None):
    """The per-set half of a sense report (see :func:`latent.senses.study.kept_fit`): the same set is
    computed once for every session, step and lesson."""
    from latent.senses.sets import SenseSet  # noqa: PLC0415 - see the module docstring
    from latent.senses.study import kept_fit  # noqa: PLC0415 - see the module docstring

    return kept_fit(lm, SenseSet.from_json(sset_json), readout=readout, layer=layer, encoder=enc)


_steps: OrderedDict = OrderedDict()          # (fit, context) -> (Step, its states): a step is scored once


def sense_report(sset_json: str, contexts: tuple, readout: str, layer, lm, enc=None, orders: bool = True):
    """A sense report from the stored fit and the steps, scoring only steps not seen before with this
    fit (adding a context word costs that word's step); with ``orders`` the word-order control too
    (:func:`sense_orders`, which a page may instead fill in after drawing the rest)."""
    from latent.senses.study import report, score_steps  # noqa: PLC0415 - see the module docstring

    f = sense_fit(sset_json, readout, layer, lm, enc)
    contexts = [c for c in contexts if c and c.strip()]
    with _memo_lock:
        missing = [c for c in dict.fromkeys(contexts) if (id(f), c) not in _steps]
    if missing or not contexts:
        new, Q = score_steps(lm, f, missing)
        with _memo_lock:
            for s, q in zip(new, Q):
                _steps[(id(f), s.context)] = (s, q, f)         # f kept: its id is never reused while cached
            while len(_steps) > 512:
                _steps.popitem(last=False)
    with _memo_lock:
        got = [_steps[(id(f), c)] for c in contexts]
    rep = report(f, [g[0] for g in got], np.stack([g[1] for g in got]))
    if orders:
        rep.orders = sense_orders(sset_json, tuple(contexts), readout, layer, lm, enc)
    return rep


def sense_orders(sset_json: str, contexts: tuple, readout: str, layer, lm, enc=None):
    """The word-order control of a report (see :func:`latent.senses.study.word_orders`), kept."""
    from latent.senses.study import word_orders  # noqa: PLC0415 - see the module docstring

    f = sense_fit(sset_json, readout, layer, lm, enc)
    params = {"set": sset_json, "readout": readout, "layer": layer, "contexts": list(contexts)}
    return memo("senses_orders", (sset_json, contexts, readout, layer, lm.key),
                lambda: store().cached("senses.orders", params, lm, lambda: word_orders(lm, f, list(contexts))))


def experiment(name: str, key: tuple, lm, progress=None):
    """Cached per experiment, (parameters, seed) and model. A second model (the cross-model and
    cousins experiments) comes from the shared loader, never a second copy."""
    import latent.claims as claims  # noqa: PLC0415 - see the module docstring

    params, seed = key
    return memo("experiment", (name, key, lm.key), lambda: store().cached(
        "claims.run", {"name": name, "params": dict(params), "seed": seed}, lm,
        lambda: claims.run(name, lm, progress=progress, seed=seed, models=models.lm_named, **dict(params))))


def scheduled(lm, slot):
    """A runner for :func:`latent.steering.walk.sweep` through the model's one scheduler: rows from every
    session share batches; while waiting, ``slot`` shows the queue and progress (the streamed cards go to
    their own slot); a session that goes
    away (a closed tab, or Streamlit stopping its script) cancels its queued rows."""
    sched = scheduler_for(lm, threads=os.cpu_count())
    check = gone_away(session_alive(), stop=st.stop)     # a closed tab: drop the rows now, not when its session expires

    def run(request, on_texts=None):
        shown = [None]

        def wait(t):
            check(t)
            if on_texts is not None and t.partial is not None and t.progress != shown[0]:
                shown[0] = t.progress
                on_texts(t.progress[0], t.partial)       # the cards fill in as the batch decodes
            slot.caption(queue_note(sched, t))
        g = sched.run(request, wait=wait)
        for note in g.extra.get("notes", []):      # a cluster worker lost mid-batch: its rows were redone
            st.info(note)
        return g
    return run


def backend_status(lm) -> tuple[str, str | None]:
    """Where the model work runs, in one line, and why that is not the configured backend (or None)."""
    b = current_backend()
    if isinstance(b, InProcess):
        return "Model work runs in this process.", backend_note()
    info = b.describe(lm)
    devices = ", ".join(sorted({w["device"] for w in info["per_worker"]}))
    return f"Model work runs on the Ray cluster {info['name']}: {info['workers']} workers ({devices}).", backend_note()


def queue_note(sched, t) -> str:
    """What a waiting session is told: its place in the queue, the batch in progress it waits behind,
    or its own decode's progress."""
    ahead, rows = sched.position(t)
    step, n = t.progress
    if n:
        return f"Decoding in a shared batch… token {step} of {n}"
    if ahead:
        return f"Queued: {ahead} request(s), {rows} rows from other sessions ahead of yours…"
    busy, (bstep, bn) = sched.busy(t)
    if busy:
        return (f"Waiting for the batch in progress ({busy} rows from other sessions, token {bstep} of {bn}); "
                "yours decodes next…")
    return "Starting the decode…"


def preset(name: str, layer: int, method: str, lm):
    from latent.steering.presets import build  # noqa: PLC0415 - see the module docstring

    return memo("preset", (name, layer, method, lm.key), lambda: build(lm, name, layer=layer, method=method))


def route_model_work() -> None:
    """This script run's hidden-state passes and sentence-encoder calls go through the shared models'
    scheduler (packed with other sessions' work); steering decodes go there through :func:`scheduled`.
    A session whose browser has gone away drops its queued passes (see :func:`gone_away`)."""
    route(wait=gone_away(session_alive(), stop=st.stop))


def session_alive():
    """A check that this session still has a browser: Streamlit's runtime keeps a session whose
    websocket closed as inactive until its TTL runs out (``is_active_session`` is thread-safe). Outside
    a served app (AppTest, bare scripts) there is no runtime to ask: always alive."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return lambda: True
    runtime, sid = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(sid)


def gone_away(alive, stop=None):
    """A scheduler ``wait`` callback that cancels the queued request once ``alive()`` is false. In the
    app, ``stop`` is ``st.stop``: the script run ends quietly (a browser that reconnects after a blip
    sees a stopped run it can rerun, not a traceback); without it, ``CancelledError`` is raised."""
    def wait(_ticket):
        if not alive():
            if stop is not None:
                stop()
            raise CancelledError("the browser went away: its queued model work is dropped")
    return wait
