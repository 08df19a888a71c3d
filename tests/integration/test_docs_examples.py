"""Every example in docs/ and the README that shows its output prints exactly that output.

A page's example is a ```` ```python ```` block followed by ``Output:``
(``It prints:`` in the README) and a ```` ```text ```` block. Each runs as a
script in its own empty directory (so files it creates, such as a SQLite
store, are new), with the library of this checkout.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# The code may not span the start of another python block: one with no output
# of its own must not swallow the blocks up to the next example's output.
EXAMPLE = re.compile(
    r"```python\n((?:(?!```python).)*?)```\s*\n(?:Output:|It prints:)\s*\n```text\n(.*?)```",
    re.S,
)


def _examples() -> list[tuple[str, str, str]]:
    found = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for number, match in enumerate(EXAMPLE.finditer(page.read_text(encoding="utf-8")), 1):
            found.append((f"{page.relative_to(ROOT)}#{number}", match.group(1), match.group(2)))
    return found


EXAMPLES = _examples()


def test_the_docs_have_examples_with_output() -> None:
    # The pattern must keep finding them: a change of format would skip them all.
    assert len(EXAMPLES) >= 40
    pages = {name.split("#")[0] for name, _, _ in EXAMPLES}
    assert "README.md" in pages
    assert len(list((DOCS / "builtins").glob("*.md"))) - 1 <= sum(
        name.startswith("docs/builtins/") for name in pages
    )


@pytest.mark.parametrize(
    ("code", "output"),
    [pytest.param(code, output, id=name) for name, code, output in EXAMPLES],
)
def test_a_docs_example_prints_its_output(code: str, output: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == output
