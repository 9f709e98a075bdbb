"""The typo book of ZuCo sentence texts (docs/protocol.md §texts).

ZuCo's task-material CSVs and the ``content`` strings of its ``.mat`` files carry typos and
mis-encoded characters. ``revise`` repairs them by plain substring replacement, in the fixed order
below; the resulting text is the ``input text`` of the label table and the key by which EEG
records are matched to label rows. The order matters (``Jose`` also turns ``Joseph`` into
``Joséph``, ``Maria`` becomes ``Marić``): it reproduces the published label table exactly.
"""
from __future__ import annotations

REPLACEMENT_CHAR = "\ufffd"  # what undecodable bytes of the original files became

TYPOS: tuple[tuple[str, str], ...] = (
    ("emp11111ty", "empty"),
    ("film.1", "film."),
    ("\u2013", "-"),  # en dash
    ("\u2019s", "'s"),  # right single quotation mark
    (REPLACEMENT_CHAR + "s", "'s"),
    ("`s", "'s"),
    ("Maria", "Mari\u0107"),
    ("1Universidad", "Universidad"),
    ("1902\u201419", "1902 - 19"),  # em dash
    ("Wuerttemberg", "W\u00fcrttemberg"),
    ("long -time", "long-time"),
    ("Jose", "Jos\u00e9"),
    ("Bucher", "B\u00f4cher"),
    ("1839 ? May", "1839 - May"),
    (f"G{REPLACEMENT_CHAR}n{REPLACEMENT_CHAR}ration", "Generation"),
    ("Bragan\u00e7a", "Bragana"),
    ("1837?October", "1837 - October"),
    ("nVera-Ellen", "Vera-Ellen"),
    ("write Ethics", "wrote Ethics"),
    ("Adams-Onis", "Adams-On\u00eds"),
    ("(40 km?)", "(40 km\u00b2)"),
    ("(40 km\u02dd)", "(40 km\u00b2)"),
    (" (IPA: /?g?nz?b?g/) ", " "),
    ('""Canes""', '"Canes"'),
)
"""Replacements for every text, applied in this order."""

MAT_TYPOS: tuple[tuple[str, str], ...] = (
    ("111Senator", "Senator"),
    ("Creteil", "Cr\u00e9teil"),
    ("Zoonomia", "Zo\u00f6nomia"),
    (f"1902{REPLACEMENT_CHAR}19", "1902 - 19"),
    ("nee Darwin", "n\u00e9e Darwin"),
    ("Ruthy", "R\u00e9thy"),
    ("Eidgenoessische", "Eidgen\u00f6ssische"),
    (f"40 km{REPLACEMENT_CHAR}", "40 km\u00b2"),
    ("King Leopold", "King L\u00e9opold"),
)
"""Further replacements for texts read from ``.mat`` files, applied after ``TYPOS``."""


def revise(text: str, from_mat: bool = False) -> str:
    """Apply the typo book to ``text``; ``from_mat`` adds the ``.mat``-only replacements."""
    book = TYPOS + MAT_TYPOS if from_mat else TYPOS
    for source, replacement in book:
        text = text.replace(source, replacement)
    return text
