"""Whether a file can be a checkpoint at all, told from its first bytes: ``torch.save`` writes a
zip archive (or, in its legacy format, a pickle). Light (no torch), so a command line can refuse
a file that is no checkpoint (a note, a CSV) before torch loads."""
from __future__ import annotations

from pathlib import Path

ZIP_MAGIC = b"PK\x03\x04"
"""First bytes of a zip archive (``torch.save``'s format)."""
PICKLE_MAGIC = b"\x80"
"""First byte of a pickle of protocol 2 or later (``torch.save``'s legacy format)."""


def not_a_checkpoint(path: str | Path) -> str | None:
    """Why ``path`` cannot be a file written by ``torch.save`` (e.g. ``it is a text file``), or
    None when its first bytes are those of one (it may still be damaged)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(ZIP_MAGIC) or head.startswith(PICKLE_MAGIC):
        return None
    if not head:
        return "it is empty"
    try:
        head.decode("utf-8")
        return "it is a text file"
    except UnicodeDecodeError:
        return "it is neither a zip archive nor a pickle, the formats torch.save writes"
