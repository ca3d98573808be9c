"""Sizes that come from outside (length hints, input counts, batch sizes, thread counts, bytes
read back) never end the interpreter: each case runs in a child interpreter under an address-space
limit, so an abort fails one test instead of the run, and must end in a Python exception naming
the problem or in the right number."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

resource = pytest.importorskip("resource")  # RLIMIT_AS is POSIX

LIMIT = 1536 * 2**20  # bytes of address space the child may map


def run_child(
    code: str, limit: int = LIMIT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter whose address space is capped at ``limit`` bytes."""
    prologue = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
        import numpy as np
        import ferrograd as fg
        """
    )
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(code)],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def expect(code: str, *lines: str, limit: int = LIMIT) -> None:
    """The child exits 0 and prints ``lines``: never a signal, never a traceback."""
    result = run_child(code, limit)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.splitlines() == list(lines), result.stderr[-2000:]


def test_a_broadcast_array_of_2_to_the_40_gives_memory_error_in_sum() -> None:
    expect(
        """
        try:
            fg.sum(np.broadcast_to(1.0, (2**40,)))
        except MemoryError as err:
            print("MemoryError", "sum()" in str(err) and "bytes" in str(err))
        """,
        "MemoryError True",
    )


def test_range_2_to_the_61_is_memory_error_not_a_panic() -> None:
    expect(
        """
        try:
            fg.sum(range(2**61))
        except MemoryError as err:
            print("MemoryError", "sum()" in str(err))
        """,
        "MemoryError True",
    )


def test_a_lying_length_hint_is_only_a_hint() -> None:
    expect(
        """
        class Liar:
            def __init__(self, items): self.items = items
            def __len__(self): return 2**40
            def __iter__(self): return iter(self.items)
        print(fg.dot(Liar([1.0, 2.0, 3.0]), Liar([4.0, 5.0, 6.0])).data)
        print(fg.sum(Liar([1.0, 2.0])).data)
        class Broken:
            def __len__(self): raise RuntimeError("no length")
            def __iter__(self): return iter([1.0, 2.0])
        print(fg.sum(Broken()).data)
        """,
        "32.0",
        "3.0",
        "3.0",
    )


def test_a_hessian_of_a_million_inputs_is_memory_error_naming_its_size() -> None:
    expect(
        """
        tape = fg.compile(lambda *xs: fg.sum(xs), 10**6)
        try:
            tape.hessian(np.ones(10**6))
        except MemoryError as err:
            print(err)
        """,
        "cannot allocate 8000000000000 bytes for the Hessian",
        limit=3 * 2**30,
    )


def test_threads_above_the_cores_are_clamped_so_scratch_stays_bounded() -> None:
    # 300 threads with a 7 MB scratch block each needed 2.1 GB here; clamped to the cores it fits.
    expect(
        """
        def f(x, y):
            z = x
            for _ in range(7000):
                z = (z * y).tanh() + x
            return z
        tape = fg.compile(f, 2)
        xs = np.random.default_rng(0).uniform(-1, 1, (32 * 300, 2))
        values, grads = tape.grad_batch(xs, threads=1000)
        one_values, one_grads = tape.grad_batch(xs, threads=1)
        print(np.array_equal(values, one_values), np.array_equal(grads, one_grads))
        print(np.array_equal(tape.eval_batch(xs, threads=10**30), one_values))
        """,
        "True True",
        "True",
    )


def test_a_huge_bytes_header_is_a_value_error() -> None:
    expect(
        """
        import struct
        for data in [
            b"FGT1" + struct.pack("<QIQ", 1, 0, 2**62),
            b"FGT1" + struct.pack("<QIQQ", 2**62, 0, 0, 2**62),
            b"FGV1" + struct.pack("<Q", 2**62),
        ]:
            try:
                (fg._core.Tape.from_bytes if data[:4] == b"FGT1" else fg._core._value_from_bytes)(data)
            except ValueError as err:
                print("ValueError", "truncated" in str(err) or "length" in str(err))
        """,
        "ValueError True",
        "ValueError True",
        "ValueError True",
    )


def test_exact_lengths_beyond_memory_are_memory_error_without_an_address_space_limit() -> None:
    # No RLIMIT_AS here: on an overcommitting system only a single request beyond the machine's
    # memory is refused, so a list, tuple or range whose nodes cannot fit must be refused up
    # front rather than built until the out-of-memory killer ends the process.
    code = """
        import ferrograd as fg
        for what in (range(2**61), range(2**40)):
            try:
                fg.sum(what)
            except MemoryError as err:
                print("MemoryError", "sum()" in str(err))
            try:
                fg.dot(what, what)
            except MemoryError as err:
                print("MemoryError", "dot()" in str(err))
        print(fg.sum(range(1000)).data)
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.splitlines() == ["MemoryError True"] * 4 + ["499500.0"]
