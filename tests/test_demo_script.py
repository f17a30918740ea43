"""`scripts/demo`, the README's first command, needs no network once installed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def test_demo_skips_pip_when_installed_and_pyproject_unchanged(tmp_path: Any) -> None:
    """With the install stamp matching pyproject.toml, the demo runs without calling pip."""
    stamp = ROOT / ".venv" / ".dlt-sqlalchemy-demo-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    saved = stamp.read_text() if stamp.exists() else None
    stamp.write_text(digest + "\n")
    # a pip that cannot install anything (no index, as offline): calling it would fail the demo
    env = {
        **os.environ,
        "PIP_INDEX_URL": "http://127.0.0.1:1/simple",
        "PIP_NO_INDEX": "1",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    try:
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "demo"), "--output-dir", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    finally:
        if saved is None:
            stamp.unlink(missing_ok=True)
        else:
            stamp.write_text(saved)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no pip run" in result.stdout
    assert "installing dlt-sqlalchemy" not in result.stdout
    assert (tmp_path / "out").exists()
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
