"""The one page registry: every page of the app, as plain data that the frame (``app.py``), Home,
the lessons (the app passes :data:`TITLES` and :func:`current_key`: ``load_lessons(pages=TITLES,
keys=current_key)``) and the links all read.
Adding a page is its file plus one line here. It is the app's, not the library's: ``latent/`` never
imports it.

Widget keys: a page's value widgets start with its ``prefix`` (they are kept across page switches
and may be written by lessons and links); action widgets (buttons, uploads, downloads, editors),
whose state cannot be set, start with :data:`ACTION` — see :func:`is_value_key`.

Example::

    >>> page("Senses").file
    'app_pages/3_Senses.py'
    >>> is_value_key("sn_word"), is_value_key("do_sn_add"), is_value_key("do_export_walk_x1-png")
    (True, False, False)
"""
from __future__ import annotations

from dataclasses import dataclass

ACTION = "do_"          # key prefix of every button, upload, download and editor


@dataclass(frozen=True)
class PageSpec:
    title: str          # the sidebar's and the tab's name; lessons name pages by it
    file: str           # the page script, relative to the repository root
    path: str           # URL path (old links keep working: these are the paths links have always used)
    heading: str        # the page's own heading
    blurb: str          # Home's one line about it
    prefix: str = ""    # this page's value-widget keys start with it
    controls: tuple[tuple[str, str], ...] = ()   # (widget key, its label on the page) a teacher may hide
    icon: str = ""      # a sidebar icon (none by default: Debian's chromium draws emoji as empty boxes)

    @property
    def home(self) -> bool:
        return self.path == ""


PAGES: tuple[PageSpec, ...] = (
    PageSpec("Home", "app_pages/home.py", "", "Latent Dialogue Explorer", "what the app is, and the model card",
             "home_"),
    PageSpec("Dialogues", "app_pages/1_Dialogues.py", "Dialogues", "Dialogues",
             "read the five seed texts and map every turn", "map_",
             (("map_source", "Turn vectors from"), ("map_pooling", "Pooling"), ("map_method", "Projection"),
              ("map_dims", "Dimensions"), ("map_color", "Colour by"), ("map_seed", "Seed"))),
    PageSpec("Hidden states", "app_pages/2_Hidden_states.py", "Hidden_states", "Hidden states",
             "every token through every layer, logit lens, custom axes", "states_",
             (("states_layers", "Layers"), ("states_method", "Projection"))),
    PageSpec("Senses", "app_pages/3_Senses.py", "Senses", "Senses: which meaning does the context pick?",
             "the 'queen' example: context pulls a word's meaning", "sn_",
             (("sn_word", "Word"), ("do_sn_upload", "…or load a senses JSON"), ("sn_readout", "Readout"),
              ("sn_add_word", "Add a context word"), ("do_sn_add", "Add step"),
              ("sn_pick", "Choose the layer (default: best)"), ("sn_compare", "Compare models (by relative depth)"))),
    PageSpec("Latent walk", "app_pages/4_Latent_walk.py", "Latent_walk", "Latent walk: steer the model along a direction",
             "steer generation along a direction", "walk_",
             (("walk_source", "Direction from"), ("walk_method", "Vector"), ("walk_positions", "Add at"),
              ("walk_preset", "Preset"), ("walk_tokens", "New tokens"), ("walk_seed", "First seed"),
              ("walk_seeds", "Seeds per prompt"), ("walk_sample", "Sample"))),
    PageSpec("Seed claims", "app_pages/5_Seed_claims.py", "Seed_claims", "The seeds' claims, tested live",
             "the dialogues' claims tested on the real model", "cl_", (("cl_seed", "Seed (sampling, shuffles, bootstraps)"),)),
    PageSpec("Lessons", "app_pages/6_Lessons.py", "Lessons", "Lessons", "guided tours for a class, and lesson links",
             "lb_"),
    PageSpec("Concepts", "app_pages/8_Concepts.py", "Concepts", "Concepts: the model's own features",
             "a dictionary of the model's features (a sparse autoencoder), its quality card, one page per feature", "co_"),
    PageSpec("Join a class", "app_pages/7_Join.py", "Join", "Join a class", "type the code your teacher shows", "jn_"),
)
TITLES = tuple(p.title for p in PAGES)


def page(title: str) -> PageSpec:
    """The page of this title (KeyError names the titles)."""
    for p in PAGES:
        if p.title == title:
            return p
    raise KeyError(f"Unknown page {title!r}. Must be one of: {', '.join(TITLES)}")


# The prefixes before the names of 2026-12-07 (one word per idea: the Hidden states page is ``states``, the Latent
# walk ``walk``, in package, CLI, recipe and widget keys): links and lesson files that use them still work.
OLD_PREFIXES = {"hs_": "states_", "wk_": "walk_"}


def current_key(key: str) -> str:
    """Today's name of a widget key written under an old prefix (any other key unchanged).

    >>> current_key("hs_layers"), current_key("wk_preset"), current_key("sn_word")
    ('states_layers', 'walk_preset', 'sn_word')
    """
    for old, new in OLD_PREFIXES.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key


def is_value_key(key) -> bool:
    """A widget key whose value may be set (kept across pages, written by lessons and links)."""
    return isinstance(key, str) and not key.startswith(ACTION) and "-" not in key
