"""The one mapping between an objective item's options and its answer codes.

A choice item's options may carry their own letter (``A. 12个月``) or none (``红色``); an
unprefixed option is lettered by its position. True/false items answer 对 or 错. The exam page,
the paper preview and export, grading and the knowledge import all go through these functions,
so what a candidate picks is stored and graded under the same code the item's answer uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

LETTERS = "ABCDEFGH"
TRUE_FALSE = ("对", "错")
SINGLE_KIND = "single"
MULTIPLE_KIND = "multiple"
TRUE_FALSE_KIND = "truefalse"
_PREFIX = re.compile(r"^\s*([A-H])[.．、)）]")


def option_letter(option: str, index: int) -> str:
    """The letter of a choice option: its own ``A.`` prefix if present, else by position."""
    match = _PREFIX.match(option)
    return match.group(1) if match else LETTERS[index]


def option_codes(kind: str, options: Sequence[str]) -> list[str]:
    """The answer code of each option, in order (letters, or 对/错 for true/false items)."""
    if kind == TRUE_FALSE_KIND:
        return list(options)
    return [option_letter(option, index) for index, option in enumerate(options)]


def option_label(kind: str, options: Sequence[str], index: int) -> str:
    """An option as candidates and exports show it: with its letter when it has none of its own."""
    option = options[index]
    if kind == TRUE_FALSE_KIND or _PREFIX.match(option):
        return option
    return f"{LETTERS[index]}. {option.strip()}"


def labelled_options(kind: str, options: Sequence[str]) -> list[str]:
    """Every option with its letter shown (see ``option_label``)."""
    return [option_label(kind, options, index) for index in range(len(options))]


def normalise_choice(kind: str, choice: str) -> str:
    """A stored choice in canonical form: letters upper-case and sorted, 对/错 as is."""
    if kind == TRUE_FALSE_KIND:
        return choice.strip()
    return "".join(sorted({ch for ch in choice.upper() if ch in LETTERS}))


def choice_code(kind: str, options: Sequence[str], picked: Iterable[str]) -> str:
    """The answer code of the options picked (``picked`` are option texts as shown in ``options``)."""
    codes = dict(zip(options, option_codes(kind, options), strict=True))
    return normalise_choice(kind, "".join(codes[option] for option in picked if option in codes))


def picked_options(kind: str, options: Sequence[str], choice: str) -> list[str]:
    """The options a stored answer code stands for (to show a saved answer again)."""
    wanted = normalise_choice(kind, choice)
    if kind == TRUE_FALSE_KIND:
        return [option for option in options if option == wanted]
    return [option for option, code in zip(options, option_codes(kind, options), strict=True)
            if code in wanted]
