"""Counts in words for messages: ``counted(1, "record")`` is ``1 record``, ``counted(2, "record")``
``2 records``."""
from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` followed by the noun, singular for exactly one, else ``plural`` (default: ``singular + "s"``)."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def listed(words: list[str], conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
