"""Hidden states per token and per layer: a batched, padding-safe forward pass.

Position 0 of a causal LM is an attention sink (on SmolLM2 its norm reaches ~22,700 from layer
12 on). We **prepend the tokenizer's start token** (``<|im_start|>`` on SmolLM2) to every text and
drop it from every result, so the text's own first token is an ordinary point. Layer ``i`` is the
residual stream after block ``i`` (0 = embedding output, ``n_layers`` = last block, before the
final norm); the forward pass stops after the deepest layer asked for.

Example::

    >>> ts = hidden_states(lm, ["The queen of the hive"])[0]      # doctest: +SKIP
    >>> ts.tokens, ts.states.shape  # doctest: +SKIP
    (['The', ' queen', ' of', ' the', ' hive'], (31, 5, 576))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latent.core.errors import InputError, check_layer
from latent.core.hooks import Plan, current, run_plan
from latent.core.requests import StatesRequest, through_door

MAX_TOKENS_PER_TEXT = 2048   # longer texts are refused, with a message
MAX_TOTAL_TOKENS = 60_000    # per call; bounds memory (31 layers x 60k x 576 fp32 ~ 4 GB at most)
BATCH_TOKENS = 4096          # texts are grouped into chunks of at most this many padded tokens


@dataclass
class TextStates:
    """One text's tokens and hidden states. ``states`` is ``(n_kept_layers, n_tokens, d_model)``."""

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]
    states: np.ndarray  # (layers, tokens, d)
    layers: list[int]

    @property
    def mean(self) -> np.ndarray:
        """Mean over tokens, per layer: ``(layers, d)``."""
        return self.states.mean(axis=1)

    @property
    def last(self) -> np.ndarray:
        """Last token's state, per layer: ``(layers, d)``."""
        return self.states[:, -1, :]

    def pooled(self, how: str = "mean") -> np.ndarray:
        if how not in ("mean", "last"):
            raise InputError(f"Unknown pooling {how!r}. Must be one of: mean, last")
        return self.mean if how == "mean" else self.last

    def at(self, layer: int) -> np.ndarray:
        """States at one hidden-state layer index: ``(tokens, d)``."""
        return self.states[self.layers.index(layer)]


def start_ids(tok) -> list[int]:
    """The start token prepended to every text (``bos``, else ``eos``; none if neither exists)."""
    tid = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    return [] if tid is None else [int(tid)]


def encode(lm, text: str, *, max_tokens: int = MAX_TOKENS_PER_TEXT) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids (start token included) and character offsets (start token excluded)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("Empty text: type at least one word.")
    enc = lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    max_tokens = min(max_tokens, lm.max_positions - len(start_ids(lm.tokenizer)))  # the model's context window
    if len(ids) > max_tokens:
        raise InputError(f"Text of {len(ids):,} tokens is over the {max_tokens:,}-token limit; shorten it.")
    return start_ids(lm.tokenizer) + ids, [tuple(o) for o in enc["offset_mapping"]]


def fit_text(lm, text: str, max_tokens: int = MAX_TOKENS_PER_TEXT) -> str:
    """``text`` cut at a token boundary so that it fits the model's context (and ``max_tokens``)."""
    room = min(max_tokens, lm.max_positions - len(start_ids(lm.tokenizer)))
    enc = lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) <= room:
        return text
    return text[: enc["offset_mapping"][room - 1][1]]


def token_strings(lm, text: str, offsets) -> list[str]:
    return [text[a:b] for a, b in offsets]


def check_layers(lm, layers) -> list[int]:
    """Sorted unique layers (all by default), each within 0..n_layers of ``lm``."""
    return check_layer_list(layers, lm.n_layers)


def check_layer_list(layers, n_layers: int) -> list[int]:
    if layers is None:
        return list(range(n_layers + 1))
    out = sorted({check_layer(x, n_layers) for x in layers})
    if not out:
        raise InputError("No layers chosen.")
    return out


def _chunks(lengths: list[int], budget: int) -> list[list[int]]:
    """Group indices (sorted by length) so that each group's padded size stays within budget."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups, cur = [], []
    for i in order:
        if cur and lengths[i] * (len(cur) + 1) > budget:
            groups.append(cur)
            cur = []
        cur.append(i)
    if cur:
        groups.append(cur)
    return groups


def _pad(lm, id_lists: list[list[int]], left: bool):
    T = max(len(x) for x in id_lists)
    ids = torch.full((len(id_lists), T), lm.tokenizer.pad_token_id or 0, dtype=torch.long)
    mask = torch.zeros((len(id_lists), T), dtype=torch.long)
    for r, x in enumerate(id_lists):
        cols = slice(T - len(x), T) if left else slice(0, len(x))
        ids[r, cols] = torch.tensor(x)
        mask[r, cols] = 1
    dev = lm.model.device
    return ids.to(dev), mask.to(dev)


def pad_batch(lm, id_lists: list[list[int]]):
    """Right-padded ``(B, T)`` ids and attention mask on the model's device."""
    return _pad(lm, id_lists, left=False)


def left_pad(lm, id_lists: list[list[int]]):
    """Left-padded ``(B, T)`` ids, mask and position ids on the model's device: every row's last token
    sits at column T-1 (what batched decoding and end-aligned scoring need)."""
    ids, mask = _pad(lm, id_lists, left=True)
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def forward_batch(lm, id_lists: list[list[int]], layers: list[int]) -> dict:
    """Right-padded forward pass that records the chosen layers and stops after the last one.

    Returns ``{layer: tensor (B, T, d)}``. Steering edits active in this context apply. Where the
    app has set a door (:func:`core.requests.set_door`) and no plan is active, the pass goes through it
    (the app's scheduler packs passes from many sessions into one batch); otherwise it runs here.
    """

    if current() is not None:           # a plan (steering, recording) is this thread's own: compute here
        return direct_forward(lm, id_lists, layers)
    return through_door(lm, StatesRequest.make(id_lists, layers), forward_requests)


def forward_requests(lm, requests) -> list[dict]:
    """One right-padded forward pass for several hidden-state requests (the union of their layers,
    stopping after the deepest); each gets its own rows, width and layers back."""
    ids = [list(x) for r in requests for x in r.ids]
    hs = direct_forward(lm, ids, sorted({k for r in requests for k in r.layers}))
    out, o = [], 0
    for r in requests:
        out.append({k: hs[k][o:o + r.rows, :r.width].clone() for k in r.layers})
        o += r.rows
    return out


def direct_forward(lm, id_lists: list[list[int]], layers: list[int]) -> dict:
    """:func:`forward_batch` on this thread, always."""

    ids, mask = pad_batch(lm, id_lists)
    plan = Plan(record=set(layers), stop_after=max(layers))
    with torch.inference_mode():
        run_plan(lambda: lm.model.base_model(input_ids=ids, attention_mask=mask, use_cache=False), plan)
    return plan.records


def hidden_states(lm, texts: list[str], *, layers=None, max_total_tokens: int = MAX_TOTAL_TOKENS,
                  progress=None) -> list[TextStates]:
    """Hidden states of every text at the chosen layers (all by default).

    Texts are grouped by length into chunks of at most ``BATCH_TOKENS`` padded tokens; only the
    chosen layers are kept. ``progress(done, total)`` is called after each chunk.
    """
    if isinstance(texts, str):
        texts = [texts]
    if not texts:
        raise InputError("No texts given.")
    keep = check_layers(lm, layers)
    encoded = [encode(lm, t) for t in texts]
    total = sum(len(ids) for ids, _ in encoded)
    if total > max_total_tokens:
        raise InputError(f"{total:,} tokens in all is over the {max_total_tokens:,}-token limit; use fewer texts.")
    results: list[TextStates | None] = [None] * len(texts)
    groups = _chunks([len(ids) for ids, _ in encoded], BATCH_TOKENS)
    s = len(start_ids(lm.tokenizer))
    for g, group in enumerate(groups):
        hs = forward_batch(lm, [encoded[i][0] for i in group], keep)
        stacked = np.stack([hs[k].float().cpu().numpy() for k in keep])  # (layers, B, T, d)
        for r, i in enumerate(group):
            ids, offs = encoded[i]
            results[i] = TextStates(texts[i], token_strings(lm, texts[i], offs), offs,
                                    np.ascontiguousarray(stacked[:, r, s: len(ids)]), keep)
        if progress:
            progress(g + 1, len(groups))
    return results  # type: ignore[return-value]


def pooled_states(lm, texts: list[str], *, layer: int, how: str = "mean", progress=None) -> np.ndarray:
    """One vector per text at one layer: ``(n_texts, d)``."""
    res = hidden_states(lm, texts, layers=[layer], progress=progress)
    return np.stack([r.pooled(how)[0] for r in res])
