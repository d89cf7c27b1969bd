"""Hypothesis strategies shared by the unit tests (small shapes keep the run fast)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SETTINGS = dict(max_examples=30, deadline=None)


def floats32(lo: float = -10.0, hi: float = 10.0):
    return st.floats(lo, hi, width=32, allow_nan=False, allow_infinity=False)


def nonzero32(lo: float = 0.25, hi: float = 4.0):
    """Floats bounded away from zero (divisors, moduli)."""
    return st.one_of(floats32(-hi, -lo), floats32(lo, hi))


def arrays(shape, elements=None, dtype=np.float32):
    return hnp.arrays(dtype, shape, elements=elements if elements is not None else floats32())


small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


@st.composite
def broadcast_pair(draw, elements=None, rhs_elements=None):
    """Two float32 arrays whose shapes broadcast together."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3,
                                                    max_side=4)).input_shapes
    lhs = draw(arrays(shapes[0], elements))
    rhs = draw(arrays(shapes[1], rhs_elements if rhs_elements is not None else elements))
    return lhs, rhs


@st.composite
def array_and_axis(draw, elements=None, allow_none=True):
    """A float32 array and a valid axis (possibly negative, or None)."""
    x = draw(arrays(small_shapes, elements))
    axes = st.integers(-x.ndim, x.ndim - 1)
    axis = draw(st.one_of(st.none(), axes) if allow_none else axes)
    return x, axis


def distinct_values(shape) -> st.SearchStrategy:
    """An array of `shape` holding distinct values (no ties for sorting)."""
    n = int(np.prod(shape))
    return st.permutations(range(n)).map(
        lambda p: (np.asarray(p, dtype=np.float32) - n / 2).reshape(shape))
