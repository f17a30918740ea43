"""Errors that link to docs/troubleshooting.md link to an entry that exists."""

from __future__ import annotations

import re
from pathlib import Path

import dlt_sqlalchemy
from dlt_sqlalchemy.exceptions import TROUBLESHOOTING, InvalidCredentials, MissingDriver

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(dlt_sqlalchemy.__file__).parent


def anchors() -> set:
    text = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    return set(re.findall(r'<a id="([^"]+)"></a>', text))


def test_every_linked_anchor_exists() -> None:
    used = set()
    for path in SOURCE.rglob("*.py"):
        used.update(re.findall(r"""see\(["']([a-z0-9-]+)["']\)""", path.read_text("utf-8")))
    assert used, "the errors link somewhere"
    assert used <= anchors(), f"missing entries: {sorted(used - anchors())}"


def test_messages_end_with_their_link() -> None:
    assert str(InvalidCredentials("refused")).endswith(f"{TROUBLESHOOTING}#invalid-credentials")
    missing = MissingDriver("postgresql+pg8000", "pg8000", "pip install pg8000")
    assert "Install it with: pip install pg8000." in str(missing)
    assert str(missing).endswith("#missing-driver")
    assert TROUBLESHOOTING.endswith("docs/troubleshooting.md")
