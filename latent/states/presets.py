"""One-click examples taken from the seed texts (assets/seeds)."""
from __future__ import annotations

from latent.core.corpus import load_corpus

QUEEN = [
    'Say we\'re generating the next token from the word "queen".',
    "Is this the monarch, the bee, the playing card, the drag entertainer?",
    "The queen",
    "The queen, honey",
    "The queen, honey, worker",
    "The queen, honey, worker, hive",
    "The queen, honey, worker, hive, beeswax",
]
GPS = ["Imagine you're giving someone GPS coordinates to a specific tree in a forest. You're only "
       "sending two numbers – latitude and longitude – but you're pointing to an entire living ecosystem."]


def frank_gpt_turns(n: int = 4, max_chars: int = 300) -> list[str]:
    """The first ``n`` turns of the Frank/GPT latent-space dialogue, each cut to ``max_chars``."""
    d = next(d for d in load_corpus() if d.id == "002")
    return [t.text[:max_chars] for t in d.turns[:n]]


def presets() -> dict[str, list[str]]:
    return {"queen (seed thread)": QUEEN, "GPS coordinates to a tree (Frank/DeepSeek)": GPS,
            "Frank/GPT turns": frank_gpt_turns()}
