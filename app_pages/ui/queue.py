"""The glue between a session and the shared models' scheduler: its queue place, its progress, and a
closed tab's cancel. Results are kept by the library (``kept_*`` beside each feature); the steering
directions below are still cached here, per process.

Every page's frame imports this module, so each function imports the model code it needs (torch,
transformers: 5 s on two cores) when it is first called: Home draws its map before they load.
"""
from __future__ import annotations

import os
from concurrent.futures import CancelledError

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from latent.core.store import memo
from latent.serving.backends import InProcess, backend_note, current_backend
from latent.serving.scheduler import route_model_work as route
from latent.serving.scheduler import scheduler_for


def direction(positive: tuple, negative: tuple, layer: int, method: str, lm):
    from latent.core.direction import Direction  # noqa: PLC0415 - see the module docstring

    return memo("direction", (positive, negative, layer, method, lm.key),
                lambda: Direction.from_texts(lm, list(positive), list(negative), layer, method=method))


def scheduled(lm, slot):
    """A runner for :func:`latent.walk.paths.sweep` through the model's one scheduler: rows from every
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


def answer(lm, fact: dict, encoder=None, label: str = "Computing the answer"):
    """A lesson step's answer (:func:`latent.lessons.compute_fact`), computed while the page shows its
    progress: the time spent, the model work running now and, while it decodes, an estimate of the time
    left (:func:`answer_note`). The work runs in a thread with this script run's door (so it goes
    through the scheduler as interactive work, and promotes a warm-up computing the same answer)."""
    import contextvars  # noqa: PLC0415 - only the reveal needs these
    import threading  # noqa: PLC0415 - only the reveal needs these
    import time  # noqa: PLC0415 - only the reveal needs these

    from latent.lessons import compute_fact  # noqa: PLC0415 - see the module docstring

    box = {}

    def run():
        try:
            box["value"] = compute_fact(lm, fact, encoder=encoder)
        except BaseException as e:  # noqa: BLE001 - raised in the script run below
            box["error"] = e
    worker = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True, name="lesson-answer")
    worker.start()
    worker.join(0.3)
    if worker.is_alive():
        sched, started, slot = scheduler_for(lm), time.perf_counter(), st.empty()
        while worker.is_alive():
            done, note = answer_note(label, time.perf_counter() - started, sched.running(),
                                     lang=st.session_state.get("_lang", "en"))      # the lesson's language
            slot.progress(done, text=note)
            worker.join(0.5)
        slot.empty()
    if "error" in box:
        raise box["error"]
    return box["value"]


def answer_note(label: str, spent: float, running: list, now: float | None = None, lang: str = "en") -> tuple[float, str]:
    """(fraction done, one line) for an answer being computed: the seconds spent, the model work now
    running and, when that is a decode, the seconds left at its rate so far.

    >>> from types import SimpleNamespace as NS
    >>> answer_note("Computing", 30.0, [NS(progress=(10, 40), started=0.0, request=NS(rows=96))], now=20.0)
    (0.25, 'Computing… 30 s · decoding 96 rows: token 10 of 40 · about 60 s left')
    >>> answer_note("Computing", 3.0, [])
    (0.0, 'Computing… 3 s')
    >>> answer_note("Berechnet", 30.0, [NS(progress=(10, 40), started=0.0, request=NS(rows=96))], now=20.0, lang="de")[1]
    'Berechnet… 30 s · dekodiert 96 Zeilen: Token 10 von 40 · noch etwa 60 s'
    """
    import time  # noqa: PLC0415 - only the reveal needs it

    from latent.lessons.words import t as word  # noqa: PLC0415 - only the reveal needs it

    now = time.perf_counter() if now is None else now
    line = f"{label.rstrip('…. ')}… {spent:.0f} s"
    decodes = [t for t in running if t.progress[1]]
    if not decodes:
        return 0.0, line + (f" · {word('passes_running', lang)}" if running else "")
    t = max(decodes, key=lambda x: x.progress[1] - x.progress[0])     # the one with the most left
    step, n = t.progress
    line += " · " + word("decoding", lang, rows=sum(x.request.rows for x in decodes), step=step, n=n)
    took = now - (now if t.started is None else t.started)
    if step and took > 0:
        line += " · " + word("time_left", lang, s=f"{(n - step) * took / step:.0f}")
    return step / n, line


def preset(name: str, layer: int, method: str, lm):
    from latent.walk.presets import build  # noqa: PLC0415 - see the module docstring

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
