"""CLI commands of the explorer pages (registered into :mod:`latent.cli`)."""
from __future__ import annotations

import sys

from latent.cli import ARGS, _emit, _lm, _model_args, _write_outputs, command


@command("project", "token map of texts through layers (--json points or --out FILE)")
def cmd_project(args):
    from latent.export import make_recipe
    from latent.replay import Resources, replay
    from latent.tokenmap import parse_layers

    lm = _lm(args)
    layers = parse_layers(args.layers, lm.n_layers)
    recipe = make_recipe("token_map", {"prompts": args.text, "layers": layers, "method": args.method,
                                       "dims": 2, "seed": args.seed}, model=lm.name)
    res = Resources(args.model)
    res._lm = lm
    table, fig, note = replay(recipe, res)
    if note:
        print(note, file=sys.stderr)
    if args.json:
        pts = [{"text_index": int(r.text_index), "token_index": int(r.token_index), "token": r.token,
                "layer": int(r.layer), "x": float(r.x), "y": float(r.y)} for r in table.itertuples()]
        _emit({"points": pts, "recipe": recipe})
    else:
        _write_outputs(args.out, fig, table, recipe)


def _project_args(p):
    _model_args(p)
    p.add_argument("--text", action="append", required=True, help="repeat for several texts")
    p.add_argument("--layers", default="0-30")
    p.add_argument("--method", choices=["umap", "pca"], default="umap")
    p.add_argument("--seed", type=int, default=0)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--out")
    g.add_argument("--json", action="store_true")


@command("lens", "logit-lens table: per layer and position, the top tokens")
def cmd_lens(args):
    from latent.hidden import hidden_states
    from latent.lens import lens_table

    lm = _lm(args)
    ts = hidden_states(lm, [args.text])[0]
    t = lens_table(lm, ts, k=args.k)
    if args.json:
        out = []
        for (layer, pos), g in t.groupby(["layer", "position"], sort=True):
            out.append({"layer": int(layer), "position": int(pos), "token": g["token"].iloc[0],
                        "top": [{"token": r.prediction, "prob": float(r.prob)} for r in g.itertuples()]})
        _emit({"model": lm.name, "text": args.text, "tokens": ts.tokens, "lens": out})
    else:
        for (layer, pos), g in t.groupby(["layer", "position"], sort=True):
            print(layer, pos, repr(g["token"].iloc[0]), [(r.prediction, round(r.prob, 3)) for r in g.itertuples()])


def _lens_args(p):
    _model_args(p)
    p.add_argument("--text", required=True)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--json", action="store_true")


ARGS.update(project=_project_args, lens=_lens_args)


@command("senses", "sense separability per layer and a context dose-response for a word")
def cmd_senses(args):
    from pathlib import Path

    from latent.disambiguation import analyze
    from latent.senses import SenseError, SenseSet, get_builtin

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
    rep = analyze(lm, sset, args.context, readout=args.readout, layer=args.layer)
    _emit({"word": rep.word, "best_layer": rep.best_layer, "senses": rep.senses,
           "separability": {str(L): round(float(a), 4) for L, a in zip(rep.layers, rep.accuracy)},
           "steps": [{"context": s.context, "predicted_sense": s.predicted_sense,
                      "probabilities": {str(L): {n: round(float(s.probs[li, k]), 4) for k, n in enumerate(rep.senses)}
                                        for li, L in enumerate(rep.layers)},
                      "next_tokens": [{"token": t, "prob": round(p, 5)} for t, p in s.next_tokens]}
                     for s in rep.steps],
           "pull": rep.pull(), "readout": rep.readout, "layer": rep.layer})


def _senses_args(p):
    _model_args(p)
    p.add_argument("--word", required=True)
    p.add_argument("--senses", help="JSON file {word, senses: {name: [sentences]}}")
    p.add_argument("--context", action="append", required=True, help="repeat for each step")
    p.add_argument("--layer", type=int)
    p.add_argument("--readout", choices=["word", "echo"], default="echo")
    p.add_argument("--json", action="store_true", help="(output is always JSON)")


ARGS.update(senses=_senses_args)


@command("steer", "generate along a direction at several strengths (one batched call) with meters")
def cmd_steer(args):
    from latent.direction import Direction, DirectionError
    from latent.models import load_encoder
    from latent.steer import parse_strengths
    from latent.walk import sweep

    strengths = parse_strengths(args.strengths)
    lm = _lm(args)
    if args.direction:
        d = Direction.load(args.direction, d_model=lm.d_model, n_layers=lm.n_layers)
        if args.layer is not None and args.layer != d.layer:
            raise DirectionError(f"The direction file is for layer {d.layer}, not {args.layer}.")
    elif args.toward and args.away:
        pos = [t for t in args.toward.split("|") if t.strip()]
        neg = [t for t in args.away.split("|") if t.strip()]
        d = Direction.from_texts(lm, pos, neg, 9 if args.layer is None else args.layer, pooling="mean")
    else:
        raise DirectionError("Give --toward and --away, or --direction FILE.npz.")
    sw = sweep(lm, load_encoder(), args.prompt, d, strengths, max_new_tokens=args.tokens, seed=args.seed,
               do_sample=args.sample, positions=args.positions)
    _emit({"layer": sw.layer, "baseline": sw.baseline, "tokens_per_second": round(sw.tokens_per_second, 1),
           "results": [{"strength": s, "text": t, "concept": round(float(c), 4), "fluency": round(float(f), 4),
                        "kl": round(float(k), 4)}
                       for s, t, c, f, k in zip(sw.strengths, sw.texts, sw.concept, sw.fluency, sw.kl)]})


def _steer_args(p):
    _model_args(p)
    p.add_argument("--prompt", required=True)
    p.add_argument("--toward", help="text(s), separated by |")
    p.add_argument("--away", help="text(s), separated by |")
    p.add_argument("--direction", help="a saved Direction (.npz + .json)")
    p.add_argument("--layer", type=int)
    p.add_argument("--strengths", default="-0.4,-0.2,0,0.2,0.4")
    p.add_argument("--tokens", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample", action="store_true")
    p.add_argument("--positions", choices=["all", "first"], default="all")
    p.add_argument("--json", action="store_true", help="(output is always JSON)")


ARGS.update(steer=_steer_args)


@command("experiment", "run one seed-claim experiment and print its verdict")
def cmd_experiment(args):
    from latent.experiments import module, run

    module(args.name)  # unknown names fail before the model loads
    lm = _lm(args)
    params = {}
    if args.layer is not None:
        params["layer"] = args.layer
    r = run(args.name, lm, **params)
    if args.json:
        _emit(r.to_json())
    else:
        print(f"{r.name}: {r.verdict}\n{r.method}")
        for k, v in r.numbers.items():
            print(f"  {k}: {v}")


def _experiment_args(p):
    _model_args(p)
    p.add_argument("name", help="sparse-messages | economy | reuse | sparse-matrix | reasoning")
    p.add_argument("--layer", type=int)
    p.add_argument("--json", action="store_true")


ARGS.update(experiment=_experiment_args)
