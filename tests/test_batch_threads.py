"""Batches on several threads: the worker threads the core keeps between calls give the numbers
one thread gives, from any Python thread, and survive ``os.fork`` (each case in a child
interpreter, so a deadlock or an abort fails one test, by its timeout, instead of the run)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import ferrograd

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="os.fork")


def w4(*x: ferrograd.Value) -> ferrograd.Value:
    total: ferrograd.Value | float = 0.0
    for i in range(len(x)):
        total = total + (x[i] * x[(i + 1) % len(x)] - 0.5) ** 2 + x[i] / (1 + x[i] ** 2)
    assert isinstance(total, ferrograd.Value)
    return total


def test_every_thread_count_gives_the_bits_of_one_thread() -> None:
    tape = ferrograd.compile(w4, 10)
    for rows in (1, 31, 33, 500, 3000, 20_000):
        xs = np.random.default_rng(rows).standard_normal((rows, 10))
        one = tape.grad_batch(xs, threads=1)
        for threads in (2, 3, 8):
            many = tape.grad_batch(xs, threads=threads)
            assert many[0].tobytes() == one[0].tobytes(), (rows, threads)
            assert many[1].tobytes() == one[1].tobytes(), (rows, threads)


def test_python_threads_at_once_share_the_workers() -> None:
    tape = ferrograd.compile(w4, 10)
    xs = np.random.default_rng(7).standard_normal((5000, 10))
    expected = tape.grad_batch(xs, threads=1)[1].tobytes()
    wrong: list[int] = []

    def worker(k: int) -> None:
        for _ in range(30):
            if tape.grad_batch(xs, threads=2)[1].tobytes() != expected:
                wrong.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


FORK = textwrap.dedent(
    """
    import os, sys, threading
    import numpy as np
    import ferrograd

    def f(*x):
        total = 0.0
        for i in range(len(x)):
            total = total + (x[i] * x[(i + 1) % len(x)] - 0.5) ** 2 + x[i].sin()
        return total

    tape = ferrograd.compile(f, 10)
    xs = np.random.default_rng(1).standard_normal((20_000, 10))
    expected = tape.grad_batch(xs, threads=1)[1].tobytes()
    assert tape.grad_batch(xs, threads=2)[1].tobytes() == expected  # the workers exist now
    busy = threading.Event()
    stop = threading.Event()

    def keep_busy():
        while not stop.is_set():
            tape.grad_batch(xs, threads=2)
            busy.set()

    if sys.argv[1] == "busy":  # fork while another thread may be using the workers
        t = threading.Thread(target=keep_busy)
        t.start()
        busy.wait()
    pid = os.fork()
    if pid == 0:
        ok = all(tape.grad_batch(xs, threads=2)[1].tobytes() == expected for _ in range(5))
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    stop.set()
    assert os.waitstatus_to_exitcode(status) == 0, status
    assert tape.grad_batch(xs, threads=2)[1].tobytes() == expected
    print("ok")
    """
)


@pytest.mark.parametrize("when", ["idle", "busy"])
def test_a_forked_child_runs_batches_on_threads(when: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORK, when], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
