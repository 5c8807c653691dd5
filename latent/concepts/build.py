"""One dictionary, built: collect the states, train, save (SAELens layout), and score it on held-out text.

``python -m latent concepts build`` runs :func:`build`; it writes the folder that ships (``cfg.json``,
``sae_weights.safetensors``), the card (``card.json``) and the held-out texts the card used (``heldout.txt``,
so a later ``concepts card --model`` recomputes it on the same text).

Example::

    >>> b = build(lm, texts, "dicts/smollm2-L12", layer=12, d_sae=4608, k=32)       # doctest: +SKIP
    >>> b.card.trained["fve"].value                                                   # doctest: +SKIP
    0.79
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from latent.concepts.card import QualityCard, quality_card
from latent.concepts.collect import clean_texts, collect
from latent.concepts.io import load, save
from latent.concepts.sae import DictionaryError, TrainRun, train
from latent.core.errors import check_layer
from latent.core.massive import massive_rule
from latent.core.stats import rng

CARD = "card.json"
HELDOUT = "heldout.txt"
LAYERS = {"SmolLM2-135M-Instruct": 12, "gemma-3-270m": 9}     # the middle layers (to check on held-out text)


def default_layer(lm) -> int:
    """The dictionary's layer for a model: a middle layer (SmolLM2 12 of 30, Gemma 3 9 of 18), else 0.4 of the depth."""
    return LAYERS.get(lm.name, lm.depth(0.4))


def split_texts(texts, heldout: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Texts for training and held-out texts for the card: a seeded shuffle, ``heldout`` of them (at least one) held out."""
    texts = clean_texts(texts)
    if len(texts) < 2:
        raise DictionaryError("Give at least two texts: one to train on and one held out for the card.")
    order = rng(seed, "concepts.split").permutation(len(texts))
    n_held = min(len(texts) - 1, max(1, int(round(heldout * len(texts)))))
    return [texts[i] for i in order[n_held:]], [texts[i] for i in order[:n_held]]


@dataclass
class Build:
    """What :func:`build` made: where, the training run, the card and how long each part took."""

    folder: str
    model: str
    layer: int
    train_texts: int
    run: TrainRun
    card: QualityCard
    seconds: dict

    def to_json(self) -> dict:
        return {"folder": self.folder, "model": self.model, "layer": self.layer, "train_texts": self.train_texts,
                "train": self.run.to_json(), "card": self.card.to_json(), "seconds": self.seconds}


def build(lm, texts, out, *, layer: int | None = None, d_sae: int | None = None, k: int = 32, steps: int = 2000,
          batch: int = 1024, lr: float | None = None, lr_decay: float = 0.0, seed: int = 0, heldout: float = 0.1, heldout_texts=None,
          max_tokens: int = 512, device: str = "cpu", corpus: dict | None = None, splice_tokens: int | None = None,
          progress=None) -> Build:
    """Collect every token's state at ``layer`` over the training texts, train a TopK dictionary (``d_sae``
    features, default 8 × d_model), save it to ``out`` and write its card on the held-out texts
    (``heldout_texts``, else a seeded ``heldout`` share of ``texts``). ``corpus`` (the record of where the texts
    came from, :func:`latent.concepts.pinned.mix`) is kept in ``cfg.json`` and ``card.json``; ``splice_tokens`` limits the
    card's splice figures to a seeded share of the held-out texts (:func:`latent.concepts.card.splice_share`).
    ``progress(stage, done, total)``."""
    layer = check_layer(default_layer(lm) if layer is None else layer, lm.n_layers)
    d_sae = int(d_sae or 8 * lm.d_model)
    if heldout_texts:
        train_texts, held = clean_texts(texts), clean_texts(heldout_texts)
    else:
        train_texts, held = split_texts(texts, heldout, seed)
    rule = massive_rule(lm)
    say = (lambda stage: (lambda a, b: progress(stage, a, b))) if progress else (lambda stage: None)
    t = {"start": time.perf_counter()}
    st = collect(lm, train_texts, layer, rule=rule, max_tokens=max_tokens, progress=say("collect"))
    t["collect"] = time.perf_counter()
    run = train(st.X, d_sae, k, steps=steps, batch=batch, lr=lr, lr_decay=lr_decay, seed=seed, layer=layer, rule=rule, model_name=lm.name,
                device=device, progress=say("train"))
    t["train"] = time.perf_counter()
    folder = Path(out)
    save(run.sae, folder, context_size=max_tokens,
         extra={"train": {kk: v for kk, v in run.to_json().items() if kk != "loss"},
                "massive": st.massive_summary(), "train_texts": len(train_texts), "heldout_texts": len(held),
                **({"corpus": corpus} if corpus else {})})
    (folder / HELDOUT).write_text("\n".join(t_.replace("\n", " ") for t_ in held) + "\n", encoding="utf-8")
    shipped = load(folder, d_model=lm.d_model, n_layers=lm.n_layers)      # the card scores the fp16 weights that ship
    card = quality_card(lm, shipped, held, seed=seed, splice_tokens=splice_tokens, progress=say("card"))
    written = {**card.to_json(), **({"corpus": corpus} if corpus else {})}
    (folder / CARD).write_text(json.dumps(written, indent=1, ensure_ascii=False), encoding="utf-8")
    t["card"] = time.perf_counter()
    secs = {"collect": t["collect"] - t["start"], "train": t["train"] - t["collect"], "card": t["card"] - t["train"]}
    return Build(str(folder), lm.name, layer, len(train_texts), run, card, {k_: round(v, 2) for k_, v in secs.items()})


def read_texts(path) -> list[str]:
    """Texts from a file, one per line (blank lines skipped)."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DictionaryError(f"Cannot read texts from {path}: {str(e).splitlines()[0][:120]}.") from None
    texts = clean_texts(raw.splitlines())
    if not texts:
        raise DictionaryError(f"{path} holds no text: write one text per line.")
    return texts


def saved_card(folder) -> dict:
    """The card a build wrote into ``folder`` (``card.json``)."""
    p = Path(folder) / CARD
    if not p.exists():
        raise DictionaryError(f"{folder} has no {CARD}: give --model (and --texts) to compute its card.")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DictionaryError(f"Cannot read {p}: {str(e).splitlines()[0][:120]}.") from None
