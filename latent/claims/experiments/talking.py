"""LLMs talking in vectors: do two different models share a space, and can a sparse vector from
one be read by the other?

Claim (000, seed dialogue): sparse vectors point into "a forest of concepts that every LLM shares";
LLMs could talk to each other in vectors instead of text.

Method. (a) *Shared universe*: the same texts (seed-dialogue turns and the "queen" sentences) go
through the sender (the loaded model) and the receiver (the other embedded model). At matched
relative depths we compare their mean-pooled states with linear CKA (Kornblith et al. 2019),
against shuffled pairings and against a randomly initialised copy of the sender (seeded).
(b) *A message across models*: a ridge map from sender to receiver states is fitted on word-end
tokens of a training split of the turns. The sender's state at a word (at 1/6 depth) keeps
only its top-k coordinates (as a deviation from the mean), goes through the map, and replaces a
placeholder token in the receiver's prompt "cat -> cat / 1135 -> 1135 / hello -> hello / ? ->"
(a Patchscope). On held-out turns we ask whether the receiver then predicts the same next token as
when its *own* state for that word is patched in, against a map fitted on shuffled pairs (the null).
On the "queen" sentences (never used to fit the map) we ask whether the nearest receiver sense
centroid recovers the sentence's sense (the state at its last word, 50 % depth, its own map). Bytes per message: k × 4 (2-byte
index + fp16 value).

Example::

    >>> X = np.random.default_rng(0).normal(size=(50, 8))
    >>> round(linear_cka(X, X @ np.diag(np.arange(1.0, 9.0))), 3) < 1.0, round(linear_cka(X, 2 * X), 6)
    (True, 1.0)
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from latent.chart_words import tr
from latent.claims.evidence import Evidence, Finding, floor_check, paired_finding, unpaired_finding
from latent.claims.framework import Claim, Experiment, ExperimentError, ExperimentResult, Param, other_model
from latent.core import hooks
from latent.core.corpus import all_turns, load_corpus
from latent.core.hidden import hidden_states, left_pad, start_ids
from latent.core.hooks import Plan, use
from latent.core.models import LM
from latent.core.stats import band, clopper_pearson, keep_topk, rng
from latent.senses.sets import get_builtin
from latent.style import claim_style

CLAIM = Claim("000_f1b4ac8593ff3a2f.txt", "000", 5,
              "How can a handful of non-zero values in a 4000-dimensional space contain complex thoughts? … "
              "they point into a forest of concepts that every LLM shares.")
DEPTHS = (0.0, 1 / 6, 1 / 3, 0.5, 2 / 3, 5 / 6, 1.0)
MSG_DEPTH = 1 / 6           # the placeholder readout decodes words at early layers (the receiver's own state
SENSE_DEPTH = 0.5           # at 1/6 depth names the word itself most of the time); senses read at mid depth
KS = (8, 32, 128)           # + all coordinates
K_HEAD = 32
N_TEST = 120
PATCH_PROMPT = "cat -> cat\n1135 -> 1135\nhello -> hello\n"
PATCH_TAIL = ("?", " ->")
BYTES_PER_VALUE = 4


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA of two row-paired matrices ``(n, d1)`` and ``(n, d2)`` (invariant to rotation and scale)."""
    X = X - X.mean(0)
    Y = Y - Y.mean(0)
    K, L = X @ X.T, Y @ Y.T
    return float((K * L).sum() / (np.linalg.norm(K) * np.linalg.norm(L) + 1e-30))


def _cka_gram(K: np.ndarray, L: np.ndarray) -> float:
    return float((K * L).sum() / (np.linalg.norm(K) * np.linalg.norm(L) + 1e-30))


def _centred_gram(X: np.ndarray) -> np.ndarray:
    X = X - X.mean(0)
    return X @ X.T


def texts(max_chars: int = 200) -> tuple[list[str], list[str], list[str]]:
    """Seed-dialogue turns (for the map and CKA) and the queen sentences with their sense labels."""

    turns = [t.text[:max_chars].rsplit(" ", 1)[0] for _, t in all_turns(load_corpus()) if len(t.text) > 60]
    ss = get_builtin("queen")
    sents, labels = [], []
    for sense, xs in ss.senses.items():
        sents += xs
        labels += [sense] * len(xs)
    return turns, sents, labels


def word_ends(r, layer: int) -> dict[int, np.ndarray]:
    """{end character offset of a word: the state of the token that ends it} for one text's states."""
    h = r.at(layer)
    d = {}
    for i, (a, b) in enumerate(r.offsets):
        if b > a and r.text[b - 1].isalnum() and (b == len(r.text) or not r.text[b].isalnum()):
            d[b] = h[i]
    return d


def fit_map(X: np.ndarray, Y: np.ndarray, ridge: float = 1e-2):
    """Ridge map Y ≈ mean_y + (X − mean_x) W, with λ = ``ridge`` × mean eigenvalue of XᵀX."""
    mx, my = X.mean(0), Y.mean(0)
    Xc = X - mx
    G = Xc.T @ Xc
    lam = ridge * np.trace(G) / G.shape[0]
    W = np.linalg.solve(G + lam * np.eye(G.shape[0]), Xc.T @ (Y - my))
    return mx, my, W


def topk_dev(x: np.ndarray, mx: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest-magnitude coordinates of the deviation x − mx (the message), zero the rest."""
    d = x - mx
    return d if k >= d.shape[-1] else keep_topk(d, k)


def patched_next(lm, layer: int, vectors: np.ndarray, chunk: int = 256) -> np.ndarray:
    """The receiver's top-1 next token after ``PATCH_PROMPT + "? ->"`` with the "?" state at ``layer``
    replaced by each vector ``(V, d)``; the prefix runs once and its cache is shared."""

    tok = lm.tokenizer
    pre_ids = start_ids(tok) + tok(PATCH_PROMPT, add_special_tokens=False).input_ids
    tail = [t for piece in PATCH_TAIL for t in tok(piece, add_special_tokens=False).input_ids]
    n_q = len(tok(PATCH_TAIL[0], add_special_tokens=False).input_ids)
    out = []
    with torch.inference_mode():
        pre = lm.model.base_model(input_ids=torch.tensor([pre_ids]), use_cache=True).past_key_values   # no LM head
        for s in range(0, len(vectors), chunk):
            v = torch.as_tensor(vectors[s:s + chunk], dtype=torch.float32)
            B = len(v)

            def put(h, v=v):
                h = h.clone()
                h[:, n_q - 1] = v.to(h.dtype)
                return h
            cache = copy.deepcopy(pre)
            cache.batch_repeat_interleave(B)
            pos = torch.arange(len(pre_ids), len(pre_ids) + len(tail))[None].repeat(B, 1)
            with use(Plan(edits={layer: [put]})):
                lg = lm.model(input_ids=torch.tensor([tail] * B), past_key_values=cache, position_ids=pos,
                              logits_to_keep=1).logits[:, -1]      # the LM head on the last column only
            out.append(lg.argmax(-1).numpy())
    return np.concatenate(out)


def random_init_copy(lm, seed: int):
    """The sender's architecture with random weights (seeded): the 'no training' control."""
    from transformers import AutoModelForCausalLM  # noqa: PLC0415 - heavy (transformers): imported when first needed

    torch.manual_seed(seed)
    m = AutoModelForCausalLM.from_config(lm.model.config).float().eval()
    hooks.install_hooks(m)
    return LM(m, lm.tokenizer, f"{lm.name} (random init)", "cpu", "float32", 0.0, "random weights")


def _cka_with_ci(X, Y) -> tuple[float, float, float]:
    """CKA and a jackknife 95 % interval (leave one text out; resampling with duplicates inflates CKA,
    so the bootstrap is not used here)."""
    c = linear_cka(X, Y)
    Kx, Ky = _centred_gram(X), _centred_gram(Y)
    n = len(X)
    loo = []
    for i in range(n):
        keep = np.arange(n) != i
        loo.append(_cka_gram(_recentre(Kx[np.ix_(keep, keep)]), _recentre(Ky[np.ix_(keep, keep)])))
    loo = np.array(loo)
    se = float(np.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum()))
    return c, c - 1.96 * se, c + 1.96 * se


def _recentre(K: np.ndarray) -> np.ndarray:
    """Double-centre a Gram matrix (after rows were dropped, the kept points' mean moved)."""
    return K - K.mean(0) - K.mean(1)[:, None] + K.mean()


def _nearest_sense(Yr, labels, Q) -> np.ndarray:
    """1 where the nearest receiver sense centroid (leave-one-out: item i never in a centroid) is item i's sense."""
    senses = sorted(set(labels))
    mu = Yr.mean(0)
    R = Yr - mu
    R /= np.linalg.norm(R, axis=1, keepdims=True) + 1e-12
    q = Q - mu
    q /= np.linalg.norm(q, axis=1, keepdims=True) + 1e-12
    hits = []
    for i in range(len(Q)):
        keep = np.arange(len(Q)) != i
        cs = np.stack([R[keep & (labels == s)].mean(0) for s in senses])
        hits.append(senses[int(np.argmax(cs @ q[i]))] == labels[i])
    return np.array(hits, dtype=float)


def run(lm, *, n_texts: int = 30, seed: int = 0, progress=None, other=None) -> ExperimentResult:
    if not 20 <= int(n_texts) <= 200:
        raise ExperimentError("n_texts must be 20-200.")
    recv = (other or (lambda: other_model(lm)))()
    turns, sents, labels = texts()
    turns = turns[: int(n_texts)]
    both = turns + sents
    n, T = len(both), len(turns)
    steps = 5

    def tick(i):
        if progress:
            progress(i, steps)
    ls = {f: lm.depth(f) for f in DEPTHS}
    lr = {f: recv.depth(f) for f in DEPTHS}
    hs_s = hidden_states(lm, both, layers=sorted(set(ls.values())))
    tick(1)
    hs_r = hidden_states(recv, both, layers=sorted(set(lr.values())))
    tick(2)
    rnd = random_init_copy(lm, seed)
    hs_0 = hidden_states(rnd, both, layers=sorted(set(ls.values())))
    del rnd
    tick(3)
    cka_rows, cka_find = _cka(lm, hs_s, hs_r, hs_0, ls, lr, seed)
    order = rng(seed, "split").permutation(T)
    train = set(order[: int(0.75 * T)].tolist())

    def pairs(f, which, g=None):
        """(sender state at depth f (or g), receiver state at depth f, word) at every word end of the
        training or test turns."""
        out = []
        for i in range(T):
            if (i in train) != (which == "train"):
                continue
            a, b = word_ends(hs_s[i], ls[f if g is None else g]), word_ends(hs_r[i], lr[f])
            out += [(a[c], b[c], both[i][:c].split()[-1]) for c in sorted(set(a) & set(b))]
        return out
    msg = _messages(lm, recv, pairs(MSG_DEPTH, "train"), pairs(MSG_DEPTH, "test"),
                    pairs(MSG_DEPTH, "train", 0.0), pairs(MSG_DEPTH, "test", 0.0), lr[MSG_DEPTH], seed)
    tick(4)
    sense_rows, sense_find, n_sents = _senses(lm, pairs(SENSE_DEPTH, "train"), hs_s[T:], hs_r[T:], labels,
                                              ls[SENSE_DEPTH], lr[SENSE_DEPTH], seed)
    tick(5)
    ev = _evidence(lm, recv, n, msg, n_sents, sense_find, cka_find)
    def r4(row):
        return {k: (round(float(v), 4) if isinstance(v, (float, np.floating)) else
                    [round(float(x), 4) for x in v] if isinstance(v, list) else v) for k, v in row.items()}
    numbers = {"sender": lm.name, "receiver": recv.name, "texts": n, "train_pairs": msg["train_pairs"],
               "test_positions": msg["test_positions"], "message_layers": [ls[MSG_DEPTH], lr[MSG_DEPTH]],
               "sense_layers": [ls[SENSE_DEPTH], lr[SENSE_DEPTH]],
               "receiver_own_state_says_the_word": round(float(msg["own_says_word"]), 4),
               "cka": [r4(r) for r in cka_rows], "message_agreement": [r4(r) for r in msg["rows"]],
               "sense_recovery": [r4(r) for r in sense_rows], "chance_sense": round(1 / len(set(labels)), 4),
               "mean_text_bytes": round(float(np.mean([len(t.encode()) for t in turns])), 1),
               "vector_message": r4(msg["vector"]), "seen_share": round(msg["seen_share"], 4),
               "vs_text": r4(msg["vs_text"]),
               "seen_minus_unseen": r4(msg["seen_minus_unseen"]) if msg["seen_minus_unseen"] else None}
    contract = {"baselines": {k: r4(v) for k, v in msg["baselines"].items()},
                "seen_words": r4(msg["seen_words"]) if msg["seen_words"] else None,
                "unseen_words": r4(msg["unseen_words"]) if msg["unseen_words"] else None}
    numbers.update(contract)
    ev.headline = what_crosses(numbers)
    method = ("(a) linear CKA of mean-pooled states at matched relative depths, against a random-init sender and shuffled "
              "pairings; (b) ridge maps fitted on word-end states of training turns; the top-k deviation coordinates of a "
              "held-out sender state go through the map into the receiver's placeholder (Patchscope) or its sense "
              "centroids, against the strongest baseline at no more bytes (the word as text, a layer-0 map, the mean "
              "state, a shuffled-pairs map), paired over the same positions.")
    return ExperimentResult("talking", CLAIM, ev, numbers, method, pd.DataFrame(msg["rows"]), {"n_texts": int(n_texts)},
                            contract=contract)


def _cka(lm, hs_s, hs_r, hs_0, ls, lr, seed):
    """(a) CKA at matched depths, mean-pooled over each text: rows for the figure and one finding per depth."""
    n = len(hs_s)
    g = rng(seed, "cka")
    perms = [g.permutation(n) for _ in range(200)]
    cka_rows, cka_find = [], []
    for f in DEPTHS:
        X = np.stack([r.at(ls[f]).mean(0) for r in hs_s])
        Y = np.stack([r.at(lr[f]).mean(0) for r in hs_r])
        Z = np.stack([r.at(ls[f]).mean(0) for r in hs_0])
        c, lo, hi = _cka_with_ci(X, Y)
        c0, lo0, hi0 = _cka_with_ci(Z, Y)
        Kx, Ky = _centred_gram(X), _centred_gram(Y)
        sh = band([_cka_gram(Kx, Ky[np.ix_(p, p)]) for p in perms])
        cka_rows.append({"depth": round(f, 3), "sender_layer": ls[f], "receiver_layer": lr[f], "cka": c, "ci_lo": lo,
                         "ci_hi": hi, "random_init_cka": c0, "random_ci_lo": lo0, "random_ci_hi": hi0,
                         "shuffled_lo": sh[0], "shuffled_hi": sh[1]})
        cka_find.append(Finding(f"linear CKA at {f:.0%} depth (layers {ls[f]} and {lr[f]}), mean-pooled states of {n} texts",
                                c, (lo, hi), n, f"a randomly initialised {lm.name} (jackknife 95 %) and shuffled pairings",
                                (min(lo0, sh[0]), max(hi0, sh[1])), null_effect=c0))
    return cka_rows, cka_find


def _clean(word: str) -> str:
    return word.strip(".,;:!?\"'()*[]").lower()


def _rate(a: np.ndarray, bytes_: float | None = None) -> dict:
    lo, hi = clopper_pearson(int(a.sum()), len(a))
    out = {"effect": float(a.mean()), "ci": [lo, hi], "n": int(len(a))}
    return out if bytes_ is None else {**out, "bytes": round(float(bytes_), 1)}


def _messages(lm, recv, tr, te, tr0, te0, receiver_layer, seed) -> dict:
    """(b) A message across models: a ridge map fitted on the training turns' word-end states; held-out
    positions' top-k messages patched into the receiver, each compared with what the receiver says from
    its own state there. Beside it, in the same run: a map fitted on shuffled pairs, the word itself sent
    as text, a map from the sender's context-free layer-0 embedding, and the receiver's mean state."""
    Xtr, Ytr = np.stack([p[0] for p in tr]), np.stack([p[1] for p in tr])
    mx, my, W = fit_map(Xtr, Ytr)
    _, my0, W0 = fit_map(Xtr, Ytr[rng(seed, "shuffled-map").permutation(len(Ytr))])
    ex, ey, E0 = fit_map(np.stack([p[0] for p in tr0]), Ytr)            # layer 0: which token it is, no context
    pick = rng(seed, "test-sample").permutation(len(te))[:N_TEST]
    Xte, Yte = np.stack([te[i][0] for i in pick]), np.stack([te[i][1] for i in pick])
    X0te = np.stack([te0[i][0] for i in pick])
    words = [te[i][2] for i in pick]
    d = lm.d_model
    ks = list(KS) + [d]
    vecs = [Yte]
    for k in ks:
        m = topk_dev(Xte, mx, k)
        vecs += [my + m @ W, my0 + m @ W0]
    vecs += [ey + topk_dev(X0te, ex, k) @ E0 for k in (K_HEAD, d)] + [np.repeat(my[None], len(Xte), 0)]
    top = patched_next(recv, receiver_layer, np.concatenate(vecs)).reshape(len(vecs), len(Xte))
    ref = top[0]
    as_text = text_next(recv, words)
    own_says_word = np.mean([_same_word(recv, t, w) for t, w in zip(ref, words)])
    rows, msg = [], {}
    for j, k in enumerate(ks):
        for name, a in (("fitted map", top[1 + 2 * j] == ref), ("shuffled-pairs map (null)", top[2 + 2 * j] == ref)):
            a = a.astype(float)
            msg[(k, name)] = a
            lo, hi = clopper_pearson(int(a.sum()), len(a))
            rows.append({"k": k, "bytes": k * BYTES_PER_VALUE, "map": name, "agreement": float(a.mean()), "ci_lo": lo,
                         "ci_hi": hi, "n": len(a)})
    b0 = 1 + 2 * len(ks)
    word_bytes = np.array([len(w.encode()) for w in words], float)
    base = {"word_as_text": ((as_text == ref).astype(float), float(word_bytes.mean())),
            "layer0_map": ((top[b0] == ref).astype(float), K_HEAD * BYTES_PER_VALUE),
            "layer0_map_full": ((top[b0 + 1] == ref).astype(float), d * BYTES_PER_VALUE),
            "mean_state": ((top[b0 + 2] == ref).astype(float), 0.0),
            "shuffled_map": (msg[(K_HEAD, "shuffled-pairs map (null)")], K_HEAD * BYTES_PER_VALUE)}
    vector = msg[(K_HEAD, "fitted map")]
    fair = {n: v for n, v in base.items() if v[1] <= K_HEAD * BYTES_PER_VALUE}     # equal or fewer bytes
    strongest = max(fair, key=lambda n: fair[n][0].mean())
    head = paired_finding(f"receiver's next token with the {K_HEAD}-coordinate vector message ({K_HEAD * BYTES_PER_VALUE} "
                          f"bytes) equals its next token from its own state, minus the same with the strongest "
                          f"baseline at no more bytes ({strongest.replace('_', ' ')}, {fair[strongest][1]:.0f} bytes)",
                          vector - fair[strongest][0], seed, control=strongest.replace("_", " "))
    vs_null = paired_finding(f"floor: the same {K_HEAD}-coordinate message, fitted map minus a map fitted on shuffled "
                             "pairs (clearing it says the map is not noise, not that the claim holds)",
                             vector - msg[(K_HEAD, "shuffled-pairs map (null)")], seed,
                             control="a map fitted on shuffled pairs")
    full = paired_finding(f"floor: the full state ({d} coordinates, {d * BYTES_PER_VALUE} bytes), fitted map minus "
                          "shuffled-pairs map", msg[(d, "fitted map")] - msg[(d, "shuffled-pairs map (null)")], seed,
                          control="a map fitted on shuffled pairs")
    seen = np.array([_clean(w) in {_clean(p[2]) for p in tr} for w in words])
    vs_text = paired_finding("the vector message minus the word sent as text", vector - base["word_as_text"][0], seed,
                             control="the word as text")
    more = [floor_check(vs_null), floor_check(full)]
    split = None
    if seen.any() and (~seen).any():
        split = unpaired_finding(f"how much worse the {K_HEAD}-coordinate message does on words never seen while fitting "
                                 "the map (receiver agrees with its own state: seen words minus unseen words)",
                                 vector[seen], vector[~seen], seed, control="the words never seen in the fitting turns")
        more.insert(0, split)
    return {"rows": rows, "head": head, "more": more, "own_says_word": own_says_word,
            "vs_text": _diff(vs_text), "seen_minus_unseen": _diff(split) if split is not None else None,
            "train_pairs": int(len(Xtr)), "test_positions": int(len(Xte)), "strongest": strongest,
            "baselines": {n: _rate(a, b) for n, (a, b) in base.items()},
            "vector": _rate(vector, K_HEAD * BYTES_PER_VALUE),
            "seen_words": _rate(vector[seen]) if seen.any() else None,
            "unseen_words": _rate(vector[~seen]) if (~seen).any() else None, "seen_share": float(seen.mean())}


def _diff(f: Finding) -> dict:
    return {"effect": f.effect, "ci": list(f.ci), "n": f.n}


def _f(d: dict) -> str:
    """"0.72 [0.60, 0.82], n = 68" from a rate's JSON."""
    return f"{d['effect']:.2f} [{d['ci'][0]:.2f}, {d['ci'][1]:.2f}], n = {d['n']}"


def what_crosses(numbers: dict) -> str:
    """The tab's key sentence, from the result's numbers alone: what crosses from one model to the other,
    read from the split of held-out words into those seen while fitting the map and those never seen, and
    from the word sent as text (the pure token identity, at a few bytes).

    >>> n = {"vector_message": {"effect": 0.46, "ci": [0.37, 0.55], "n": 120},
    ...      "baselines": {"word_as_text": {"effect": 0.87, "ci": [0.79, 0.92], "n": 120, "bytes": 5.0}},
    ...      "seen_words": {"effect": 0.72, "ci": [0.6, 0.82], "n": 68},
    ...      "unseen_words": {"effect": 0.12, "ci": [0.04, 0.23], "n": 52},
    ...      "seen_minus_unseen": {"effect": 0.6, "ci": [0.46, 0.74], "n": 120},
    ...      "vs_text": {"effect": -0.41, "ci": [-0.52, -0.29], "n": 120}}
    >>> what_crosses(n).startswith("What crosses is mostly the identity of words the map was fitted on")
    True
    """
    text, vec = numbers["baselines"]["word_as_text"], numbers["vector_message"]
    seen, unseen, split = numbers.get("seen_words"), numbers.get("unseen_words"), numbers.get("seen_minus_unseen")
    vt = numbers["vs_text"]
    text_part = (f"the word itself sent as text ({text['bytes']:.0f} bytes) agrees {_f(text)}, against "
                 f"{_f(vec)} for the {K_HEAD * BYTES_PER_VALUE}-byte message (difference {vt['effect']:+.2f} "
                 f"[{vt['ci'][0]:+.2f}, {vt['ci'][1]:+.2f}])")
    beats_text = vt["ci"][0] > 0
    if split is None:
        which = "seen" if seen else "unseen"
        return (f"Every held-out word was {which} while fitting the map, so whether it carries new words is not measured; "
                f"{text_part}.")
    words = (f"words never seen while fitting the map agree {_f(unseen)}, words seen there {_f(seen)} (seen minus "
             f"unseen {split['effect']:+.2f} [{split['ci'][0]:+.2f}, {split['ci'][1]:+.2f}])")
    drops = split["ci"][0] > 0          # unseen words clearly worse than seen ones: a lookup of fitted words
    if drops and not beats_text:
        return (f"What crosses is mostly the identity of words the map was fitted on: {words}; and {text_part}. "
                "Nothing here shows more than the token's identity crossing.")
    if drops:
        return (f"The message beats the word as text overall, but mostly on words the map was fitted on: {words}; "
                f"{text_part}. That more than the identity crosses is not shown for new words.")
    if not beats_text:
        return (f"The map carries new words about as well as words it was fitted on ({words}), so it is more than a "
                f"lookup of fitted words; but {text_part}: nothing here shows more than the token's identity crossing.")
    return (f"More than the token's identity crosses: the message beats the word as text ({text_part}) and carries "
            f"new words about as well as fitted ones ({words}).")


def text_next(lm, words: list[str]) -> np.ndarray:
    """The receiver's top-1 next token when the word itself is sent as text: ``PATCH_PROMPT + word + " ->"``.

    The prompt's tokens are the same in every row, so they run once and their cache is shared: each row
    runs only its own tokens (the word and the arrow), in one batch per length (no padding). A row whose
    tokens do not begin with the prompt's own (a tokenizer that merges across the line break) runs whole."""
    tok = lm.tokenizer
    pre = start_ids(tok) + tok(PATCH_PROMPT, add_special_tokens=False).input_ids
    ids = [start_ids(tok) + tok(PATCH_PROMPT + w + PATCH_TAIL[1], add_special_tokens=False).input_ids for w in words]
    P = len(pre)
    by_len: dict[int, list[int]] = {}
    rest = []
    for i, x in enumerate(ids):
        if x[:P] == pre and len(x) > P:
            by_len.setdefault(len(x) - P, []).append(i)
        else:
            rest.append(i)
    out = np.zeros(len(ids), dtype=np.int64)
    with torch.inference_mode():
        prefix = lm.model.base_model(input_ids=torch.tensor([pre]), use_cache=True).past_key_values if by_len else None
        for S, rows in by_len.items():
            cache = copy.deepcopy(prefix)
            cache.batch_repeat_interleave(len(rows))
            pos = torch.arange(P, P + S)[None].repeat(len(rows), 1)
            logits = lm.model(input_ids=torch.tensor([ids[i][P:] for i in rows]), past_key_values=cache,
                              position_ids=pos, logits_to_keep=1).logits[:, -1]
            out[rows] = logits.argmax(-1).numpy()
        if rest:
            inp, mask, pos = left_pad(lm, [ids[i] for i in rest])
            logits = lm.model(input_ids=inp, attention_mask=mask, position_ids=pos, logits_to_keep=1).logits[:, -1]
            out[rest] = logits.argmax(-1).numpy()
    return out


def _senses(lm, str_, hs_s, hs_r, labels, sender_layer, receiver_layer, seed):
    """Senses: each 'queen' sentence's last word-end state at 50 % depth, mapped; nearest receiver centroid."""
    sx, sy = np.stack([p[0] for p in str_]), np.stack([p[1] for p in str_])
    smx, smy, sW = fit_map(sx, sy)
    _, smy0, sW0 = fit_map(sx, sy[rng(seed, "shuffled-map-sense").permutation(len(sy))])
    Xs, Yr, lab = [], [], []
    for i in range(len(hs_s)):
        a, b = word_ends(hs_s[i], sender_layer), word_ends(hs_r[i], receiver_layer)
        common = sorted(set(a) & set(b))
        if common:
            Xs.append(a[common[-1]])
            Yr.append(b[common[-1]])
            lab.append(labels[i])
    Xs, Yr, lab = np.stack(Xs), np.stack(Yr), np.array(lab)
    acc_own = _nearest_sense(Yr, lab, Yr)
    sense_rows = []
    for k in (K_HEAD, lm.d_model):
        m = topk_dev(Xs, smx, k)
        got = {"fitted map": _nearest_sense(Yr, lab, smy + m @ sW),
               "shuffled-pairs map (null)": _nearest_sense(Yr, lab, smy0 + m @ sW0)}
        for name, a_ in got.items():
            lo, hi = clopper_pearson(int(a_.sum()), len(a_))
            sense_rows.append({"k": k, "map": name, "accuracy": float(a_.mean()), "ci_lo": lo, "ci_hi": hi, "n": len(a_)})
        if k == K_HEAD:
            sense_find = paired_finding(f"floor: 'queen' sentence sense recovered by the receiver from a {K_HEAD}-"
                                        "coordinate message (nearest receiver centroid), fitted map minus shuffled-pairs map",
                                        got["fitted map"] - got["shuffled-pairs map (null)"], seed,
                                        control="a map fitted on shuffled pairs")
    lo, hi = clopper_pearson(int(acc_own.sum()), len(acc_own))
    sense_rows.append({"k": 0, "map": "receiver's own states (ceiling)", "accuracy": float(acc_own.mean()), "ci_lo": lo,
                       "ci_hi": hi, "n": len(acc_own)})
    return sense_rows, sense_find, len(lab)


def _evidence(lm, recv, n, msg, n_sents, sense_find, cka_find) -> Evidence:
    return Evidence(
        tested=(f"Between {lm.name} (sender) and {recv.name} (receiver): (b, the verdict) whether a {K_HEAD}-coordinate "
                f"message ({K_HEAD * BYTES_PER_VALUE} bytes) from the sender's state at a word, through a linear map "
                f"fitted on other texts, makes the receiver say what its own state for that word says "
                f"({msg['test_positions']} held-out word positions, placeholder prompt with no context) better than the "
                f"strongest baseline at no more bytes ({msg['strongest'].replace('_', ' ')}); beside it the word sent as "
                "text, a map from the sender's context-free layer-0 embedding, the receiver's mean state and a map "
                f"fitted on shuffled pairs, and the words seen in the fitting turns apart from unseen ones. Whether the "
                f"map recovers the sense of a 'queen' sentence ({n_sents} sentences never used for the map). (a) Whether "
                f"the two models represent the same {n} texts alike (linear CKA at matched depths) beyond a randomly "
                "initialised sender and shuffled pairings."),
        not_tested=("Whether every LLM shares the space (two small models only, both "
                    "dequantised GGUF weights); a message without a fitted map (the map is part of the channel: the "
                    "space is shared only up to it); whole thoughts or multi-token messages (one word position at a "
                    "time); agreement beyond the top-1 token. The sense test (50 % depth) asks for context, and is weak "
                    "even on the receiver's own states."),
        finding=msg["head"], more=msg["more"] + [floor_check(sense_find)] + cka_find)


def _same_word(lm, token_id, word: str) -> bool:
    t = lm.tokenizer.decode([int(token_id)]).strip().lower()
    w = word.strip(".,;:!?\"'()").lower()
    return bool(t) and (w.startswith(t) or t.startswith(w))


CAPTION = ("Left: a point is one matched relative depth, y the linear CKA between the two models' states (red: trained sender, dashed:"
           " random-init sender, grey band: shuffled pairings). Middle: x is the message size in bytes, y how often the receiver's "
           "next word agrees with what its own state says (blue: fitted map, grey: shuffled-pairs map; single markers: the word "
           "sent as text at its bytes, a layer-0 map, the mean state at 1 byte; triangles beside 128 bytes: the message on words "
           "seen while fitting the map and on words never seen). Right: a bar is how often the "
           "queen sentence's sense survives the crossing (green: the receiver's own states). Error bars: 95 % intervals.")


def figure(r: ExperimentResult, lang: str = "en") -> go.Figure:
    cka = pd.DataFrame(r.numbers["cka"])
    msg = pd.DataFrame(r.numbers["message_agreement"])
    sen = pd.DataFrame(r.numbers["sense_recovery"])
    fig = make_subplots(1, 3, subplot_titles=tuple(tr(s, lang) for s in (
        "(a) CKA by depth", "(b) receiver agrees with itself", "(c) queen sense recovered")))
    fig.add_trace(go.Scatter(x=list(cka["depth"]) + list(cka["depth"])[::-1],
                             y=list(cka["shuffled_hi"]) + list(cka["shuffled_lo"])[::-1], fill="toself", mode="lines",
                             fillcolor="rgba(127,127,127,0.25)", line=dict(width=0), name=tr("shuffled pairings (95 %)", lang)), 1, 1)
    fig.add_trace(go.Scatter(x=cka["depth"], y=cka["random_init_cka"], mode="lines+markers", name=tr("random-init sender", lang),
                             line=dict(dash="dash", color="#7f7f7f"),
                             error_y=dict(type="data", array=cka["random_ci_hi"] - cka["random_init_cka"],
                                          arrayminus=cka["random_init_cka"] - cka["random_ci_lo"])), 1, 1)
    fig.add_trace(go.Scatter(x=cka["depth"], y=cka["cka"], mode="lines+markers", name=tr("trained sender", lang),
                             line=dict(color="#d62728", width=3),
                             error_y=dict(type="data", array=cka["ci_hi"] - cka["cka"], arrayminus=cka["cka"] - cka["ci_lo"])), 1, 1)
    for name, color in (("fitted map", "#1f77b4"), ("shuffled-pairs map (null)", "#7f7f7f")):
        g = msg[msg["map"] == name]
        fig.add_trace(go.Scatter(x=g["bytes"], y=g["agreement"], mode="lines+markers", name=tr(f"message via {name}", lang),
                                 line=dict(color=color), error_y=dict(type="data", array=g["ci_hi"] - g["agreement"],
                                                                      arrayminus=g["agreement"] - g["ci_lo"])), 1, 2)
        s = sen[sen["map"] == name]
        fig.add_trace(go.Bar(x=[f"k = {k}" for k in s["k"]], y=s["accuracy"], name=tr(f"sense via {name}", lang), marker_color=color,
                             error_y=dict(type="data", array=s["ci_hi"] - s["accuracy"], arrayminus=s["accuracy"] - s["ci_lo"])),
                      1, 3)
    own = sen[sen["k"] == 0].iloc[0]
    fig.add_trace(go.Bar(x=[tr("receiver's own", lang)], y=[own["accuracy"]], name=tr("receiver's own states (ceiling)", lang),
                         marker_color="#2ca02c"), 1, 3)
    marks = {"word_as_text": ("the word as text", "diamond", "#2ca02c"), "layer0_map": ("layer-0 map (no context)",
             "square", "#9467bd"), "mean_state": ("receiver's mean state (floor)", "x", "black")}
    for name, (label, symbol, color) in marks.items():
        b = (r.numbers.get("baselines") or {}).get(name)
        if b:
            fig.add_trace(go.Scatter(x=[max(b["bytes"], 1.0)], y=[b["effect"]], mode="markers", name=tr(label, lang),
                                     marker=dict(symbol=symbol, size=13, color=color),
                                     error_y=dict(type="data", array=[b["ci"][1] - b["effect"]],
                                                  arrayminus=[b["effect"] - b["ci"][0]])), 1, 2)
    for name, label, color, shift in (("seen_words", "message, words seen while fitting", "#17becf", 0.85),
                                      ("unseen_words", "message, words never seen", "#ff7f0e", 1.18)):
        w = r.numbers.get(name)
        if w:
            fig.add_trace(go.Scatter(x=[K_HEAD * BYTES_PER_VALUE * shift], y=[w["effect"]], mode="markers",
                                     name=tr(label + " (n = {n})", lang, n=w["n"]), marker=dict(symbol="triangle-up", size=12, color=color),
                                     error_y=dict(type="data", array=[w["ci"][1] - w["effect"]],
                                                  arrayminus=[w["effect"] - w["ci"][0]])), 1, 2)
    tb = r.numbers["mean_text_bytes"]
    fig.add_trace(go.Scatter(x=[tb, tb], y=[0, 1], mode="lines", name=tr("UTF-8 bytes of a turn", lang),
                             line=dict(dash="dot", color="black")), 1, 2)
    ch = r.numbers["chance_sense"]
    fig.add_hline(y=ch, line_dash="dot", line_color="black", row=1, col=3)
    fig.update_xaxes(title=tr("relative depth", lang), row=1, col=1)
    fig.update_xaxes(title=tr("message bytes (k × 4)", lang), type="log", row=1, col=2)
    fig.update_yaxes(range=[0, 1.02])
    return claim_style(fig, tr("{sender} → {receiver} · dotted line in (c): chance {chance}", lang, sender=r.numbers["sender"],
                               receiver=r.numbers["receiver"], chance=f"{ch:.2f}"))


EXPERIMENT = Experiment("talking", "LLMs talking in vectors", CLAIM, run, figure, (
        Param("n_texts", "Seed turns used for CKA and the map (30 ≈ 25 s; 'full': 110 ≈ 60 s)", "int", 30, lo=20,
              hi=200, step=10, help="a whole number"),),
        order=0, caption=CAPTION, needs_other=True)
