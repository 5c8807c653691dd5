"""Caching and model access for every page: models via ``st.cache_resource`` (one per process,
shared by every session), arrays via ``st.cache_data``."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

import streamlit as st

from latent.core import models, project

DEFAULT = models.DEFAULT_LM


class Loader:
    """Loads a model in a background thread so the UI answers while the model loads.

    ``after``: another loader to wait for first (start-up work runs one thing at a time: on two
    cores, parallel imports and numba compilation mostly fight over the GIL).
    """

    def __init__(self, fn, *args, after: "Loader | None" = None):
        self.result, self.error, self.started = None, None, time.perf_counter()
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(fn, after, *args), daemon=True, name="model-loader").start()

    def _run(self, fn, after, *args):
        if after is not None:
            after.wait()
        try:
            self.result = fn(*args)
        except Exception as e:  # noqa: BLE001 - shown to the user by wait()
            self.error = e
        finally:
            self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout=None) -> bool:
        return self._done.wait(timeout)


@st.cache_resource(show_spinner=False)
def _encoder_loader() -> Loader:
    return Loader(models.load_encoder)


@st.cache_resource(show_spinner=False)
def _lm_loader(name: str) -> Loader:
    # the default model loads after the encoder at start-up; a model the user picks loads at once
    return Loader(models.load_lm, None if name == DEFAULT else name,
                  after=_encoder_loader() if name == DEFAULT else None)


def start_background_work() -> None:
    """At the end of every page: the link to this view and any note on unusable link settings (per
    session, so never inside a cached function: Streamlit replays a cached function's elements to
    every later session); then, once per process, the background loads."""
    from pages.ui import classroom

    classroom.finish()
    _background_loads()


@st.cache_resource(show_spinner=False)
def _background_loads() -> bool:
    """In the background and in this order: the sentence encoder (the default dialogue map), the
    default LM, then UMAP's numba warm-up. The UI answers throughout."""
    Loader(project.warm_up, after=_lm_loader(DEFAULT))
    return True


def model_name() -> str:
    return st.session_state.get("model_name", DEFAULT)


def _wait(loader: Loader, label: str):
    """Wait for a background load, showing elapsed time; the loader's error, if any, is raised."""
    if not loader.done():
        slot = st.empty()
        with slot.status(f"Loading {label}… (the very first start dequantizes the model, ~20 s)") as s:
            while not loader.wait(0.5):
                s.update(label=f"Loading {label}… {time.perf_counter() - loader.started:.0f} s")
        slot.empty()
    if loader.error is not None:
        raise loader.error
    return loader.result


def lm():
    """The shared language model for this session's chosen name (waits with a progress status).

    A model that fails to load is reported once; the session goes back to the default model.
    """
    name = model_name()
    try:
        return _served(_wait(_lm_loader(name), name))
    except Exception as e:  # noqa: BLE001
        _lm_loader.clear(name)
        st.session_state["model_name"] = DEFAULT
        st.error(f"{e} Switched back to {DEFAULT}.")
        st.stop()


def encoder():
    """The shared sentence encoder; its calls from pages go through its scheduler."""
    from latent.serving.scheduler import serve_encoder

    enc = _wait(_encoder_loader(), "sentence encoder")
    serve_encoder(enc)
    return enc


_memo: OrderedDict = OrderedDict()
_memo_lock = threading.Lock()


def memo(name: str, key: tuple, fn, max_entries: int = 24):
    """Process-wide LRU for results computed with a progress bar (``st.cache_*`` cannot replay
    updates to a bar made outside the cached function). Keys must be hashable inputs."""
    k = (name, key)
    with _memo_lock:
        if k in _memo:
            _memo.move_to_end(k)
            return _memo[k]
    value = fn()
    with _memo_lock:
        _memo[k] = value
        while len(_memo) > max_entries:
            _memo.popitem(last=False)
    return value


def dialogue_map(spec: dict, extra: list, lm, enc, progress=None):
    """Dialogue-map table (+ note) per spec, added dialogues and model (``lm`` is None for the encoder)."""
    import json

    from latent.core.corpus import Dialogue, load_corpus
    from latent.dialogues.map import MapSpec, compute_map

    def run():
        dialogues = load_corpus() + [Dialogue.from_dict(d) for d in extra]
        return compute_map(MapSpec(**spec), dialogues, lm=lm, encoder=enc, progress=progress)
    return memo("dialogue_map", (json.dumps(spec, sort_keys=True), json.dumps(extra), lm.key if lm else None), run)


def tour():
    """The first screen's annotated map of the seed texts (shipped encoder vectors: no model wait)."""
    from latent.core.corpus import load_corpus
    from latent.dialogues.tour import first_screen

    return memo("tour", (), lambda: first_screen(load_corpus(), encoder=encoder))


def token_map(prompts: tuple, layers: tuple, method: str, dims: int, seed: int, lm, progress=None):
    """Cached per input: moving the layer slider recomputes nothing."""
    from latent.tokens.map import token_map as compute

    return memo("token_map", (prompts, layers, method, dims, seed, lm.key),
                lambda: compute(lm, list(prompts), list(layers), method=method, dims=dims, seed=seed,
                                progress=progress), max_entries=8)


def lens_table(text: str, lm):
    from latent.core.hidden import hidden_states
    from latent.core.lens import lens_table as compute

    return memo("lens", (text, lm.key), lambda: compute(lm, hidden_states(lm, [text])[0], k=3))


def direction(positive: tuple, negative: tuple, layer: int, method: str, lm):
    from latent.core.direction import Direction

    return memo("direction", (positive, negative, layer, method, lm.key),
                lambda: Direction.from_texts(lm, list(positive), list(negative), layer, method=method))


def sense_report(sset_json: str, contexts: tuple, readout: str, layer, lm, enc=None):
    """Cached per input (the whole set, the steps, readout, layer and whether the encoder control runs)."""
    from latent.senses.sets import SenseSet
    from latent.senses.study import analyze

    return memo("senses", (sset_json, contexts, readout, layer, lm.key, enc is not None),
                lambda: analyze(lm, SenseSet.from_json(sset_json), list(contexts), readout=readout, layer=layer,
                                encoder=enc))


def lm_named(name: str):
    """Another model by name (loads in the background like the session's own; shared by all sessions)."""
    return _served(_wait(_lm_loader(name), name))


def _served(lm):
    """Every session's model work on a shared model goes through its one scheduler."""
    from latent.serving.scheduler import serve

    serve(lm)
    return lm


def experiment(name: str, key: tuple, lm, progress=None):
    """Cached per experiment, (parameters, seed) and model. A second model (the cross-model and
    cousins experiments) comes from the shared loader, never a second copy."""
    import latent.claims as claims

    claims.MODEL_LOADER = lm_named
    params, seed = key
    return memo("experiment", (name, key, lm.key),
                lambda: claims.run(name, lm, progress=progress, seed=seed, **dict(params)))


def scheduled(lm, slot):
    """A runner for :func:`latent.steering.walk.sweep` through the model's one scheduler: rows from every
    session share batches; while waiting, ``slot`` shows the queue and progress; a session that goes
    away (a closed tab, or Streamlit stopping its script) cancels its queued rows."""
    import os

    from latent.serving.scheduler import scheduler_for

    sched = scheduler_for(lm, threads=os.cpu_count())
    check = gone_away(session_alive(), stop=st.stop)     # a closed tab: drop the rows now, not when its session expires

    def wait(t):
        check(t)
        slot.caption(queue_note(sched, t))
    return lambda request: sched.run(request, wait=wait)


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
    from latent.steering.presets import build

    return memo("preset", (name, layer, method, lm.key), lambda: build(lm, name, layer=layer, method=method))


_NOT_VALUES = ("_run", "_send", "_add", "_save", "_goto", "_interp", "_place", "_play", "upload", "_file", "_rows_",
               "use_model", "add_dialogue", "clear_dialogues")


def route_model_work() -> None:
    """This script run's hidden-state passes and sentence-encoder calls go through the shared models'
    scheduler (packed with other sessions' work); steering decodes go there through :func:`scheduled`.
    A session whose browser has gone away drops its queued passes (see :func:`gone_away`)."""
    from latent.serving.scheduler import route_model_work as route

    route(wait=gone_away(session_alive(), stop=st.stop))


def session_alive():
    """A check that this session still has a browser: Streamlit's runtime keeps a session whose
    websocket closed as inactive until its TTL runs out (``is_active_session`` is thread-safe). Outside
    a served app (AppTest, bare scripts) there is no runtime to ask: always alive."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return lambda: True
    runtime, sid = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(sid)


def gone_away(alive, stop=None):
    """A scheduler ``wait`` callback that cancels the queued request once ``alive()`` is false. In the
    app, ``stop`` is ``st.stop``: the script run ends quietly (a browser that reconnects after a blip
    sees a stopped run it can rerun, not a traceback); without it, ``CancelledError`` is raised."""
    from concurrent.futures import CancelledError

    def wait(_ticket):
        if not alive():
            if stop is not None:
                stop()
            raise CancelledError("the browser went away: its queued model work is dropped")
    return wait


def keep_inputs() -> None:
    """Streamlit forgets a widget's value when its page is not shown; re-assigning every value widget's
    state at the top of each page keeps typed prompts and settings across page switches. Only plain
    values are kept: buttons, uploads, editors, chart selections and export buttons (keys with '-')
    cannot be set and are skipped. Convention: a button's key contains one of ``_NOT_VALUES``."""
    for k in list(st.session_state.keys()):
        v = st.session_state[k]
        plain = isinstance(v, (str, int, float, bool, list, tuple)) or v is None and k.endswith("_layer")
        if plain and isinstance(k, str) and "-" not in k and not any(t in k for t in _NOT_VALUES):
            try:
                st.session_state[k] = st.session_state[k]
            except Exception:  # noqa: BLE001 - a widget type that cannot be set: nothing to keep
                pass


def page(title: str, tab: str) -> None:
    """Every page's preamble: wide layout, the tab title, inputs kept across pages, the classroom
    preamble (link checks, presenter view, the lesson panel), the heading. Each page calls
    :func:`start_background_work` at its end (the link box, then background loading)."""
    from pages.ui import classroom

    st.set_page_config(page_title=f"{tab} · Latent Dialogue Explorer", layout="wide")
    keep_inputs()
    route_model_work()
    link_version()
    if not classroom.presenting():
        glossary()
    st.title(title)
    classroom.preamble(tab)


def chart(fig, caption: str, where=st, **kw):
    """``st.plotly_chart`` for every page, with its one-line caption under it (what a point, an axis
    and a colour mean: a test checks every chart has one). In presenter view, big type, thick lines
    and big markers. ``where``: a column or container to draw in."""
    from latent.style import present

    event = where.plotly_chart(present(fig), **kw)
    where.caption(caption)
    return event


LINK_VERSION = "1"


def link_version() -> None:
    """Widgets at their defaults are not written to the URL, so a link depends on the app's defaults:
    every URL carries ``v`` so a later version can read old links by their defaults."""
    if st.query_params.get("v") != LINK_VERSION:
        st.query_params["v"] = LINK_VERSION


def glossary() -> None:
    """The plain-words glossary (assets/glossary.md), in the sidebar of every page."""
    from latent.core.assets import asset

    with st.sidebar.expander("Glossary: the words in plain English"):
        st.markdown(asset("glossary.md").read_text(encoding="utf-8"))
