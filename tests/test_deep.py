"""A chain a million nodes deep builds, sweeps and frees on both engines: no RecursionError, no
stack overflow, no crash on drop. Run in a subprocess, so a crash fails the test instead of
killing the run, and so the peak memory per node can be read from a clean process."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

DEPTH = 1_000_000

CHILD = r"""
import json, math, sys

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)

engine, depth = sys.argv[1], int(sys.argv[2])
if engine == "rust":
    from ferrograd import Value
else:
    # The reference engine's nodes are Python objects: tracemalloc counts them exactly, where
    # the resident size also moves with how pymalloc and malloc keep their free arenas (a
    # creep of about 1 MB a round on CPython 3.13 with nothing held).
    import tracemalloc

    from ferrograd.reference import Value

    tracemalloc.start()

    def rss():
        return tracemalloc.get_traced_memory()[0]

base = status("VmRSS")
x = Value(0.5)
y = x
for _ in range(depth):
    y = y.tanh()
built = status("VmRSS")
y.backward()
peak = status("VmHWM")
data, grad, root_grad = y.data, x.grad, y.grad
del y
dropped = status("VmRSS")
print(json.dumps({"data": data, "grad": grad, "root_grad": root_grad, "base": base,
                  "built": built, "peak": peak, "dropped": dropped}))
"""


def _run_chain(engine: str, depth: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, engine, str(depth)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert "RecursionError" not in done.stderr
    return json.loads(done.stdout)


def _expected_chain(depth: int) -> tuple[float, float]:
    """The chain's value and derivative computed with plain floats: tanh applied ``depth``
    times, and the product of the local derivatives 1 - tanh²."""
    y, grad = 0.5, 1.0
    for _ in range(depth):
        y = math.tanh(y)
        grad *= 1.0 - y * y
    return y, grad


@pytest.fixture(scope="module")
def expected() -> tuple[float, float]:
    return _expected_chain(DEPTH)


@pytest.mark.slow
@pytest.mark.parametrize(
    "engine, bytes_per_node_limit",
    [("rust", 200), ("reference", 1000)],
)
def test_million_deep_chain_builds_sweeps_and_drops_in_a_subprocess(
    engine: str, bytes_per_node_limit: int, expected: tuple[float, float]
) -> None:
    result = _run_chain(engine, DEPTH)
    value, grad = expected
    assert result["data"] == value
    assert result["root_grad"] == 1.0
    assert result["grad"] > 0.0
    assert result["grad"] == pytest.approx(grad, rel=1e-9)
    # Peak resident memory over the whole life of the chain (graph plus the sweep's buffers),
    # per node: a loose ceiling that still catches a node doubling in size.
    per_node = (result["peak"] - result["base"]) / DEPTH
    print(f"{engine}: {per_node:.0f} bytes/node at peak, depth {DEPTH}")
    assert per_node < bytes_per_node_limit


REPEAT_CHILD = r"""
import json, sys

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise LookupError("VmRSS")

engine, depth = sys.argv[1], int(sys.argv[2])
if engine == "rust":
    from ferrograd import Value
else:
    # The reference engine's nodes are Python objects: tracemalloc counts them exactly, where
    # the resident size also moves with how pymalloc and malloc keep their free arenas (a
    # creep of about 1 MB a round on CPython 3.13 with nothing held).
    import tracemalloc

    from ferrograd.reference import Value

    tracemalloc.start()

    def rss():
        return tracemalloc.get_traced_memory()[0]

after = []
for _ in range(6):
    y = Value(0.5)
    for _ in range(depth):
        y = (y * 0.5).tanh()
    y.backward()
    del y
    after.append(rss())
print(json.dumps(after))
"""


@pytest.mark.parametrize("engine", ["rust", "reference"])
def test_freed_chains_return_their_nodes_for_reuse(engine: str) -> None:
    # Six rounds of build, sweep, free: a leak of even a few bytes per node would grow the
    # process by megabytes each round; freed memory is reused instead (for the reference
    # engine, the memory its Python objects hold, as tracemalloc counts it). The first rounds also
    # grow the allocators' pools and the sweep's buffers (the reference engine's pymalloc
    # arenas settle over two or three), so growth counts over the last three rounds.
    depth = 200_000  # 400,000 op nodes a round (the number 0.5 is kept in the `*` node)
    done = subprocess.run(
        [sys.executable, "-c", REPEAT_CHILD, engine, str(depth)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    after = json.loads(done.stdout)
    growth = after[-1] - after[-4]
    assert growth < 3 * depth, f"resident memory after each round: {after}"
