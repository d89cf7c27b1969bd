"""Chapter 2, NDArray and contexts: the NDArray, its operators, sampling, errors."""

import operator
import re

import numpy as np
import pytest
from helpers import (
    SETTINGS,
    array_and_axis,
    arrays,
    broadcast_pair,
    distinct_values,
    floats32,
    nonzero32,
    small_shapes,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError

pytestmark = pytest.mark.ch02


def A(x, **kw):
    return nd.array(x, **kw)


def check(out, expected, rtol=1e-6, atol=1e-6):
    """`out` is an NDArray equal to `expected`, with MXNet's 'no 0-d arrays' shape rule."""
    expected = np.asarray(expected)
    if expected.ndim == 0:
        expected = expected.reshape(1)
    assert isinstance(out, nd.NDArray)
    assert out.shape == expected.shape
    assert_allclose(out.asnumpy(), expected, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- basics

def test_array_defaults_to_float32():
    assert A([1, 2]).dtype == np.float32
    assert A(np.arange(3, dtype=np.int64)).dtype == np.float32
    assert A(np.ones(3, dtype=np.float64)).dtype == np.float32
    assert A([1, 2], dtype='int32').dtype == np.int32
    assert A(np.ones(2), dtype=np.float64).dtype == np.float64
    assert A(A([1, 2], dtype='int32')).dtype == np.int32   # from an NDArray: keeps dtype


def test_repr_and_attributes():
    x = A([[1, 2, 3], [4, 5, 6]])
    assert repr(x) == '\n[[1. 2. 3.]\n [4. 5. 6.]]\n<NDArray 2x3 @cpu(0)>'
    assert (x.shape, x.size, x.ndim, x.dtype) == ((2, 3), 6, 2, np.float32)
    assert x.context is mx.cpu(0) and x.ctx is mx.cpu(0)
    assert repr(nd.zeros(4, ctx=mx.cpu(1))).endswith('<NDArray 4 @cpu(1)>')


def test_asnumpy_copies_and_asscalar():
    x = A([1, 2, 3])
    x.asnumpy()[0] = 100
    assert_array_equal(x.asnumpy(), [1, 2, 3])
    src = np.array([1., 2.])
    y = A(src)
    src[0] = 9
    assert y.asnumpy()[0] == 1
    v = A([2.5]).asscalar()
    assert v == 2.5 and isinstance(v, np.float32)
    assert float(A([[3]])) == 3.0 and int(A([7])) == 7
    with pytest.raises(ValueError, match=r'\(2, 3\).*6 elements'):
        nd.zeros((2, 3)).asscalar()


def test_astype_copy_and_copyto():
    x = A([1.7, -2.2])
    y = x.astype('int32')
    assert y.dtype == np.int32 and y.asnumpy().tolist() == [1, -2]
    assert x.astype('float32', copy=False) is x
    assert x.astype('float32') is not x
    c = x.copy()
    c[:] = 0
    assert x.asnumpy().tolist() == pytest.approx([1.7, -2.2])
    assert c.context is x.context
    x = A([1, 2, 3])
    y = x.copyto(mx.cpu(1))
    assert y.context is mx.cpu(1) and y.asnumpy().tolist() == [1, 2, 3]
    y[:] = 0
    assert x.asnumpy().tolist() == [1, 2, 3]
    target = nd.zeros(3, ctx=mx.cpu(2))
    assert x.copyto(target) is target
    assert target.context is mx.cpu(2) and target.asnumpy().tolist() == [1, 2, 3]
    with pytest.raises(MXNetError, match=r'copyto.*\(3,\).*\(4,\)'):
        x.copyto(nd.zeros(4))


def test_as_in_context():
    x = A([1, 2])
    assert x.as_in_context(mx.cpu(0)) is x
    y = x.as_in_context(mx.cpu(1))
    assert y is not x and y.context is mx.cpu(1)
    y[:] = 5
    assert x.asnumpy().tolist() == [1, 2]


def test_creation_functions():
    z = nd.zeros((2, 3), ctx=mx.cpu(1), dtype='int32')
    assert z.shape == (2, 3) and z.dtype == np.int32 and z.context is mx.cpu(1)
    assert z.asnumpy().sum() == 0
    o = nd.ones(4)
    assert o.dtype == np.float32 and o.asnumpy().tolist() == [1] * 4
    f = nd.full((2, 2), 7, dtype='float64')
    assert f.dtype == np.float64 and (f.asnumpy() == 7).all()
    e = nd.empty((3, 1), ctx=mx.cpu(2))
    assert e.shape == (3, 1) and e.dtype == np.float32 and e.context is mx.cpu(2)
    assert_array_equal(nd.arange(5).asnumpy(), np.arange(5, dtype=np.float32))
    assert nd.arange(5).dtype == np.float32
    assert_array_equal(nd.arange(1, 2, 0.25).asnumpy(), [1, 1.25, 1.5, 1.75])
    r = nd.arange(0, 3, repeat=2, ctx=mx.cpu(1), dtype='int32')
    assert r.asnumpy().tolist() == [0, 0, 1, 1, 2, 2]
    assert r.dtype == np.int32 and r.context is mx.cpu(1)
    src = nd.ones((2, 1), ctx=mx.cpu(1), dtype='int32')
    for like, val in ((nd.zeros_like(src), 0), (nd.ones_like(src), 1)):
        assert (like.shape, like.dtype, like.context) == ((2, 1), np.int32, mx.cpu(1))
        assert (like.asnumpy() == val).all()


def test_creation_uses_current_context():
    with mx.cpu(1):
        assert nd.zeros(2).context is mx.cpu(1)
        assert A([1]).context is mx.cpu(1)
        assert nd.arange(3).context is mx.cpu(1)
    assert nd.zeros(2).context is mx.cpu(0)


# ----------------------------------------------------------------------- MXNet semantics

def test_no_zero_dim_results_and_float32_indices():
    x = nd.arange(12).reshape((3, 4))
    assert x[1, 2].shape == (1,) and x[1, 2].asscalar() == 6
    assert x.sum().shape == (1,) and x.sum().asscalar() == 66
    assert x.max().shape == (1,) and x.max().asscalar() == 11
    v = A([1, 2, 3])
    assert nd.dot(v, v).shape == (1,) and nd.dot(v, v).asscalar() == 14
    x = A([[1, 5, 2], [7, 0, 3]])   # index results are float32, as in MXNet
    for out, expected in ((x.argmax(axis=1), [1, 0]), (x.argmin(axis=1), [0, 1]),
                          (x.topk(k=2), [[1, 2], [0, 2]])):
        assert out.dtype == np.float32 and out.asnumpy().tolist() == expected


@pytest.mark.parametrize('dtype', ['float32', 'int32'])
def test_comparisons_return_input_dtype(dtype):
    x = A([1, 4, 2, 8], dtype=dtype)
    m = x > 3
    assert m.dtype == np.dtype(dtype) and m.asnumpy().tolist() == [0, 1, 0, 1]
    assert (x == x).dtype == np.dtype(dtype)
    assert ((x > 3) * 5.0).asnumpy().tolist() == [0, 5, 0, 5]


def test_slices_and_reshape_are_views_index_arrays_copy():
    x = nd.arange(6).reshape((2, 3))
    x[1:][:] = -1
    row = x[0]
    row[:] = 9
    x.reshape((6,))[1] = 100
    assert x.asnumpy().tolist() == [[9, 100, 9], [-1, -1, -1]]
    x = nd.arange(6).reshape((2, 3))   # advanced indexing copies
    picked = x[A([1, 0])]
    assert picked.asnumpy().tolist() == [[3, 4, 5], [0, 1, 2]]
    picked[:] = 0
    x[[0]][:] = 0
    assert x.asnumpy().tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize('src, codes, expected', [   # the examples of MXNet's docs
    ((2, 3, 4), (4, 0, 2), (4, 3, 2)), ((2, 3, 4), (2, 0, 0), (2, 3, 4)),
    ((2, 3, 4), (6, 1, -1), (6, 1, 4)), ((2, 3, 4), (3, -1, 8), (3, 1, 8)),
    ((2, 3, 4), (-1,), (24,)), ((2, 3, 4), (-2,), (2, 3, 4)),
    ((2, 3, 4), (2, -2), (2, 3, 4)), ((2, 3, 4), (-2, 1, 1), (2, 3, 4, 1, 1)),
    ((2, 3, 4), (-3, 4), (6, 4)), ((2, 3, 4, 5), (-3, -3), (6, 20)),
    ((2, 3, 4), (0, -3), (2, 12)), ((2, 3, 4), (-3, -2), (6, 4)),
    ((2, 3, 4), (-4, 1, 2, -2), (1, 2, 3, 4)), ((2, 3, 4), (2, -4, -1, 3, -2), (2, 1, 3, 4)),
])
def test_reshape_special_codes(src, codes, expected):
    x = nd.arange(int(np.prod(src))).reshape(src)
    y = x.reshape(codes)
    assert y.shape == expected
    assert_array_equal(y.asnumpy().ravel(), np.arange(np.prod(src)))
    assert nd.reshape(x, shape=codes).shape == expected


def test_reshape_reverse_and_call_forms():
    x = nd.zeros((10, 5, 4))
    assert x.reshape((-1, 0)).shape == (40, 5)
    assert x.reshape((-1, 0), reverse=True).shape == (50, 4)
    assert nd.zeros((2, 3, 4)).reshape((0, -1), reverse=True).shape == (3, 8)
    assert x.reshape(20, 10).shape == (20, 10)


def test_concat_split_flatten_defaults():
    a, b = nd.ones((2, 3)), nd.zeros((2, 2))
    assert nd.concat(a, b).shape == (2, 5)
    parts = nd.arange(12).reshape((2, 6)).split(3)
    assert len(parts) == 3 and parts[1].asnumpy().tolist() == [[2, 3], [8, 9]]
    sq = nd.split(nd.arange(6).reshape((2, 3)), 3, squeeze_axis=True)
    assert [p.shape for p in sq] == [(2,)] * 3 and sq[2].asnumpy().tolist() == [2, 5]
    assert nd.zeros((2, 3, 4)).flatten().shape == (2, 12)
    assert nd.Flatten(nd.zeros((5, 1, 2, 2))).shape == (5, 4)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
@settings(**SETTINGS)
def test_dot_contracts_last_with_first_axis(m, k, n, p):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a = rng.standard_normal((m, p, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    check(nd.dot(A(a), A(b)), np.tensordot(a, b, axes=1), rtol=1e-5)
    c = rng.standard_normal((k, n, p)).astype(np.float32)
    check(nd.dot(A(a), A(c)), np.tensordot(a, c, axes=1), rtol=1e-5, atol=1e-5)


def test_scalar_ops_keep_int32():
    x = A([1, 2, 7], dtype='int32')
    for y in (x + 1, x - 1, x * 3, x / 2, x ** 2, 10 - x, 2 * x, x % 3):
        assert y.dtype == np.int32
    assert (x / 2).asnumpy().tolist() == [0, 1, 3]
    assert (x * 3).asnumpy().tolist() == [3, 6, 21]


def test_int_scalar_is_cast_to_array_dtype():
    assert (A([3, 5], dtype='int32') * 2.5).asnumpy().tolist() == [6, 10]


@pytest.mark.parametrize('op', [operator.iadd, operator.isub, operator.imul,
                                operator.itruediv])
def test_inplace_ops_write_into_the_same_buffer(op):
    x = nd.arange(1, 7).reshape((2, 3))
    view = x[1]
    expected = op(x.asnumpy(), np.float32(2))
    y = op(x, 2)
    assert y is x
    assert_allclose(x.asnumpy(), expected)
    assert_allclose(view.asnumpy(), expected[1])
    z = op(x, nd.ones(3))   # broadcasting rhs is fine, the shape stays
    assert z is x
    with pytest.raises(MXNetError, match='in place.*cannot change the shape'):
        op(nd.ones(3), nd.ones((2, 3)))


# --------------------------------------------------------------- operators vs NumPy

F, POS, SMALL = floats32(), floats32(0.5, 3.0), floats32(-2.0, 2.0)
BINARY = {   # name: (op, NumPy reference, lhs elements, rhs elements)
    'add': (nd.add, operator.add, F, F), 'subtract': (nd.subtract, operator.sub, F, F),
    'multiply': (nd.multiply, operator.mul, F, F),
    'divide': (nd.divide, operator.truediv, F, nonzero32()),
    'power': (nd.power, np.power, POS, SMALL),
    # signs of modulo: see test_mod_follows_divisor_sign
    'modulo': (nd.modulo, np.mod, floats32(0, 20), POS),
    'maximum': (nd.maximum, np.maximum, F, F), 'minimum': (nd.minimum, np.minimum, F, F),
}
INTS = st.integers(-3, 3)   # small integers so that comparisons see equal values
COMPARE = {
    'equal': (nd.equal, np.equal), 'not_equal': (nd.not_equal, np.not_equal),
    'greater': (nd.greater, np.greater), 'greater_equal': (nd.greater_equal, np.greater_equal),
    'lesser': (nd.lesser, np.less), 'lesser_equal': (nd.lesser_equal, np.less_equal),
}


@pytest.mark.parametrize('name', list(BINARY))
@given(data=st.data())
@settings(**SETTINGS)
def test_binary_ops_broadcast_like_numpy(name, data):
    op, ref, lhs_el, rhs_el = BINARY[name]
    a, b = data.draw(broadcast_pair(lhs_el, rhs_el))
    check(op(A(a), A(b)), ref(a, b), rtol=1e-5)
    s = data.draw(rhs_el)
    check(op(A(a), s), ref(a, np.float32(s)), rtol=1e-5)
    r = data.draw(lhs_el)
    check(op(r, A(b)), ref(np.float32(r), b), rtol=1e-5)


@pytest.mark.parametrize('name', list(COMPARE))
@given(data=st.data())
@settings(**SETTINGS)
def test_comparisons_broadcast_like_numpy(name, data):
    op, ref = COMPARE[name]
    a, b = data.draw(broadcast_pair(INTS))
    check(op(A(a), A(b)), ref(a, b).astype(np.float32))
    s = float(data.draw(INTS))
    check(op(A(a), s), ref(a, s).astype(np.float32))
    check(op(s, A(b)), ref(s, b).astype(np.float32))


def test_python_operators_map_to_nd_ops():
    a, b = A([1., -2., 6.]), A([3., 4., -4.])
    na, nb = a.asnumpy(), b.asnumpy()
    check(-a, -na)
    check(a ** 2, na ** 2)
    check(2 ** a, 2 ** na)
    check(1 / b, 1 / nb)
    check(a >= b, (na >= nb).astype(np.float32))
    check(3 < a, (3 < na).astype(np.float32))
    check(abs(b), np.abs(nb))


def test_mod_follows_divisor_sign():
    check(A([-1., 5., 1.]) % A([3., -3., -3.]), [2., -1., -2.])


UNARY = [
    (nd.exp, np.exp, floats32(-5, 5)), (nd.log, np.log, floats32(0.125, 100)),
    (nd.sqrt, np.sqrt, floats32(0, 100)), (nd.square, np.square, floats32()),
    (nd.abs, np.abs, floats32()), (nd.sign, np.sign, st.integers(-2, 2)),
    (nd.relu, lambda x: np.maximum(x, 0), floats32()),
    (nd.sigmoid, lambda x: 1 / (1 + np.exp(-x.astype(np.float64))), floats32(-30, 30)),
    (nd.tanh, np.tanh, floats32(-5, 5)),
]


@pytest.mark.parametrize('op, ref, elements', UNARY, ids=[u[0].name for u in UNARY])
@given(data=st.data())
@settings(**SETTINGS)
def test_unary_ops_match_numpy(op, ref, elements, data):
    x = data.draw(arrays(small_shapes, elements))
    out = op(A(x))
    assert out.dtype == np.float32
    check(out, ref(x), rtol=1e-5, atol=1e-7)


@given(arrays(small_shapes), floats32(-5, 0), floats32(0, 5))
@settings(**SETTINGS)
def test_clip(x, lo, hi):
    check(nd.clip(A(x), lo, hi), np.clip(x, lo, hi))
    check(A(x).clip(a_min=lo, a_max=hi), np.clip(x, lo, hi))
    check(nd.sigmoid(A([-1e4, 0, 1e4])), [0, 0.5, 1])   # no overflow at the extremes


@pytest.mark.parametrize('name', ['sum', 'mean', 'max', 'min', 'prod'])
@given(xa=array_and_axis(floats32(0.5, 1.5)), keepdims=st.booleans(),
       exclude=st.booleans())
@settings(**SETTINGS)
def test_reductions(name, xa, keepdims, exclude):
    x, axis = xa
    exclude = exclude and axis is not None   # without axes MXNet ignores exclude (below)
    axes = tuple(range(x.ndim)) if axis is None else (axis % x.ndim,)
    if exclude:
        axes = tuple(a for a in range(x.ndim) if a not in axes)
        assume(axes)
    ref = getattr(np, name)(x, axis=axes, keepdims=keepdims)
    out = getattr(nd, name)(A(x), axis=axis, keepdims=keepdims, exclude=exclude)
    check(out, ref, rtol=1e-5)
    assert out.dtype == np.float32


def test_reduce_exclude_without_axis_reduces_all():
    check(nd.ones((2, 3)).sum(exclude=True), [6.])


@given(xa=array_and_axis(), keepdims=st.booleans(), ord=st.sampled_from([1, 2]))
@settings(**SETTINGS)
def test_norm(xa, keepdims, ord):
    x, axis = xa
    ref = np.abs(x) if ord == 1 else x.astype(np.float64) ** 2
    ref = ref.sum(axis=axis, keepdims=keepdims)
    ref = ref if ord == 1 else np.sqrt(ref)
    check(nd.norm(A(x), ord=ord, axis=axis, keepdims=keepdims), ref, rtol=1e-5, atol=1e-5)


@given(array_and_axis(allow_none=True))
@settings(**SETTINGS)
def test_argmax_argmin(xa):
    x, axis = xa
    check(nd.argmax(A(x), axis=axis), np.argmax(x, axis=axis).astype(np.float32))
    check(A(x).argmin(axis=axis), np.argmin(x, axis=axis).astype(np.float32))


@pytest.mark.parametrize('ta, tb', [(False, False), (True, False), (False, True),
                                    (True, True)])
def test_dot_and_batch_dot_transpose_flags(ta, tb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    a_in, b_in = (a.T.copy() if ta else a), (b.T.copy() if tb else b)
    check(nd.dot(A(a_in), A(b_in), transpose_a=ta, transpose_b=tb), a @ b, rtol=1e-5)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    y = rng.standard_normal((2, 4, 5)).astype(np.float32)
    x_in = x.transpose(0, 2, 1).copy() if ta else x
    y_in = y.transpose(0, 2, 1).copy() if tb else y
    check(nd.batch_dot(A(x_in), A(y_in), transpose_a=ta, transpose_b=tb), x @ y, rtol=1e-5)


@given(data=st.data())
@settings(**SETTINGS)
def test_stack_concat_split(data):
    shape = data.draw(small_shapes)
    xs = [data.draw(arrays(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(nd.stack(*[A(x) for x in xs], axis=axis), np.stack(xs, axis=axis))
    dim = data.draw(st.integers(0, len(shape) - 1))
    check(nd.concat(*[A(x) for x in xs], dim=dim), np.concatenate(xs, axis=dim))
    n = data.draw(st.sampled_from([d for d in range(1, shape[dim] + 1) if shape[dim] % d == 0]))
    parts = nd.split(A(xs[0]), num_outputs=n, axis=dim)
    parts = parts if isinstance(parts, list) else [parts]
    for got, ref in zip(parts, np.split(xs[0], n, axis=dim), strict=True):
        check(got, ref)


def test_where_and_shape_operators():
    cond = A([[1, 0, 2], [0, 0, 1]])
    x, y = nd.arange(6).reshape((2, 3)), -nd.arange(6).reshape((2, 3))
    check(nd.where(cond, x, y), np.where(cond.asnumpy() != 0, x.asnumpy(), y.asnumpy()))
    check(nd.where(A([0, 1]), x, y), [[0, -1, -2], [3, 4, 5]])
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    X = A(x)
    check(X.transpose(), x.transpose())
    check(nd.transpose(X, axes=(1, 0, 2)), x.transpose(1, 0, 2))
    check(X.T, x.T)
    check(nd.swapaxes(X, 0, 2), np.swapaxes(x, 0, 2))
    check(X.swapaxes(dim1=1, dim2=-1), np.swapaxes(x, 1, -1))
    check(nd.expand_dims(X, axis=1), x[:, None])
    check(X.expand_dims(-1), x[..., None])
    check(nd.zeros((1, 3, 1)).squeeze(), np.zeros(3))
    check(nd.squeeze(nd.zeros((1, 3, 1)), axis=2), np.zeros((1, 3)))
    check(X.flatten(), x.reshape(2, 12))
    check(nd.tile(X, reps=(2, 1, 1)), np.tile(x, (2, 1, 1)))
    check(nd.tile(A([1, 2]), (3,)), np.tile([1, 2], 3))
    check(X.repeat(repeats=2, axis=1), np.repeat(x, 2, axis=1))
    check(nd.repeat(A([[1, 2], [3, 4]]), 2), [1, 1, 2, 2, 3, 3, 4, 4])
    check(nd.flip(X, axis=1), x[:, ::-1])
    check(X.flip(axis=(0, 2)), x[::-1, :, ::-1])


@pytest.mark.parametrize('mode', ['clip', 'wrap'])
@pytest.mark.parametrize('axis', [0, 1, -1])
def test_take(mode, axis):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    idx = np.array([[0, 5], [-1, 2], [-6, 3]], dtype=np.float32)
    check(nd.take(A(a), A(idx), axis=axis, mode=mode),
          np.take(a, idx.astype(int), axis=axis, mode=mode))


@given(data=st.data())
@settings(**SETTINGS)
def test_pick(data):
    x, axis = data.draw(array_and_axis(allow_none=False))
    n = x.shape[axis]
    idx_shape = x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]
    idx = data.draw(arrays(idx_shape, st.integers(0, n - 1)))
    keepdims = data.draw(st.booleans())
    ref = np.take_along_axis(x, np.expand_dims(idx.astype(int), axis), axis=axis)
    ref = ref if keepdims else ref.squeeze(axis)
    check(nd.pick(A(x), A(idx), axis=axis, keepdims=keepdims), ref)


def test_pick_clips_out_of_range():
    x = A([[1, 2, 3], [4, 5, 6]])
    check(x.pick(A([5, -2])), [3, 4])
    check(nd.pick(x, A([1, 2, 0]), axis=0), [4, 5, 3])


@pytest.mark.parametrize('ret_typ', ['indices', 'value', 'both', 'mask'])
@pytest.mark.parametrize('is_ascend', [False, True])
@given(data=st.data())
@settings(**SETTINGS)
def test_topk(ret_typ, is_ascend, data):
    shape = data.draw(small_shapes)
    x = data.draw(distinct_values(shape))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    k = data.draw(st.integers(1, x.shape[axis]))
    order = np.argsort(x if is_ascend else -x, axis=axis)
    idx = np.take(order, np.arange(k), axis=axis)
    vals = np.take_along_axis(x, idx, axis=axis)
    out = nd.topk(A(x), axis=axis, k=k, ret_typ=ret_typ, is_ascend=is_ascend)
    if ret_typ == 'indices':
        check(out, idx.astype(np.float32))
        assert out.dtype == np.float32
    elif ret_typ == 'value':
        check(out, vals)
    elif ret_typ == 'both':
        check(out[0], vals)
        check(out[1], idx.astype(np.float32))
    else:
        mask = np.zeros_like(x)
        np.put_along_axis(mask, idx, 1, axis=axis)
        check(out, mask)


def test_topk_axis_none_flattens():
    check(nd.topk(A([[1, 5, 3], [4, 2, 6]]), axis=None, k=2), [5, 1])


def test_one_hot():
    idx = A([[0, 2], [3, 1]])
    check(nd.one_hot(idx, 3), np.eye(3, dtype=np.float32)[[0, 2, 0, 1]].reshape(2, 2, 3)
          * np.array([1, 1, 0, 1]).reshape(2, 2, 1))
    out = nd.one_hot(A([1, -1, 5]), depth=4, on_value=7, off_value=-1, dtype='int32')
    assert out.dtype == np.int32
    check(out, [[-1, 7, -1, -1], [-1, -1, -1, -1], [-1, -1, -1, -1]])


def _softmax_ref(x, axis, t=1.0):
    z = x.astype(np.float64) / t
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True), z - np.log(e.sum(axis=axis, keepdims=True))


@given(xa=array_and_axis(allow_none=False), t=st.sampled_from([None, 0.5, 2.0]))
@settings(**SETTINGS)
def test_softmax_log_softmax(xa, t):
    x, axis = xa
    sm, lsm = _softmax_ref(x, axis, t or 1.0)
    check(nd.softmax(A(x), axis=axis, temperature=t), sm, rtol=1e-5)
    check(nd.log_softmax(A(x), axis=axis, temperature=t), lsm, rtol=1e-5, atol=1e-5)


def test_softmax_huge_logits_are_finite():
    x = A([[1e4, -1e4, 0], [-1e4, -1e4, -1e4]])
    s, ls = nd.softmax(x).asnumpy(), x.log_softmax().asnumpy()
    assert np.isfinite(s).all() and np.isfinite(ls).all()
    assert_allclose(s, [[1, 0, 0], [1 / 3] * 3], atol=1e-7)
    assert_allclose(ls, [[0, -2e4, -1e4], [-np.log(3)] * 3], rtol=1e-6)


@pytest.mark.parametrize('flatten', [True, False])
@pytest.mark.parametrize('no_bias', [True, False])
def test_fully_connected(flatten, no_bias):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    in_units = 12 if flatten else 4
    w = rng.standard_normal((5, in_units)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    ref = (x.reshape(2, -1) if flatten else x) @ w.T + (0 if no_bias else b)
    out = nd.FullyConnected(A(x), A(w), A(b), num_hidden=5, no_bias=no_bias, flatten=flatten)
    check(out, ref, rtol=1e-5, atol=1e-5)


def conv_loop(x, w, b, stride, pad, dilate, groups):
    """Direct-loop 2-D cross-correlation (MXNet's Convolution), NCHW."""
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, pad, dilate
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, f, oh, ow))
    fg = f // groups
    for o in range(f):
        g = o // fg
        for y in range(oh):
            for z in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, y * sh:y * sh + dh * (kh - 1) + 1:dh,
                           z * sw:z * sw + dw * (kw - 1) + 1:dw]
                out[:, o, y, z] = (patch * w[o]).sum(axis=(1, 2, 3))
        out[:, o] += 0 if b is None else b[o]
    return out


@pytest.mark.parametrize('cfg', [
    dict(stride=(1, 1), pad=(0, 0), dilate=(1, 1), groups=1),
    dict(stride=(2, 1), pad=(1, 2), dilate=(1, 1), groups=1),
    dict(stride=(1, 2), pad=(1, 1), dilate=(2, 1), groups=1),
    dict(stride=(1, 1), pad=(0, 1), dilate=(1, 1), groups=2),
    dict(stride=(2, 2), pad=(2, 2), dilate=(2, 2), groups=4, bias=False),
])
def test_convolution_against_loops(cfg):
    rng = np.random.default_rng(2)
    groups, use_bias = cfg['groups'], cfg.get('bias', True)
    x = rng.standard_normal((2, 4, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 4 // groups, 3, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32) if use_bias else None
    out = nd.Convolution(A(x), A(w), A(b) if use_bias else None, kernel=(3, 2),
                         stride=cfg['stride'], pad=cfg['pad'], dilate=cfg['dilate'],
                         num_filter=4, num_group=groups, no_bias=not use_bias)
    check(out, conv_loop(x, w, b, cfg['stride'], cfg['pad'], cfg['dilate'], groups),
          rtol=1e-4, atol=1e-5)


def pool_loop(x, kernel, stride, pad, pool_type, convention='valid', count_include_pad=True):
    """Direct-loop pooling following MXNet's pool.h (Caffe's window and divisor rules)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad

    def size(d, k, s, p):
        return (d + 2 * p - k) // s + 1 if convention == 'valid' else -(-(d + 2 * p - k) // s) + 1
    oh, ow = size(h, kh, sh, ph), size(w, kw, sw, pw)
    out = np.zeros((n, c, oh, ow))
    for y in range(oh):
        for z in range(ow):
            hs, ws = y * sh - ph, z * sw - pw
            he, we = min(hs + kh, h + ph), min(ws + kw, w + pw)
            pool_size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            win = x[:, :, hs:he, ws:we]
            if pool_type == 'max':
                out[:, :, y, z] = win.max(axis=(2, 3))
            elif pool_type == 'sum':
                out[:, :, y, z] = win.sum(axis=(2, 3))
            else:
                count = pool_size if count_include_pad else (he - hs) * (we - ws)
                out[:, :, y, z] = win.sum(axis=(2, 3)) / count
    return out


@pytest.mark.parametrize('pool_type, kernel, stride, pad, conv, cip', [
    ('max', (2, 2), (2, 2), (0, 0), 'valid', True),
    ('max', (3, 3), (1, 2), (1, 1), 'valid', True),
    ('avg', (3, 3), (1, 1), (1, 1), 'valid', True),
    ('avg', (3, 2), (2, 1), (1, 1), 'valid', False),
    ('sum', (2, 3), (1, 2), (0, 1), 'valid', True),
    ('max', (2, 2), (2, 2), (0, 0), 'full', True),
    ('sum', (3, 2), (2, 2), (1, 0), 'full', True),
    ('avg', (2, 2), (2, 2), (0, 0), 'full', True),
    ('avg', (2, 2), (2, 2), (0, 0), 'full', False),
    ('avg', (3, 3), (2, 2), (1, 1), 'full', True),
    ('avg', (3, 3), (2, 2), (1, 1), 'full', False),
], ids=lambda v: str(v).replace(' ', ''))
def test_pooling_against_loops(pool_type, kernel, stride, pad, conv, cip):
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 6)).astype(np.float32)
    out = nd.Pooling(A(x), kernel=kernel, pool_type=pool_type, stride=stride, pad=pad,
                     pooling_convention=conv, count_include_pad=cip)
    check(out, pool_loop(x, kernel, stride, pad, pool_type, conv, cip), rtol=1e-5,
          atol=1e-6)


@pytest.mark.parametrize('pool_type, ref', [('max', np.max), ('avg', np.mean),
                                            ('sum', np.sum)])
def test_global_pooling(pool_type, ref):
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5)).astype(np.float32)
    out = nd.Pooling(A(x), kernel=(2, 2), pool_type=pool_type, global_pool=True)
    check(out, ref(x, axis=(2, 3), keepdims=True), rtol=1e-5)


def test_pooling_stride_defaults_to_one():
    assert nd.Pooling(nd.ones((1, 1, 3, 3)), kernel=(2, 2)).shape == (1, 1, 2, 2)


# ------------------------------------------------------------------------------- random

SAMPLERS = [lambda ctx: nd.random.uniform(-1, 2, shape=(4, 5), ctx=ctx),
            lambda ctx: mx.random.normal(1, 2, shape=(20,), ctx=ctx),
            lambda ctx: nd.random.randint(0, 1000, shape=(20,), ctx=ctx)]


@pytest.mark.parametrize('draw', SAMPLERS)
def test_seed_makes_draws_reproducible_per_context(draw):
    mx.random.seed(42)
    first = draw(mx.cpu(0)).asnumpy()
    second = draw(mx.cpu(0)).asnumpy()
    mx.random.seed(42)
    assert_array_equal(draw(mx.cpu(0)).asnumpy(), first)
    mx.random.seed(42)
    draw(mx.cpu(1))                     # another context's stream does not interfere
    assert_array_equal(draw(mx.cpu(0)).asnumpy(), first)
    assert_array_equal(draw(mx.cpu(0)).asnumpy(), second)
    assert not np.array_equal(first, second)
    mx.random.seed(43)
    assert not np.array_equal(draw(mx.cpu(0)).asnumpy(), first)
    mx.random.seed(42)
    other = draw(mx.cpu(1))             # same seed, another context: another stream
    assert other.context is mx.cpu(1) and not np.array_equal(other.asnumpy(), first)


def test_random_ranges_and_dtypes():
    mx.random.seed(0)
    u = nd.random.uniform(-2, 3, shape=(4000,))
    assert u.dtype == np.float32 and u.shape == (4000,)
    v = u.asnumpy()
    assert v.min() >= -2 and v.max() < 3 and abs(v.mean() - 0.5) < 0.1
    g = nd.random.normal(5, 0.5, shape=(100, 40)).asnumpy()
    assert abs(g.mean() - 5) < 0.05 and abs(g.std() - 0.5) < 0.05
    r = nd.random.randint(3, 7, shape=(500,))
    assert r.dtype == np.int32
    assert set(r.asnumpy().tolist()) == {3, 4, 5, 6}
    assert nd.random.uniform(dtype='float64', shape=3).dtype == np.float64
    assert nd.random.uniform().shape == (1,)
    assert nd.random.normal().shape == (1,)
    assert nd.random.randint(0, 5).shape == (1,)
    with mx.cpu(2):
        assert nd.random.uniform(shape=2).context is mx.cpu(2)


# ----------------------------------------------------------------- NumPy and matplotlib

def test_numpy_asarray_gives_a_host_copy():
    x = A([[1, 2], [3, 4]])
    values = np.asarray(x)
    assert type(values) is np.ndarray and values.dtype == np.float32
    assert_array_equal(values, [[1, 2], [3, 4]])
    values[0, 0] = 100                               # a copy: x is unchanged
    assert_array_equal(x.asnumpy(), [[1, 2], [3, 4]])
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert_array_equal(np.array([x, x]), [[[1, 2], [3, 4]]] * 2)
    assert_allclose(np.exp(A([0, 1])), [1, np.e], rtol=1e-6)


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < '2.0.0',
                    reason="NumPy 1.x does not pass copy= to __array__")
def test_numpy_asarray_refuses_to_share_memory():
    with pytest.raises(ValueError, match=r'x\.asnumpy\(\)'):
        np.asarray(A([1, 2]), copy=False)


def test_numpy_reductions_call_the_ndarray_methods():
    x = A([[1, 2], [3, 6]])
    check(np.mean(x), 3.0)                           # not "unexpected argument dtype"
    check(np.sum(x), 12.0)
    check(np.max(x), 6.0)
    check(np.min(x), 1.0)
    check(np.prod(x), 36.0)
    check(np.argmax(x), 3.0)
    check(np.mean(x, axis=0), [2, 4])
    check(np.sum(x, axis=1, keepdims=True), [[3], [9]])
    assert_allclose(np.std(x), np.std([1, 2, 3, 6]), rtol=1e-6)   # via __array__
    raises(lambda: np.mean(x, dtype='float64'), 'mean', 'dtype=', 'np.mean(x.asnumpy()')
    raises(lambda: np.sum(x, out=np.zeros(1)), 'sum', 'out=', 'x.asnumpy()')
    raises(lambda: np.argmax(x, out=np.zeros(1)), 'argmax', 'out=', 'asnumpy()')


def test_numpy_scalars_defer_to_ndarray_operators():
    x = A([1, 2])
    for result in (np.float32(2) * x, np.float64(1) + x, np.int64(3) - x):
        assert isinstance(result, nd.NDArray) and result.dtype == np.float32
    check(np.float32(2) * x, [2, 4])
    check(np.int64(3) - x, [2, 1])
    check(np.float32(1) < x, [0, 1])                 # reflected: x > 1
    raises(lambda: np.ones(2) + x, 'broadcast_add', 'ndarray', 'nd.array(')


def test_matplotlib_plots_an_ndarray():
    plt = pytest.importorskip('matplotlib.pyplot')
    fig = plt.figure()
    try:
        (line,) = plt.plot(A([1, 4, 9]))
        assert_array_equal(line.get_xydata(), [[0, 1], [1, 4], [2, 9]])
        (line,) = plt.plot(A([0, 1, 2]), A([3, 2, 1]))
        assert_array_equal(line.get_xydata(), [[0, 3], [1, 2], [2, 1]])
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------- errors

def raises(fn, *fragments, exc=MXNetError):
    with pytest.raises(exc) as err:
        fn()
    for frag in fragments:
        assert frag in str(err.value), f'{frag!r} not in {str(err.value)!r}'


def test_error_messages():
    x = nd.ones((2, 3))
    raises(lambda: x + nd.ones((4,)), 'broadcast_add', '(2, 3)', '(4,)', 'reshape or expand_dims')
    raises(lambda: x * nd.ones((2, 3), dtype='int32'), 'broadcast_mul', 'float32', 'int32',
           "astype('float32')")
    raises(lambda: nd.ones(2, dtype='int32') + nd.ones(2), 'broadcast_add', 'int32',
           'float32', 'astype')
    raises(lambda: nd.ones(2) - nd.ones(2, ctx=mx.cpu(1)), 'broadcast_sub', 'cpu(0)',
           'cpu(1)', 'as_in_context')
    raises(lambda: x.reshape((-5, 6)), 'reshape', '-5', '0, -1, -2, -3, -4')
    raises(lambda: x.reshape((4, 2)), 'reshape', '(2, 3)', '(4, 2)')
    raises(lambda: x.sum(axis=2), 'sum', 'axis 2', 'valid axes are -2..1')
    raises(lambda: x.argmax(axis=-3), 'argmax', 'axis -3', 'valid axes')
    raises(lambda: x.topk(k=4), 'topk', 'k=4', '(2, 3)', 'at most 3')
    assert x.topk(k=0).shape == (2, 3)          # k < 1 sorts the whole axis, as MXNet
    raises(lambda: x.topk(ret_typ='idx'), 'topk', "'idx'", "'indices'")
    raises(lambda: nd.pick(x, nd.zeros(3)), 'pick', '(2, 3)', '(2,)', '(3,)')
    raises(lambda: nd.exp(np.ones(2)), 'exp', 'ndarray', 'nd.array(')
    raises(lambda: nd.ones(2) + [1, 2], 'broadcast_add', 'list', 'nd.array(')
    data = nd.ones((1, 3, 5, 5))
    raises(lambda: nd.Convolution(data, nd.ones((4, 3, 3, 3)), kernel=(3, 3), layout='NHWC'),
           'Convolution', 'NHWC', 'NCHW', 'transpose')
    raises(lambda: nd.Convolution(data, nd.ones((4, 2, 3, 3)), kernel=(3, 3), num_filter=4),
           'Convolution', '3 channels', '(4, 3, kh, kw)', '(4, 2, 3, 3)')
    raises(lambda: nd.Convolution(data, nd.ones((4, 3, 3, 3)), kernel=(2, 2)),
           'Convolution', '(2, 2)', '(4, 3, 3, 3)')
    raises(lambda: nd.ones((2, 1)).squeeze(axis=0), 'squeeze', 'axis 0', '(2, 1)',
           'only axes of size 1')
    raises(lambda: nd.ones((2, 5)).split(2), 'split', '(2, 5)', 'size 5', '2 equal parts')
    raises(lambda: nd.dot(x, x), 'dot', '(2, 3)', 'transpose')
    raises(lambda: nd.batch_dot(nd.ones((2, 3, 4)), nd.ones((2, 3, 4))), 'batch_dot',
           '(2, 3, 4)', 'transpose')
    raises(lambda: nd.FullyConnected(x, nd.ones((4, 5)), num_hidden=4), 'FullyConnected',
           '(2, 3)', '(4, 3)', '(4, 5)')
    raises(lambda: nd.where(nd.ones(3), x, x), 'where', '(2, 3)', '(3,)')


# ---------------------------------------------------------------------------------- GPU

@pytest.mark.gpu
class TestGPU:
    OPS = [lambda a, b: a + b * 2, lambda a, b: (a > b) * 5.0,
           lambda a, b: nd.dot(a, b.T), lambda a, b: nd.softmax(a, axis=0),
           lambda a, b: a.sum(axis=1, keepdims=True), lambda a, b: nd.topk(a, k=2),
           lambda a, b: nd.Pooling(a.reshape((1, 1, 3, 4)), kernel=(2, 2), stride=(1, 1)),
           lambda a, b: nd.Convolution(a.reshape((1, 1, 3, 4)), b[:1].reshape((1, 1, 2, 2)),
                                       kernel=(2, 2))]

    @pytest.mark.parametrize('op', OPS)
    def test_ops_match_cpu(self, op):
        rng = np.random.default_rng(5)
        a, b = (rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2))
        gpu = mx.gpu(0)
        got = op(A(a, ctx=gpu), A(b, ctx=gpu))
        assert got.context is gpu
        assert_allclose(got.asnumpy(), op(A(a), A(b)).asnumpy(), rtol=1e-5, atol=1e-5)

    def test_copies_between_contexts(self):
        gpu = mx.gpu(0)
        x = nd.arange(6)
        y = x.as_in_context(gpu)
        assert y.context is gpu and y.as_in_context(gpu) is y
        y[:] = 1
        assert x.asnumpy().tolist() == [0, 1, 2, 3, 4, 5]
        assert y.copyto(mx.cpu(1)).asnumpy().tolist() == [1] * 6
        target = nd.zeros(6, ctx=gpu)
        assert x.copyto(target) is target and target.asnumpy().tolist() == list(range(6))
        raises(lambda: x + y, 'broadcast_add', 'cpu(0)', 'gpu(0)', 'as_in_context')

    def test_numpy_functions_copy_gpu_arrays_to_the_host(self):
        x = A([[1, 2], [3, 6]], ctx=mx.gpu(0))
        values = np.asarray(x)
        assert type(values) is np.ndarray
        assert_array_equal(values, [[1, 2], [3, 6]])
        assert np.mean(x).context is mx.gpu(0)
        check(np.mean(x), 3.0)

    def test_random_is_reproducible_on_gpu(self):
        mx.random.seed(3)
        a = nd.random.uniform(shape=(5,), ctx=mx.gpu(0)).asnumpy()
        mx.random.seed(3)
        assert_array_equal(nd.random.uniform(shape=(5,), ctx=mx.gpu(0)).asnumpy(), a)


# ------------------------------------------------------------------------ host contexts

PINNED, SHARED = mx.Context('cpu_pinned', 0), mx.Context('cpu_shared', 0)


def test_host_memory_contexts_hold_arrays():
    x = nd.zeros((2,), ctx=PINNED)
    assert x.context is PINNED and isinstance(x._data, np.ndarray)
    assert repr(x).endswith('<NDArray 2 @cpu_pinned(0)>')
    assert A([1, 2], ctx=SHARED).context is SHARED
    assert x.as_in_context(PINNED) is x and x.copyto(mx.cpu(0)).context is mx.cpu(0)


def test_host_contexts_with_one_number_mix_and_compute_on_cpu():
    """As MXNet: cpu_pinned(0) + cpu(0) computes on cpu(0); different numbers do not
    mix (cpu(0) and cpu(1) stay distinct logical devices, unlike MXNet)."""
    p, s, c = A([1, 2], ctx=PINNED), A([10, 20], ctx=SHARED), A([100, 200])
    for got, want in ((p + c, [101, 202]), (c + p, [101, 202]), (p + s, [11, 22]),
                      (nd.exp(p), np.exp([1, 2])), (p * 2, [2, 4])):
        assert got.context is mx.cpu(0)
        assert_allclose(got.asnumpy(), want, rtol=1e-6)
    assert_array_equal(p[A([1], dtype='int32')].asnumpy(), [2])     # index on cpu(0)
    raises(lambda: A([1], ctx=mx.Context('cpu_pinned', 1)) + A([1]), 'broadcast_add',
           'cpu_pinned(1)', 'cpu(0)')
    raises(lambda: A([1], ctx=mx.cpu(1)) + A([1]), 'broadcast_add', 'cpu(1)', 'cpu(0)')


def test_host_contexts_with_one_number_assign_into_each_other():
    """As MXNet: `pinned[:] = cpu_array` and the other way round (Chapter 3's `_assign`,
    with or without autograd), copyto too; cpu(1) into cpu(0) is still refused."""
    p, c = nd.zeros((2,), ctx=PINNED), nd.zeros((2,))
    p[:] = A([1, 2])
    c[:] = A([3, 4], ctx=SHARED)
    with autograd.record():
        p[1] = A([7], ctx=SHARED)
    assert p.context is PINNED and c.context is mx.cpu(0)
    assert_array_equal(p.asnumpy(), [1, 7])
    assert_array_equal(c.asnumpy(), [3, 4])
    assert_array_equal(A([5, 6]).copyto(p).asnumpy(), [5, 6])

    def write(target, value):
        target[:] = value
    raises(lambda: write(c, A([1, 2], ctx=mx.cpu(1))), 'assignment', 'cpu(1)',
           'cpu(0)', 'as_in_context')
    raises(lambda: write(nd.zeros((2,), ctx=mx.Context('cpu_pinned', 1)), A([1, 2])),
           'assignment', 'cpu(0)', 'cpu_pinned(1)')


def test_host_contexts_draw_from_their_cpus_generator():
    mx.random.seed(5)
    a = nd.random.uniform(shape=(4,), ctx=PINNED)
    b = nd.random.uniform(shape=(4,), ctx=mx.cpu(0))
    assert a.context is PINNED and not np.array_equal(a.asnumpy(), b.asnumpy())
    mx.random.seed(5)
    assert_array_equal(nd.random.uniform(shape=(4,)).asnumpy(), a.asnumpy())


# ------------------------------------------------------------------------ out of memory

def test_gpu_out_of_memory_is_explained_on_the_standin():
    """CuPy's OutOfMemoryError, in an operator, a copy to the device or a creation
    function, becomes minimx.gpu_tools' GPUOutOfMemoryError (still a MemoryError)."""
    import gc

    from minimx import _cupy_standin as cp
    from minimx.gpu_tools import GPUOutOfMemoryError
    gc.collect()                        # arrays of earlier tests give their memory back
    with cp.installed(devices=1, memory=16 * 2 ** 20):
        mx.gpu(0).empty_cache()
        x = nd.ones((2560, 1024), ctx=mx.gpu(0))                   # 10 MiB
        for fn in (lambda: x + 1,                                     # _forward_on_gpu
                   lambda: A(np.zeros((2560, 1024)), ctx=mx.gpu(0)),  # _to_context
                   lambda: nd.arange(0, 2 ** 22, ctx=mx.gpu(0)),     # _to_context
                   lambda: nd.zeros((2560, 1024), ctx=mx.gpu(0))):    # _create
            with pytest.raises(GPUOutOfMemoryError) as info:
                fn()
            assert isinstance(info.value, MemoryError)
            assert isinstance(info.value, MXNetError)
            assert isinstance(info.value.__cause__, cp.cuda.memory.OutOfMemoryError)
            assert re.match(r'gpu\(0\): out of memory allocating \d+\.0 MiB\. The device '
                            r'has [0-9.]+ \w+ free', str(info.value))
            assert 'empty_cache()' in str(info.value)
        x = None                        # its memory goes back before the block ends


# -------------------------------------------------------------------------- namespaces

def test_nd_holds_mxnet_names_not_the_dispatcher():
    from minimx.ndarray import ndarray as module
    for name in ('Operator', 'invoke', 'fluent', 'getitem', 'GetItem', 'CopyTo',
                 'StopGradient'):
        assert not hasattr(nd, name), name
        assert hasattr(module, name), name              # still public in their module
    for name in ('NDArray', 'waitall', 'cast', 'Cast', 'stop_gradient', 'BlockGrad'):
        assert hasattr(nd, name), name
    assert nd.random.uniform is mx.random.uniform and nd.random.seed is mx.random.seed


def test_mx_random_has_mxnet_names():
    import json
    import pathlib
    api = pathlib.Path(__file__).parents[1] / 'tools' / 'mxnet_api.json'
    names = set(json.loads(api.read_text())['namespaces']['mx.random'])
    names -= {'Context', 'check_call'}                 # MXNet's own imports
    assert [n for n in sorted(names) if not hasattr(mx.random, n)] == []
    mx.random.seed(1)
    assert mx.random.poisson(3, shape=(4,)).shape == (4,)
    assert mx.random.randn(2, 3).shape == (2, 3)
    assert sorted(mx.random.shuffle(nd.arange(5)).asnumpy().tolist()) == [0, 1, 2, 3, 4]


def test_norm_out_dtype():
    x = A([[3, 4], [5, 12]], dtype='int32')
    assert nd.norm(x).dtype == np.int32 and nd.norm(x).asscalar() == 13
    got = nd.norm(x, out_dtype='float32')
    assert got.dtype == np.float32
    assert_allclose(got.asnumpy(), [np.sqrt(194)], rtol=1e-6)
    y = A([[3, 4], [5, 12]])
    assert y.norm(out_dtype='float64').dtype == np.float64
    got = nd.norm(y, 2, 1, 'float64', True)              # MXNet's positional order
    assert got.dtype == np.float64
    check(got, [[5], [13]])
    check(nd.norm(A([300, 400], dtype='float16'), out_dtype='float32'), [500])
    raises(lambda: nd.norm(y, out_dtype='uint8'), 'norm', 'out_dtype')
