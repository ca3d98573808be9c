"""``compile`` of more inputs than memory holds ends in a ``MemoryError`` that names the size, as
every allocation sized by a caller does."""

from __future__ import annotations

import pytest

import ferrograd


def test_compile_of_too_many_inputs_is_a_memory_error_naming_the_size() -> None:
    with pytest.raises(
        MemoryError, match=r"compile\(\) cannot allocate a point of 1,099,511,627,776"
    ):
        ferrograd.compile(lambda *x: x[0], 2**40)
