"""Reasoning as steering: does the model's own reasoning text move it toward the right answer? What
the headline measures is narrower: whether the answer word, where the reasoning contains it, raises
the answer.

Claim (001, suprjami): "'reasoning' … is just trying to steer the conversation in a more relevant
direction in vector space, hopefully to generate more relevant output tokens."

Method: for each short question the model first writes its own reasoning (sampled, one seed per
question). The correct answer is then scored after no reasoning, after its own reasoning, after the
same reasoning with the answer masked, after another question's reasoning (a seeded derangement),
after that with the answer appended, after the answer word alone, and after same-length filler. Scores
are the full answer string's log-probability and whether a greedy answer contains it. The headline is
paired: does its own reasoning beat the same on-topic text with the answer masked? Only the reasonings
that contain the answer word differ from their masked copy, so the headline measures "the answer word
in the reasoning raises the answer". The answer-containing and answer-free reasonings are reported
apart (the share that contain the word is the *copy share*); on the answer-free ones the question is
whether reasoning without the word still helps, against no reasoning and another question's reasoning.

Example::

    >>> derangement(4, seed=0).tolist()                     # no question keeps its own reasoning
    [3, 0, 1, 2]
"""
from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from latent.chart_words import tr
from latent.claims.evidence import Evidence, paired_finding
from latent.claims.framework import Claim, Experiment, ExperimentError, ExperimentResult, Param
from latent.core.generate import generate
from latent.core.hidden import encode, left_pad
from latent.core.stats import bootstrap_ci, clopper_pearson, rng
from latent.style import claim_style

CLAIM = Claim("001_e3950b15718955f5.txt", "001", 1,
              "It's just trying to steer the conversation in a more relevant direction in vector space, hopefully "
              "to generate more relevant output tokens.")
QA = [
    ("Which insect makes honey?", "bee"), ("What is the capital of France?", "Paris"),
    ("What color is the sky on a clear day?", "blue"), ("What do cows drink?", "water"),
    ("Which planet is known as the red planet?", "Mars"), ("What is frozen water called?", "ice"),
    ("What animal says meow?", "cat"), ("How many legs does a spider have?", "eight"),
    ("What is the capital of Italy?", "Rome"), ("What is the capital of Japan?", "Tokyo"),
    ("What color is grass?", "green"), ("What color is snow?", "white"),
    ("What is the largest ocean on Earth?", "Pacific"), ("What gas do plants take in from the air?", "carbon dioxide"),
    ("What star is at the center of our solar system?", "Sun"), ("What do bees collect from flowers?", "nectar"),
    ("How many days are in a week?", "seven"), ("How many hours are in a day?", "24"),
    ("What is two plus two?", "four"), ("What is the opposite of hot?", "cold"),
    ("What is the opposite of up?", "down"), ("Which animal is known as the king of the jungle?", "lion"),
    ("What animal barks?", "dog"), ("What is the capital of Germany?", "Berlin"),
    ("What is the capital of Spain?", "Madrid"), ("What is the capital of England?", "London"),
    ("What fruit keeps the doctor away?", "apple"), ("What color is a banana?", "yellow"),
    ("Which organ pumps blood through the body?", "heart"), ("What do we breathe in to live?", "oxygen"),
    ("What is the largest planet in the solar system?", "Jupiter"), ("What is the closest planet to the Sun?", "Mercury"),
    ("How many continents are there?", "seven"), ("What language is spoken in Spain?", "Spanish"),
    ("What language is spoken in France?", "French"), ("Which season comes after winter?", "spring"),
    ("Which season is the hottest?", "summer"), ("What is the first month of the year?", "January"),
    ("What is the last month of the year?", "December"), ("What do you call a baby dog?", "puppy"),
    ("What do you call a baby cat?", "kitten"), ("What is the color of blood?", "red"),
    ("Which bird is a symbol of peace?", "dove"), ("What do caterpillars turn into?", "butterflies"),
    ("What is the hardest natural substance?", "diamond"), ("What instrument has black and white keys?", "piano"),
    ("What is the capital of the United States?", "Washington"), ("Which metal is liquid at room temperature?", "mercury"),
    ("What do pandas mostly eat?", "bamboo"), ("Which animal has a long trunk?", "elephant"),
    ("Which animal is the tallest?", "giraffe"), ("What is the boiling point of water in Celsius?", "100"),
    ("How many sides does a triangle have?", "three"), ("How many sides does a square have?", "four"),
    ("Which shape is round?", "circle"), ("What do you use to write on a blackboard?", "chalk"),
    ("What is the main ingredient of bread?", "flour"), ("Which country has the city of Sydney?", "Australia"),
    ("What do we call the frozen top of a mountain?", "snow"), ("Who wrote Romeo and Juliet?", "Shakespeare"),
]
REASONING_TOKENS = 24
ANSWER_TOKENS = 4
FILLER = " Let me think about this."
CONDITIONS = ("no reasoning", "own reasoning", "another question's reasoning", "same-length filler",
              "own reasoning, answer masked", "another's reasoning + the answer", "the answer alone")
MASK = "…"


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation with no fixed point (question i gets someone else's reasoning)."""
    if n < 2:
        raise ExperimentError("Need at least 2 questions for the other-question control.")
    g = rng(seed, "derange")
    while True:
        p = g.permutation(n)
        if not (p == np.arange(n)).any():
            return p


ASK = " Think step by step, then give the answer."


def chat(lm, user: str, assistant: str = "") -> str:
    """The model's own chat format when it has one (an instruct model), else a plain Q/A layout."""
    tok = lm.tokenizer
    if getattr(tok, "chat_template", None):
        head = tok.apply_chat_template([{"role": "system", "content": "You are a helpful assistant."},
                                        {"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
        bos = tok.bos_token or ""
        return (head[len(bos):] if bos and head.startswith(bos) else head) + assistant
    return f"Question: {user}\nAnswer:{(' ' + assistant) if assistant else ''}"


def prompt(lm, q: str, reasoning: str | None) -> str:
    """The prompt after which the answer is scored: the question, then (maybe) reasoning, then "The answer is"."""
    body = (reasoning.strip() + "\n" if reasoning is not None else "") + "The answer is"
    return chat(lm, q + ASK, body)


def mask_answer(text: str, answer: str) -> str:
    """The text with every occurrence of the answer (whole words, any case) replaced by :data:`MASK`.

    >>> mask_answer(" Bees make honey, so the bee is it.", "bee")
    ' Bees make honey, so the … is it.'
    """
    return re.sub(rf"(?<!\w){re.escape(answer)}(?!\w)", MASK, text, flags=re.IGNORECASE)


def filler_like(lm, text: str) -> str:
    """Filler with as many tokens as ``text``."""
    n = len(lm.tokenizer(text, add_special_tokens=False).input_ids)
    ids = lm.tokenizer(FILLER * (n // 4 + 2), add_special_tokens=False).input_ids[:n]
    return lm.tokenizer.decode(ids)


class Heads:
    """Each question's prompt up to the assistant's text (system line, question, assistant header), run
    once for every condition: one left-padded batch and its KV cache, which :func:`score` continues with
    each condition's own text."""

    def __init__(self, lm, heads: list[str]):
        self.ids = [encode(lm, h)[0] for h in heads]
        inp, self.mask, self.pos = left_pad(lm, self.ids)
        with torch.inference_mode():
            self.cache = lm.model.base_model(input_ids=inp, attention_mask=self.mask, position_ids=self.pos,
                                             use_cache=True).past_key_values

    def prefill(self, lm, p_ids: list[list[int]]):
        """``(output, mask, pos)`` of the prompts ``p_ids`` (one per question, in order) as one left-padded
        prefill would give them, computed as the heads' cache plus each row's own tokens (left-padded
        after the heads, so every row still ends at the last column). ``None`` when a prompt's tokens
        do not begin with its head's (a tokenizer that merges across the boundary), or when the padding
        inside a row would fall in a sliding attention window: run it whole."""
        if len(p_ids) != len(self.ids) or any(len(p) <= len(h) or p[:len(h)] != h for p, h in zip(p_ids, self.ids)):
            return None
        bodies = [p[len(h):] for p, h in zip(p_ids, self.ids)]
        S = max(map(len, bodies))
        window = getattr(lm.model.config, "sliding_window", None)
        if window and self.mask.shape[1] + S > window:   # a sliding window would count the padding between
            return None
        inp = torch.tensor([[0] * (S - len(b)) + b for b in bodies])
        own = torch.tensor([[0] * (S - len(b)) + [1] * len(b) for b in bodies], dtype=self.mask.dtype)
        mask = torch.cat([self.mask, own], 1)
        pos = torch.cat([self.pos, self.pos[:, -1:] + own.cumsum(-1).clamp(min=1)], 1)
        out = lm.model(input_ids=inp, attention_mask=mask, position_ids=pos[:, -S:], use_cache=True, logits_to_keep=1,
                       past_key_values=copy.deepcopy(self.cache))
        return out, mask, pos


def score(lm, prompts: list[str], answers: list[str], *more: list[str], heads: Heads | None = None
          ) -> tuple[np.ndarray, list[str]]:
    """For each prompt: the log-probability of the whole answer string `` answer`` (sum over its
    tokens) and the greedy answer (``ANSWER_TOKENS`` tokens), from one shared prefill. Further
    answer lists (``more``) are scored from the same prefill: then the first result is
    ``(1 + len(more), prompts)``.

    The prompts are left-padded so that every row ends at the last column; the answer tokens
    (right-padded) and the greedy steps both continue from a copy of the prefill's KV cache. With
    ``heads`` (the questions' shared beginnings, :class:`Heads`), the prefill runs only each prompt's
    own tokens after them.
    """

    tok = lm.tokenizer
    p_ids = [encode(lm, p)[0] for p in prompts]
    B = len(p_ids)
    pad = tok.pad_token_id or 0
    with torch.inference_mode():
        shared = heads.prefill(lm, p_ids) if heads is not None else None
        if shared is not None:
            pre, mask, pos = shared
        else:
            ids, mask, pos = left_pad(lm, p_ids)
            pre = lm.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(pre.logits[:, -1].float(), -1)                   # predicts answer token 1
        lps = []
        for answer_set in (answers, *more):
            a_ids = [tok(" " + a, add_special_tokens=False).input_ids for a in answer_set]
            A = max(len(a) for a in a_ids)
            a = torch.full((B, A), pad, dtype=torch.long)
            for r, x in enumerate(a_ids):
                a[r, : len(x)] = torch.tensor(x)
            m2 = torch.cat([mask, torch.ones((B, A), dtype=torch.long)], 1)
            p2 = pos[:, -1:] + 1 + torch.arange(A)[None]
            rest = torch.log_softmax(lm.model(input_ids=a, attention_mask=m2, position_ids=p2, use_cache=True,
                                              past_key_values=copy.deepcopy(pre.past_key_values)).logits.float(), -1)
            lps.append([float(first[r, x[0]]) + sum(float(rest[r, j - 1, x[j]]) for j in range(1, len(x)))
                        for r, x in enumerate(a_ids)])
        cache, nxt, m3, p3, outs = pre.past_key_values, first.argmax(-1), mask, pos[:, -1:], [[] for _ in range(B)]
        for step in range(ANSWER_TOKENS):
            for r in range(B):
                outs[r].append(int(nxt[r]))
            if step == ANSWER_TOKENS - 1:
                break
            m3, p3 = torch.cat([m3, torch.ones((B, 1), dtype=torch.long)], 1), p3 + 1
            res = lm.model(input_ids=nxt[:, None], attention_mask=m3, position_ids=p3, past_key_values=cache,
                           use_cache=True)
            cache, nxt = res.past_key_values, res.logits[:, -1].argmax(-1)
    lp = np.array(lps)
    return (lp[0] if not more else lp), [tok.decode(o, skip_special_tokens=True) for o in outs]


def correct(text: str, answer: str) -> bool:
    first = text.strip().split("\n")[0].lower()
    return answer.lower() in first


def run(lm, *, n_questions: int = 50, seed: int = 0, progress=None) -> ExperimentResult:
    if not 10 <= int(n_questions) <= len(QA):
        raise ExperimentError(f"n_questions must be 10-{len(QA)}.")
    qa = QA[: int(n_questions)]
    n = len(qa)
    qs, ans = [q for q, _ in qa], [a for _, a in qa]
    seeds = [int(rng(seed, "reason", i).integers(2 ** 31)) for i in range(n)]
    g = generate(lm, [chat(lm, q + ASK) for q in qs], max_new_tokens=REASONING_TOKENS, do_sample=True,
                 temperature=0.7, seeds=seeds)
    own = [" " + t.strip().replace("\n", " ") for t in g.texts]
    if progress:
        progress(1, 1 + len(CONDITIONS))
    perm = derangement(n, seed)
    texts = {CONDITIONS[0]: [prompt(lm, q, None) for q in qs],
             CONDITIONS[1]: [prompt(lm, q, r) for q, r in zip(qs, own)],
             CONDITIONS[2]: [prompt(lm, q, own[j]) for q, j in zip(qs, perm)],
             CONDITIONS[3]: [prompt(lm, q, filler_like(lm, r)) for q, r in zip(qs, own)],
             CONDITIONS[4]: [prompt(lm, q, mask_answer(r, a)) for q, r, a in zip(qs, own, ans)],
             CONDITIONS[5]: [prompt(lm, q, f"{own[j]} {a}.") for q, j, a in zip(qs, perm, ans)],
             CONDITIONS[6]: [prompt(lm, q, f" {a}.") for q, a in zip(qs, ans)]}
    contains = np.array([mask_answer(r, a) != r for r, a in zip(own, ans)])
    wrong = [ans[j] for j in derangement(n, seed + 1)]        # another question's answer: as fluent, not correct
    scored = {}
    heads = Heads(lm, [chat(lm, q + ASK, "") for q in qs])      # every condition's prompt begins with its head
    for j, (c, p) in enumerate(texts.items()):
        scored[c] = score(lm, p, ans, wrong, heads=heads)
        if progress:
            progress(2 + j, 1 + len(texts))
    lp = {c: v[0][0] for c, v in scored.items()}
    lpw = {c: v[0][1] for c, v in scored.items()}
    outs = {c: v[1] for c, v in scored.items()}
    acc = {c: np.array([correct(t, a) for t, a in zip(o, ans)], dtype=float) for c, o in outs.items()}

    def paired(a, b, what, unit="nats"):
        d = lp[a] - lp[b] if unit == "nats" else acc[a] - acc[b]
        return paired_finding(f"{what}: {a} minus {b}" + (" (log-probability of the full answer, nats)" if unit == "nats"
                                                          else " (share of greedy answers that are correct)"),
                              d, seed, control=b)
    mine, other, masked = CONDITIONS[1], CONDITIONS[2], CONDITIONS[4]
    k = int(contains.sum())
    head = paired(mine, masked, f"the answer word in the reasoning raises the answer ({k} of {n} reasonings contain it; "
                                "on the others the masked text is the same and the difference is 0): correct-answer "
                                "log-probability")
    subsets, sub_find = _subsets(lp, contains, seed)
    did = (lp[mine] - lp[other]) - (lpw[mine] - lpw[other])
    more = [paired_finding("how much more the model's own reasoning (vs another question's) raises the correct answer "
                           "than a wrong answer: difference in differences of log-probability, nats", did, seed,
                           control="the same change for a wrong answer"),
            paired(masked, CONDITIONS[0], "on-topic reasoning without the answer vs none: answer log-probability"),
            paired(CONDITIONS[5], CONDITIONS[0], "another question's reasoning with the answer appended vs none"),
            paired(CONDITIONS[6], CONDITIONS[0], "the answer word alone vs no reasoning"),
            paired(mine, other, "correct-answer log-probability (includes any general effect of fitting reasoning)"),
            paired(CONDITIONS[1], CONDITIONS[0], "answer log-probability"),
            paired(CONDITIONS[1], CONDITIONS[3], "answer log-probability"),
            paired(CONDITIONS[2], CONDITIONS[0], "control: answer log-probability"),
            paired(CONDITIONS[1], CONDITIONS[2], "accuracy", unit="acc"),
            paired(CONDITIONS[1], CONDITIONS[0], "accuracy", unit="acc")]
    ev = _evidence(n, head, more, acc, seed, contains, sub_find)
    rows = []
    for c in CONDITIONS:
        k = int(acc[c].sum())
        lo, hi = clopper_pearson(k, n)
        blo, bhi = bootstrap_ci(lp[c], seed=seed)
        wlo, whi = bootstrap_ci(lpw[c], seed=seed)
        rows.append({"condition": c, "answer_logprob": float(lp[c].mean()), "logprob_lo": blo, "logprob_hi": bhi,
                     "wrong_logprob": float(lpw[c].mean()), "wrong_lo": wlo, "wrong_hi": whi,
                     "accuracy": k / n, "acc_lo": lo, "acc_hi": hi, "n": n})
    table = pd.DataFrame(rows)
    numbers = {"questions": n, "reasoning_tokens": REASONING_TOKENS,
               "answer_logprob_mean": {c: round(float(lp[c].mean()), 4) for c in CONDITIONS},
               "wrong_answer_logprob_mean": {c: round(float(lpw[c].mean()), 4) for c in CONDITIONS},
               "accuracy": {c: round(float(acc[c].mean()), 4) for c in CONDITIONS},
               "reasonings_containing_the_answer": k,
               "examples": [{"question": qs[i], "answer": ans[i], "own_reasoning": own[i].strip(),
                             "answer_after_own": outs[CONDITIONS[1]][i].strip()} for i in range(min(3, n))]}
    controls = {"on_topic_masked": CONDITIONS[4], "other_plus_answer": CONDITIONS[5], "answer_only": CONDITIONS[6]}
    contract = {"controls": {k: {"condition": c, "answer_logprob": round(float(lp[c].mean()), 4),
                                 "vs_no_reasoning": (lambda f: {"effect": round(f.effect, 4),
                                                               "ci": [round(x, 4) for x in f.ci], "n": f.n})(
                                     paired(c, CONDITIONS[0], "control"))} for k, c in controls.items()}}
    contract.update(subsets)
    numbers.update(subsets)
    ev.headline = what_is_measured(numbers)
    method = ("The model writes its own reasoning for each question (sampled, seeded); the correct answer is scored after "
              "no reasoning, its own reasoning, the same with the answer masked, another question's reasoning (with "
              "and without the answer appended), the answer alone and same-length filler: full-answer log-probability "
              "and greedy-answer accuracy, compared pair by pair (bootstrap intervals, sign-flip nulls).")
    return ExperimentResult("reasoning", CLAIM, ev, numbers, method, table, {"n_questions": n}, contract=contract)


def _subsets(lp: dict, contains: np.ndarray, seed: int) -> tuple[dict, list]:
    """The answer-containing and answer-free reasonings apart, and the copy share: the JSON and their findings."""
    mine, none, other, masked = CONDITIONS[1], CONDITIONS[0], CONDITIONS[2], CONDITIONS[4]
    n, k = len(contains), int(contains.sum())
    lo, hi = clopper_pearson(k, n)
    out = {"copy_share": {"effect": round(k / n, 4), "ci": [round(lo, 4), round(hi, 4)], "n": n, "count": k},
           "answer_containing": None, "answer_free": None}
    finds = []

    def one(mask, a, b, what):
        f = paired_finding(what, lp[a][mask] - lp[b][mask], seed, control=b)
        finds.append(f)
        return {"effect": round(f.effect, 4), "ci": [round(x, 4) for x in f.ci], "n": f.n}
    if k:
        out["answer_containing"] = {"n": k, "own_minus_masked": one(contains, mine, masked, (
            f"the {k} reasonings that contain the answer word: own reasoning minus the same with the word masked "
            "(correct-answer log-probability, nats)"))}
    if k < n:
        free = ~contains
        out["answer_free"] = {"n": n - k, "own_minus_none": one(free, mine, none, (
            f"the {n - k} reasonings without the answer word: own reasoning minus no reasoning (nats)")),
            "own_minus_other": one(free, mine, other, (
                f"the {n - k} reasonings without the answer word: own reasoning minus another question's reasoning (nats)"))}
    return out, finds


def _iv(d: dict, unit: str = " nats") -> str:
    return f"{d['effect']:+.2f}{unit} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}], n = {d['n']}"


def what_is_measured(numbers: dict) -> str:
    """The tab's key sentence, from the result's numbers alone: what the headline measures (the answer word
    in the reasoning raising the answer), the copy share, and whether reasoning without the word helps.

    >>> n = {"questions": 50, "copy_share": {"effect": 0.34, "ci": [0.21, 0.49], "n": 50, "count": 17},
    ...      "answer_containing": {"n": 17, "own_minus_masked": {"effect": 1.6, "ci": [0.7, 2.5], "n": 17}},
    ...      "answer_free": {"n": 33, "own_minus_none": {"effect": -1.5, "ci": [-2.2, -0.8], "n": 33},
    ...                      "own_minus_other": {"effect": 0.3, "ci": [-0.4, 1.0], "n": 33}}}
    >>> "is not shown to raise the answer" in what_is_measured(n)
    True
    """
    cs, has, free = numbers["copy_share"], numbers.get("answer_containing"), numbers.get("answer_free")
    n = numbers["questions"]
    share = (f"{cs['count']} of {n} reasonings contain the answer word (copy share {cs['effect']:.2f} "
             f"[{cs['ci'][0]:.2f}, {cs['ci'][1]:.2f}])")
    if has:
        word = has["own_minus_masked"]
        moves = "raises" if word["ci"][0] > 0 else "lowers" if word["ci"][1] < 0 else "is not shown to move"
        part1 = (f"What is measured: whether the answer word in the reasoning raises the answer. {share}; on those, "
                 f"the word {moves} the answer against the same reasoning with it masked: {_iv(word)}.")
    else:
        part1 = (f"What is measured: whether the answer word in the reasoning raises the answer. {share}: the mask "
                 "changes nothing, so the headline is 0 by construction.")
    if not free:
        return part1 + " Every reasoning contains the word, so reasoning without it is not measured."
    no, ot = free["own_minus_none"], free["own_minus_other"]
    part2 = (f" On the {free['n']} reasonings without the word the mask changes nothing; there, own reasoning minus no "
             f"reasoning is {_iv(no)}, and minus another question's reasoning {_iv(ot)}")
    if ot["ci"][0] > 0 and no["ci"][0] > 0:
        return part1 + part2 + (": reasoning without the answer word still raises the answer, beyond no reasoning and "
                                "beyond another question's reasoning.")
    if ot["ci"][0] > 0:
        return part1 + part2 + (": reasoning without the answer word raises it more than another question's reasoning "
                                "does, but not above no reasoning at all.")
    return part1 + part2 + (": reasoning without the answer word is not shown to raise the answer; what helps is the "
                            "answer word appearing in the text.")


def _evidence(n, head, more, acc, seed, contains, sub_find=()) -> Evidence:
    own = CONDITIONS[1]
    ev = Evidence(
        tested=(f"Whether the answer word in the model's own sampled reasoning ({REASONING_TOKENS} tokens, seeded) raises "
                f"the correct answer, over {n} short factual questions, paired: does its own reasoning raise the correct "
                "answer's log-probability more than the same reasoning with the answer masked? "
                f"{int(contains.sum())} of {n} reasonings contain the answer; on the others the two texts are the same. "
                "The answer-containing and answer-free reasonings apart, and on the answer-free ones whether reasoning "
                "without the word helps (against no reasoning and another question's reasoning). Beside it: another "
                "question's reasoning "
                "(with and without the answer appended), the answer word alone, no reasoning, same-length filler, a "
                "difference in differences against a wrong answer, and greedy-answer accuracy."),
        not_tested=("The geometry ('a direction in vector space') is not measured: the old cosine-to-a-hint measure did "
                    "no better than another question's reasoning and was dropped. Long or multi-step problems, chat-"
                    "formatted reasoning, and larger models that reason well are not tested; a 135M model's reasoning "
                    "is often wrong, which this test includes rather than hides."),
        finding=head, more=list(sub_find) + more)
    vs_none = more[5]
    if vs_none.ci[1] < 0:
        ev.caveat = (f"compared with no reasoning at all, the model's own reasoning lowered the correct answer's "
                     f"log-probability by {-vs_none.effect:.2f} nats (95 % [{-vs_none.ci[1]:.2f}, {-vs_none.ci[0]:.2f}]) "
                     f"and its greedy accuracy went from {acc[CONDITIONS[0]].mean():.0%} to {acc[own].mean():.0%}. "
                     "The answer word in the reasoning raises the answer compared with the same reasoning without it, "
                     "but on this model writing reasoning costs more than it helps.")
    elif vs_none.ci[0] > 0:
        ev.caveat = (f"compared with no reasoning, its own reasoning also raised the correct answer's log-probability "
                     f"by {vs_none.effect:.2f} nats (95 % [{vs_none.ci[0]:.2f}, {vs_none.ci[1]:.2f}]).")
    return ev


CAPTION = ("A bar is one condition (colour); left y is the mean log-probability of the correct answer (solid) and of another "
           "question's answer (hatched); right y is the share answered correctly. Error bars: 95 % intervals.")


def figure(r: ExperimentResult, lang: str = "en") -> go.Figure:
    t = r.table
    colors = ["#7f7f7f", "#d62728", "#1f77b4", "#bcbd22", "#ff9896", "#17becf", "#9467bd"][: len(t)]
    fig = make_subplots(1, 2, subplot_titles=(tr("answer log-probability (nats): solid correct, hatched wrong", lang),
                                              tr("greedy answer correct (share)", lang)))
    fig.add_trace(go.Bar(x=t["condition"], y=t["answer_logprob"], marker_color=colors, name=tr("the correct answer", lang),
                         error_y=dict(type="data", array=t["logprob_hi"] - t["answer_logprob"],
                                      arrayminus=t["answer_logprob"] - t["logprob_lo"])), 1, 1)
    fig.add_trace(go.Bar(x=t["condition"], y=t["wrong_logprob"], marker_color=colors, marker_pattern_shape="/",
                         opacity=0.55, name=tr("a wrong answer (another question's)", lang),
                         error_y=dict(type="data", array=t["wrong_hi"] - t["wrong_logprob"],
                                      arrayminus=t["wrong_logprob"] - t["wrong_lo"])), 1, 1)
    fig.add_trace(go.Bar(x=t["condition"], y=t["accuracy"], marker_color=colors, name=tr("accuracy (95 % exact)", lang),
                         error_y=dict(type="data", array=t["acc_hi"] - t["accuracy"], arrayminus=t["accuracy"] - t["acc_lo"])),
                  1, 2)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_xaxes(tickangle=20)
    return claim_style(fig, tr("Does the answer word in the reasoning raise the answer? · n = {n}, {k} reasonings contain it",
                               lang, n=r.numbers["questions"], k=r.numbers["reasonings_containing_the_answer"]))


EXPERIMENT = Experiment("reasoning", "Reasoning as steering", CLAIM, run, figure, (
        Param("n_questions", "Questions", "int", 50, lo=10, hi=len(QA), step=5, help="a whole number"),), order=3, caption=CAPTION)
