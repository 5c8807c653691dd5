"""Model loading for every page: one model object per name for the whole process (``st.cache_resource``),
loaded in a background thread so the UI answers while it loads, served through its scheduler."""
from __future__ import annotations

import gc
import os
import threading
import time
from functools import partial

import streamlit as st

from app_pages.site import TITLES, current_key
from latent.core import models, project
from latent.lessons import load_lessons
from latent.lessons.warm import warm_answers, warm_enabled, warm_status
from latent.serving.scheduler import encoder_scheduler, lower_priority, route_model_work, scheduler_for, serve, serve_encoder

# ``LATENT_MODEL`` names the app's default model (an embedded name, a local folder or an HF id in the local
# cache; ``tiny-llama`` and the other ``tiny-<family>`` names are the tests' config-built random models)
DEFAULT = os.environ.get("LATENT_MODEL", "").strip() or models.DEFAULT_LM


def _load(name: str | None):
    if name and name.startswith("tiny-"):
        from latent.core.tiny import make_tiny_lm  # noqa: PLC0415 - test models: only when asked for
        lm = make_tiny_lm(family=name.removeprefix("tiny-"))
    else:
        lm = models.load_lm(name)
    # The model and the libraries' ~470k objects live as long as the process: out of the garbage
    # collector's generations, a full collection no longer scans them (0.3 s holding the GIL on 2 cores,
    # during which the server answers nobody, not even its health check); the garbage is collected first
    gc.collect()
    gc.freeze()
    return lm


class Loader:
    """Loads a model in a background thread so the UI answers while the model loads.

    ``after``: another loader to wait for first (start-up work runs one thing at a time: on two
    cores, parallel imports and numba compilation mostly fight over the GIL).
    """

    def __init__(self, fn, *args, after: "Loader | None" = None):
        self.result, self.error, self.started, self.finished = None, None, time.perf_counter(), None
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
            self.finished = time.perf_counter()
            self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout=None) -> bool:
        return self._done.wait(timeout)


@st.cache_resource(show_spinner=False)
def _encoder_loader() -> Loader:
    # after the default LM: Home's model card waits for the LM; the seed texts' map ships its encoder vectors
    return Loader(models.load_encoder, after=_lm_loader(DEFAULT))


@st.cache_resource(show_spinner=False)
def _lm_loader(name: str) -> Loader:
    return Loader(_load, None if name == models.DEFAULT_LM else name)


@st.cache_resource(show_spinner=False)
def background_loads() -> bool:
    """In the background and in this order: the default LM (Home's model card), then the sentence
    encoder (the meters, the Senses baseline, pasted dialogues). The UI answers throughout."""
    _encoder_loader()
    return True


@st.cache_resource(show_spinner=False)
def warm_umap() -> Loader | None:
    """UMAP's numba code, compiled once per process in the background (after the default LM), started by
    the pages that offer UMAP, not at every start: it is ~40 s of one of the two cores per process
    (pynndescent's code cannot be kept in numba's disk cache), which every start used to pay while the
    first pages were computing, whether or not anyone chose UMAP. ``LATENT_UMAP_WARM=off`` leaves it to
    the first UMAP map (the tests' own processes: a map then compiles when it is drawn); ``small`` warms
    only the small maps' path (the browser tests' servers, whose maps are all small)."""
    mode = os.environ.get("LATENT_UMAP_WARM", "").lower()
    if mode in ("off", "0", "no"):
        return None
    return Loader(partial(project.warm_up, large=mode != "small"), after=_lm_loader(DEFAULT))


def model_name() -> str:
    return st.session_state.get("model_name", DEFAULT)


def _wait(loader: Loader, label: str):
    """Wait for a background load, showing elapsed time; the loader's error, if any, is raised."""
    if not loader.done():
        slot = st.empty()
        first = "the first start joins, reads and dequantises the model file" if "gemma" in label.lower() else \
            "the very first start dequantises the model"
        with slot.status(f"Loading {label}… ({first})") as s:
            bar = st.progress(0.0)
            typical = 25.0 if "gemma" in label.lower() else 12.0      # first starts on two cores (bench_model_start: 22 s, 10 s)
            while not loader.wait(0.5):
                spent = time.perf_counter() - loader.started
                s.update(label=f"Loading {label}… {spent:.0f} s ({first})")
                bar.progress(min(spent / typical, 0.95), text=f"{spent:.0f} s of about {typical:.0f} s the first time; "
                             "a few seconds once cached")
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
    enc = _wait(_encoder_loader(), "sentence encoder")
    serve_encoder(enc)
    return enc


def load_wall_seconds(name: str | None = None) -> float | None:
    """Wall time from the request (a click, or the app's start for the default model) to a usable model,
    including the imports and any wait for the CPU: what a user waited, not the bare load."""
    loader = _lm_loader(name or model_name())
    return None if loader.finished is None else loader.finished - loader.started


_warming: set = set()
_warming_lock = threading.Lock()


def warm_lesson(lesson_id: str) -> bool:
    """Compute a lesson's answers in the background (:func:`latent.lessons.warm.warm_answers`: which, and
    in what order), once per model and lesson. It is background work: its model requests go through the
    model's scheduler behind every interactive one (a reveal, a student's page), and before each answer
    it waits while interactive model work is queued or computing. Returns False when this lesson was
    already warming or warm, or warming is off."""
    name = model_name()
    if not warm_enabled():
        return False
    with _warming_lock:
        if (name, lesson_id) in _warming:
            return False
        _warming.add((name, lesson_id))
    lm_loader, enc_loader = _lm_loader(name), _encoder_loader()

    def run():
        lower_priority()                    # background work: the pages and the server's event loop go first
        lm_loader.wait()
        enc_loader.wait()
        if lm_loader.error or enc_loader.error:
            return
        lm, enc = _served(lm_loader.result), enc_loader.result
        serve_encoder(enc)
        sched = scheduler_for(lm)
        route_model_work()                  # this thread's model work joins the schedulers (as background work)

        def after_interactive_work():
            while sched.interactive_work() or encoder_scheduler(enc).interactive_work():
                time.sleep(0.5)
        warm_answers(lm, load_lessons(pages=TITLES, keys=current_key).get(lesson_id), encoder=enc, before_each=after_interactive_work)

    threading.Thread(target=run, daemon=True, name=f"lesson-warm-{lesson_id}").start()
    return True


def warm_state(lesson_id: str):
    """This lesson's last warm-up on the session's model (:class:`latent.lessons.warm.WarmStatus`: "answers
    ready: N of M"), or None before one started or while the model loads (this never waits for it)."""
    loader = _lm_loader(model_name())
    if not loader.done() or loader.error is not None:
        return None
    return warm_status(loader.result, load_lessons(pages=TITLES, keys=current_key).get(lesson_id))


def show_warm_note(lesson_id: str, lang: str = "en") -> None:
    """The Lessons page's line for a lesson's warm-up ("answers ready: 3 of 4"); while it runs, the line
    redraws itself every 2 s (a fragment), and the page redraws once when it is done."""
    status = warm_state(lesson_id)
    if status is None:
        return
    if not status.running:
        st.caption(status.note(lang))
        return

    @st.fragment(run_every=2)
    def live():
        if not status.running:
            st.rerun()
        st.caption(status.note(lang))
    live()


def lm_named(name: str):
    """Another model by name (loads in the background like the session's own; shared by all sessions)."""
    return _served(_wait(_lm_loader(name), name))


def _served(lm):
    """Every session's model work on a shared model goes through its one scheduler."""
    serve(lm)
    return lm
