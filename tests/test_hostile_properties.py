"""Hypothesis: random length hints, thread counts and byte strings never end the interpreter
abnormally. The properties run in a child interpreter under an address-space limit, so an abort
or a segfault fails this test instead of killing the run."""

from __future__ import annotations

import textwrap

from test_hostile_input import run_child

PROPERTIES = textwrap.dedent(
    """
    import struct
    from hypothesis import HealthCheck, given, settings, strategies as st

    quick = settings(max_examples=150, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))

    class Hinted:
        def __init__(self, items, hint):
            self.items, self.hint = items, hint
        def __len__(self):
            return self.hint
        def __iter__(self):
            return iter(self.items)

    items = st.lists(st.floats(-1e6, 1e6), max_size=20)

    @quick
    @given(items, st.integers(0, 2**63 - 1))
    def sums_ignore_the_hint(xs, hint):
        assert fg.sum(Hinted(xs, hint)).data == fg.sum(xs).data
        assert fg.dot(Hinted(xs, hint), Hinted(xs, hint)).data == fg.dot(xs, xs).data

    tape = fg.compile(lambda x, y: (x * y).tanh() + x.exp(), 2)
    batch = np.random.default_rng(0).uniform(-1, 1, (70, 2))
    want = tape.grad_batch(batch, threads=1)

    @quick
    @given(st.integers(1, 2**200))
    def any_thread_count_gives_the_same_numbers(threads):
        values, grads = tape.grad_batch(batch, threads=threads)
        assert np.array_equal(values, want[0]) and np.array_equal(grads, want[1])

    good_tape = tape._tape.to_bytes()
    good_graph = (fg.Value(2.0, "a") * 3).exp().__reduce__()[1][0]

    def mutations():
        raw = st.binary(max_size=200)
        prefixed = st.tuples(st.sampled_from([b"FGT1", b"FGT2", b"FGV1"]), raw).map(b"".join)
        def edit(good):
            return st.tuples(st.integers(0, len(good)), st.binary(min_size=1, max_size=9)).map(
                lambda e: good[: e[0]] + e[1] + good[e[0] + len(e[1]):])
        return st.one_of(raw, prefixed, edit(good_tape), edit(good_graph))

    @quick
    @given(mutations())
    def bytes_read_back_are_a_tape_a_graph_or_value_error(data):
        for read in (fg._core.Tape.from_bytes, fg._core._value_from_bytes):
            try:
                read(data)
            except ValueError:
                pass

    sums_ignore_the_hint()
    any_thread_count_gives_the_same_numbers()
    bytes_read_back_are_a_tape_a_graph_or_value_error()
    print("ok")
    """
)


def test_random_hints_threads_and_bytes_never_end_the_process() -> None:
    result = run_child(PROPERTIES, timeout=300)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    assert result.stdout.splitlines() == ["ok"]
