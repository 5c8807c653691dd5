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
from pathlib import Path

COMMANDS: dict[str, callable] = {}


def command(name: str, help: str):
    def deco(fn):
        COMMANDS[name] = (fn, help)
        return fn
    return deco


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="HF id or local path (default: embedded SmolLM2)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")


def _lm(args):
    from latent.models import load_lm

    return load_lm(args.model, device=args.device, dtype=args.dtype)


def _emit(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _write_outputs(out: str, fig, table, recipe) -> None:
    from latent.export import write

    write(out, fig=fig, table=table, recipe=recipe)
    print(f"wrote {out}", file=sys.stderr)


# ------------------------------------------------------------------ commands
@command("info", "model card of the loaded model")
def cmd_info(args):
    lm = _lm(args)
    card = lm.card()
    if args.json:
        _emit({k: card[k] for k in ("model", "n_layers", "d_model", "device", "dtype", "load_seconds")})
    else:
        for k, v in card.items():
            print(f"{k:>13}: {v}")


def _info_args(p):
    _model_args(p)
    p.add_argument("--json", action="store_true")


@command("dialogues", "write the dialogue map (.png .svg .pdf .html .csv .json)")
def cmd_dialogues(args):
    from latent.dialogue_map import MapSpec
    from latent.export import make_recipe
    from latent.replay import Resources, replay

    source = args.source or ("lm" if args.layer is not None else "encoder")
    spec = MapSpec(source=source, layer=12 if args.layer is None else args.layer, pooling=args.pooling,
                   method=args.method, dims=args.dims, seed=args.seed, color=args.color)
    model = (args.model or "SmolLM2-135M-Instruct") if source == "lm" else "all-MiniLM-L6-v2"
    recipe = make_recipe("dialogue_map", spec.to_dict(), model=model)
    if Path(args.out).suffix.lower() == ".json":
        return _write_outputs(args.out, None, None, recipe)
    res = Resources(args.model)
    if source == "lm":
        res._lm = _lm(args)
    df, fig, note = replay(recipe, res)
    if note:
        print(note, file=sys.stderr)
    _write_outputs(args.out, fig, df, recipe)


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


@command("replay", "rebuild a figure from its JSON recipe and write it")
def cmd_replay(args):
    from latent.replay import replay

    try:
        recipe = json.loads(Path(args.recipe).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"Cannot read recipe {args.recipe}: {e}") from None
    df, fig, note = replay(recipe)  # loads only the model(s) the recipe's kind needs
    _write_outputs(args.out, fig, df, recipe)


def _replay_args(p):
    p.add_argument("recipe")
    p.add_argument("--out", required=True)


ARGS = {"info": _info_args, "dialogues": _dialogues_args, "replay": _replay_args}


def build_parser() -> argparse.ArgumentParser:
    from latent import cli_more  # noqa: F401  (registers the later commands)

    parser = argparse.ArgumentParser(prog="python -m latent", description="Latent Dialogue Explorer CLI")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_)
        ARGS[name](p)
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
    except Exception as e:  # noqa: BLE001 - every failure is one line, never a traceback
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 0
