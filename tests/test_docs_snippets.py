"""Every Python snippet of README.md, docs/*.md and docs/dialects/*.md runs as written.

Each fenced block opened by ```py or ```python is one test, with the id `<file>:<line>` (the
line of the opening fence). The block runs as a script of its own, in a fresh Python process
(this interpreter), with a temporary directory as working directory, dlt's data directory in
it, telemetry off and no `DESTINATION__`, `LOAD__`, `NORMALIZE__` or `RUNTIME__` variables of
the caller; it fails when the process exits non-zero or runs longer than `TIMEOUT_S`, and shows
the tail of its output. Blocks that are not Python programs (shell, TOML, SQL, printed output)
are fenced as such (```sh, ```toml, ```sql, ```text) and not collected.

Markers: the first lines of a block may hold comments that steer the test. They stay visible in
the rendered docs, so write them for the reader too:

    # doc-test: skip (needs a SQL Server)
        The block is not run; the test is skipped with the text in parentheses as reason. For
        blocks that need a server the tests cannot have (SQL Server, Oracle, Trino) and for
        excerpts of source files that are not programs. A reason starting with "BUG:" names a
        bug of the code that the snippet shows.

    # doc-test: continue
        The block continues the walkthrough of the block before it in the same file: it runs
        after that block (and whatever that block continues), in the same process, so it may
        use the names they define.

Snippets write only relative paths (into the temporary working directory) or under /tmp, never
into the repository.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC_FILES = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "docs" / "dialects").glob("*.md")),
]
TIMEOUT_S = 240  # the conformance kit example runs every check: a minute on a busy machine
OUTPUT_TAIL_LINES = 40

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
PYTHON_INFO = {"py", "python"}
MARKER = re.compile(r"^#\s*doc-test:\s*(?P<verb>[a-z-]+)\s*(?:\((?P<reason>.*)\))?\s*$")
VERBS = {"skip", "continue"}


@dataclasses.dataclass
class Snippet:
    path: Path
    line: int  # 1-based line of the opening fence
    code: str
    skip_reason: Optional[str] = None
    continues: Optional[Snippet] = None

    @property
    def id(self) -> str:
        path = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{path.as_posix()}:{self.line}"

    def program(self) -> str:
        """The block's code after the code of the blocks it continues, in file order."""
        parts: List[str] = []
        snippet: Optional[Snippet] = self
        while snippet is not None:
            parts.append(f"# --- {snippet.id}\n{snippet.code}")
            snippet = snippet.continues
        return "\n".join(reversed(parts))


def _markers(code: str, where: str) -> Dict[str, Optional[str]]:
    """The `# doc-test:` comments at the top of a block, as {verb: reason}."""
    found: Dict[str, Optional[str]] = {}
    at_top = True
    for line in code.splitlines():
        if not line.strip():
            continue
        is_marker = re.match(r"^\s*#\s*doc-test\b", line) is not None
        at_top = at_top and is_marker
        if not is_marker:
            continue
        match = MARKER.match(line.strip())
        if not at_top or match is None or match["verb"] not in VERBS:
            raise ValueError(
                f"{where}: misplaced or malformed marker {line!r}: markers are the block's first"
                f" lines, `# doc-test: <verb> (reason)` with a verb of {sorted(VERBS)}"
            )
        found[match["verb"]] = match["reason"]
    return found


def collect(path: Path) -> List[Snippet]:
    """The ```py / ```python blocks of one Markdown file, in order."""
    snippets: List[Snippet] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        start = i
        body: List[str] = []
        i += 1
        closing = re.compile(rf"^ *{re.escape(fence)}{re.escape(fence[0])}*\s*$")
        while i < len(lines) and not closing.match(lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1  # the closing fence
        if opening["info"].lower() not in PYTHON_INFO:
            continue
        snippet = Snippet(path, start + 1, "\n".join(body) + "\n")
        markers = _markers(snippet.code, snippet.id)
        if "skip" in markers:
            snippet.skip_reason = markers["skip"] or "marked `# doc-test: skip`"
        if "continue" in markers:
            if not snippets:
                raise ValueError(f"{snippet.id}: `# doc-test: continue` on the file's first block")
            snippet.continues = snippets[-1]
        snippets.append(snippet)
    return snippets


SNIPPETS = [snippet for path in DOC_FILES for snippet in collect(path)]


# dlt configuration of the caller that would change what a snippet does (or where it writes)
CALLER_CONFIG = (
    "DESTINATION__",
    "LOAD__",
    "NORMALIZE__",
    "EXTRACT__",
    "RUNTIME__",
    "SOURCES__",
    "DLT_",
)


def _env(tmp_path: Path) -> Dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(CALLER_CONFIG)}
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["DLT_DATA_DIR"] = str(tmp_path / "dlt_data")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-OUTPUT_TAIL_LINES:])


def test_snippets_collected() -> None:
    """The collector finds the blocks (an empty parametrization would pass silently)."""
    assert len(SNIPPETS) > 10
    assert {s.path.name for s in SNIPPETS} >= {"README.md", "configuration.md"}


def test_collector_reads_fences_and_markers(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Title\n\n```py\na = 1\n```\n\n```sh\necho no\n```\n\n"
        "- item\n\n  ```python\n  # doc-test: continue\n  print(a)\n  ```\n\n"
        "````py\n# doc-test: skip (needs SQL Server)\nconnect()\n````\n",
        encoding="utf-8",
    )
    first, second, third = collect(doc)
    assert (first.line, first.code, first.skip_reason) == (3, "a = 1\n", None)
    assert first.continues is None
    assert second.line == 13 and second.continues is first
    assert second.program() == (
        f"# --- {first.id}\na = 1\n\n# --- {second.id}\n# doc-test: continue\nprint(a)\n"
    )
    assert third.skip_reason == "needs SQL Server"
    doc.write_text("```py\nx = 1\n# doc-test: skip (late)\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="misplaced or malformed"):
        collect(doc)


@pytest.mark.docs
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_doc_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    chain: Optional[Snippet] = snippet
    while chain is not None:
        if chain.skip_reason is not None:
            reason = chain.skip_reason
            pytest.skip(reason if chain is snippet else f"continues {chain.id}: {reason}")
        chain = chain.continues
    workdir = tmp_path / "work"
    workdir.mkdir()
    script = tmp_path / "snippet.py"
    script.write_text(snippet.program(), encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=workdir,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as ex:
        output = ex.stderr or ex.stdout or ""
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        pytest.fail(f"{snippet.id} ran longer than {TIMEOUT_S} s\n{_tail(output)}")
    if done.returncode != 0:
        pytest.fail(
            f"{snippet.id} exited with {done.returncode} (script: {script})\n"
            f"{_tail(done.stderr or done.stdout)}",
            pytrace=False,
        )
