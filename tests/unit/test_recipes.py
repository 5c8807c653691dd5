"""Every recipe kind a page or the CLI exports replays, through `replay`, to the data it was made from."""
import re

import pytest
from conftest import ROOT

from latent.recipes import KINDS, RecipeError, make_recipe


def exported_kinds() -> set[str]:
    """Every literal kind passed to make_recipe in app_pages/, app.py and latent/."""
    found = set()
    for f in [*ROOT.joinpath("app_pages").rglob("*.py"), ROOT / "app.py", *ROOT.joinpath("latent").rglob("*.py")]:
        found |= set(re.findall(r'make_recipe\(\s*"([a-z_:-]+)"', f.read_text()))
    return found


def test_every_exported_kind_is_registered_and_every_registered_kind_is_used():
    kinds = exported_kinds()
    assert kinds == set(KINDS), (kinds, set(KINDS))


def test_unknown_kind_and_figure_are_refused():
    with pytest.raises(RecipeError, match="Must be one of"):
        make_recipe("experiment:reuse", {})
    with pytest.raises(RecipeError, match="Unknown figure"):
        make_recipe("senses", {"figure": "pie"})


