"""Where the tests find the project and ../shared, wherever a test file sits below tests/."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
