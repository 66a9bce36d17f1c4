"""docs/tutorial.md runs: its ``python`` blocks, in order, as one script.

The tutorial's own asserts state what each step must show (a contraction that holds, the
failure messages of a wrong modulus, a broken affine map and the Gaussian kernel), so a
change that breaks what the tutorial teaches fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def _blocks() -> list[str]:
    return BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))


def test_tutorial_has_the_promised_sections():
    text = TUTORIAL.read_text(encoding="utf-8")
    for heading in (
        "## 1. Your own tabular Sobolev MDP",
        "## 3. What a failure looks like",
        "## 4. The chain rule with your own system",
        "## 5. Validate a kernel",
    ):
        assert heading in text
    assert len(_blocks()) >= 8


def test_tutorial_code_runs_in_order(capsys):
    namespace: dict = {"__name__": "tutorial"}
    for number, block in enumerate(_blocks(), start=1):
        code = compile(block, f"{TUTORIAL.name} block {number}", "exec")
        exec(code, namespace)
    printed = capsys.readouterr().out
    # the failures the tutorial shows are the predicates' real messages
    assert "W1 contraction fails at evaluation point 0" in printed
    assert "chain rule fails for dG/d" in printed
    assert "is not scale sensitive of order 0.1" in printed
    assert "chain rule holds" in printed and "MSMMD ratio" in printed
