"""Sequences of operands that change while they are read: a number's ``__float__`` may run any
Python code, and this one removes or adds items of the very list being read. Both engines
read such a list as Python's own loop over it would (the items present when each is reached),
and nothing crashes; each case runs in a child interpreter, so an abort fails one test only."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = r"""
import sys
import ferrograd
import ferrograd.reference as reference

engine = ferrograd if sys.argv[1] == "rust" else reference
change = sys.argv[2]

class Changes:
    # float() of it changes the list it is in, then reads as 2.
    def __init__(self, items):
        self.items = items

    def __float__(self):
        if change == "clear":
            del self.items[:]
        elif change == "pop":
            self.items.pop()
        elif change == "grow":
            self.items.extend(engine.Value(100.0) for _ in range(1000))
        elif change == "replace":
            self.items[-1] = engine.Value(-1.0)
        return 2.0

def operands():
    items = [engine.Value(1.0), engine.Value(4.0)]
    items.append(Changes(items))
    items += [engine.Value(8.0), engine.Value(16.0)]
    return items

def python_sum():
    # What a plain Python loop over the same list reads.
    total, items = 0.0, operands()
    for item in items:
        total += float(item.data) if isinstance(item, engine.Value) else float(item)
    return total

out = engine.sum(operands())
weights = [engine.Value(1.0) for _ in range(2000)]
dot = engine.dot(weights[: len(operands())], operands()) if change == "replace" else None
print(repr(out.data), repr(python_sum()), dot.data if dot is not None else None)
"""


@pytest.mark.parametrize("change", ["clear", "pop", "grow", "replace"])
@pytest.mark.parametrize("engine", ["rust", "reference"])
def test_a_list_changed_while_it_is_read_reads_as_a_python_loop(engine: str, change: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, engine, change],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    got, want, dot = done.stdout.split()
    assert float(got) == float(want)
    if change == "replace":
        # 1 + 4 + 2 + 8 - 1: the last item was replaced before it was read.
        assert float(dot) == 14.0
