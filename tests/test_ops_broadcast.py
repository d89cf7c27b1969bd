"""Appendix "The operator library": broadcast_* / elemwise_* names, broadcast_to/like/axis,
add_n. Values against NumPy, gradients against finite differences."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.appendix

RNG = np.random.default_rng(1)
A = RNG.uniform(0.5, 2.0, (2, 3)).astype(np.float32)
B = RNG.uniform(0.5, 2.0, (1, 3)).astype(np.float32)

ARITHMETIC = {   # MXNet name -> NumPy reference
    'broadcast_add': np.add, 'broadcast_plus': np.add, 'broadcast_sub': np.subtract,
    'broadcast_minus': np.subtract, 'broadcast_mul': np.multiply,
    'broadcast_div': np.divide, 'broadcast_mod': np.mod, 'broadcast_power': np.power,
    'broadcast_maximum': np.maximum, 'broadcast_minimum': np.minimum,
    'broadcast_hypot': np.hypot, 'true_divide': np.divide,
}
COMPARISONS = {
    'broadcast_equal': np.equal, 'broadcast_not_equal': np.not_equal,
    'broadcast_greater': np.greater, 'broadcast_greater_equal': np.greater_equal,
    'broadcast_lesser': np.less, 'broadcast_lesser_equal': np.less_equal,
    'broadcast_logical_and': np.logical_and, 'broadcast_logical_or': np.logical_or,
    'broadcast_logical_xor': np.logical_xor, 'logical_and': np.logical_and,
    'logical_or': np.logical_or, 'logical_xor': np.logical_xor,
}


@pytest.mark.parametrize('name', sorted(ARITHMETIC))
def test_broadcast_arithmetic_matches_numpy(name):
    out = getattr(nd, name)(nd.array(A), nd.array(B))
    assert out.shape == (2, 3) and out.dtype == np.float32
    assert_allclose(out.asnumpy(), ARITHMETIC[name](A, B), rtol=1e-6)


@pytest.mark.parametrize('name', sorted(COMPARISONS))
def test_comparisons_give_zero_one_in_the_input_dtype(name):
    lhs = np.array([[0, 1, 2], [2, 0, 1]], dtype=np.float64)
    rhs = np.array([[0, 2, 2]], dtype=np.float64)
    out = getattr(nd, name)(nd.array(lhs, dtype='float64'), nd.array(rhs, dtype='float64'))
    assert out.dtype == np.float64
    assert_array_equal(out.asnumpy(), COMPARISONS[name](lhs, rhs).astype(np.float64))


def test_logical_operators_take_scalars_and_ints():
    x = nd.array([0, 1, 2], dtype='int32')
    assert_array_equal(nd.logical_and(x, 1).asnumpy(), [0, 1, 1])
    assert_array_equal(nd.logical_or(0, x).asnumpy(), [0, 1, 1])
    assert nd.logical_xor(x, x).dtype == np.int32
    # Expected numbers printed by MXNet 1.9.1.
    out = nd.broadcast_logical_and(nd.array([[1, 2], [3, 4]]), nd.array([0, 1]))
    assert_array_equal(out.asnumpy(), [[0, 1], [0, 1]])


@pytest.mark.parametrize('name', ['broadcast_add', 'broadcast_sub', 'broadcast_mul',
                                  'broadcast_div', 'broadcast_power', 'broadcast_hypot',
                                  'broadcast_maximum', 'broadcast_minimum'])
def test_broadcast_gradients(name):
    a = RNG.uniform(0.5, 2.0, (2, 3))
    b = RNG.uniform(3.0, 4.0, (1, 3))     # no ties for maximum/minimum
    check_numeric_gradient(getattr(nd, name), [a, b])


def test_hypot_with_scalars_and_gradient_values():
    # Expected numbers printed by MXNet 1.9.1.
    out = nd.broadcast_hypot(nd.array([[1, 2], [3, 4]]), nd.array([0, 1]))
    assert_allclose(out.asnumpy(), [[1, 2.236068], [3, 4.1231055]], rtol=1e-6)
    x = nd.array([3.0])
    x.attach_grad()
    with autograd.record():
        y = nd.broadcast_hypot(x, 4.0)
    y.backward()
    assert y.asscalar() == 5 and abs(x.grad.asscalar() - 0.6) < 1e-7


def test_broadcast_names_take_out():
    target = nd.zeros((2, 3))
    assert nd.broadcast_mul(nd.array(A), nd.array(B), out=target) is target
    assert_allclose(target.asnumpy(), A * B, rtol=1e-6)
    with pytest.raises(MXNetError, match='shape'):
        nd.broadcast_add(nd.array(A), nd.array(B), out=nd.zeros(3))


def test_broadcast_to_values_zero_code_and_leading_axes():
    col = nd.array([[1], [2]])
    # Expected shapes and values printed by MXNet 1.9.1.
    assert_array_equal(nd.broadcast_to(col, shape=(2, 3)).asnumpy(),
                       [[1, 1, 1], [2, 2, 2]])
    assert nd.broadcast_to(col, shape=(0, 3)).shape == (2, 3)
    assert nd.ones(3).broadcast_to((2, 3)).shape == (2, 3)
    assert nd.broadcast_to(nd.ones(3), (4, 0)).shape == (4, 3)
    with pytest.raises(MXNetError, match='only axes of size 1'):
        nd.broadcast_to(nd.ones((2, 3)), shape=(4, 3))
    with pytest.raises(MXNetError, match='fewer axes'):
        nd.broadcast_to(nd.ones((2, 3)), shape=(3,))


def test_broadcast_to_copies():
    x = nd.array([[1], [2]])
    y = x.broadcast_to((2, 3))
    y[0, 0] = 9
    assert x.asnumpy()[0, 0] == 1 and y.asnumpy()[0, 1] == 1


def test_broadcast_like_and_axis_shapes():
    # Expected shapes printed by MXNet 1.9.1.
    x = nd.array([[1], [2]])
    assert nd.broadcast_like(x, nd.ones((2, 5))).shape == (2, 5)
    assert x.broadcast_like(nd.ones((2, 5), dtype='int32')).shape == (2, 5)
    assert nd.broadcast_like(nd.ones((1, 2, 1)), nd.ones((7, 8, 9)), lhs_axes=(0,),
                             rhs_axes=(2,)).shape == (9, 2, 1)
    assert nd.broadcast_axis(x, axis=1, size=3).shape == (2, 3)
    assert nd.broadcast_axes(nd.ones((1, 2, 1)), axis=(0, 2), size=(3, 4)).shape == \
        (3, 2, 4)
    assert nd.ones((1, 3)).broadcast_axes(axis=0, size=2).shape == (2, 3)
    with pytest.raises(MXNetError, match='only axes of size 1'):
        nd.ones(3).broadcast_axes(axis=0, size=2)


def test_explicit_broadcast_gradients_sum_over_stretched_axes():
    x = RNG.uniform(size=(2, 1))
    check_numeric_gradient(lambda a: nd.broadcast_to(a, shape=(3, 2, 4)), [x])
    check_numeric_gradient(lambda a: nd.broadcast_axis(a, axis=1, size=3), [x])
    check_numeric_gradient(lambda a: nd.broadcast_like(a, nd.ones((2, 5),
                                                                  dtype='float64')), [x])
    col = nd.array([[1], [2]])
    col.attach_grad()
    other = nd.ones((2, 3))
    other.attach_grad()
    with autograd.record():
        y = nd.broadcast_like(col, other)
    y.backward()
    assert_array_equal(col.grad.asnumpy(), [[3], [3]])
    assert_array_equal(other.grad.asnumpy(), np.zeros((2, 3)))


@pytest.mark.parametrize('name,reference', [('elemwise_add', np.add),
                                            ('elemwise_sub', np.subtract),
                                            ('elemwise_mul', np.multiply),
                                            ('elemwise_div', np.divide)])
def test_elemwise_need_equal_shapes(name, reference):
    out = getattr(nd, name)(nd.array(A), nd.array(A + 1))
    assert_allclose(out.asnumpy(), reference(A, A + 1), rtol=1e-6)
    check_numeric_gradient(getattr(nd, name), [A.astype(np.float64), A + 1.0])
    with pytest.raises(MXNetError, match='equal shapes.*broadcast_'):
        getattr(nd, name)(nd.array(A), nd.array(B))


def test_add_n_and_element_wise_sum():
    arrays = [nd.array(A * k) for k in (1, 2, 3)]
    assert_allclose(nd.add_n(*arrays).asnumpy(), A * 6, rtol=1e-6)
    assert nd.ElementWiseSum is nd.add_n
    assert arrays[0].asnumpy()[0, 0] == A[0, 0]         # inputs untouched
    check_numeric_gradient(lambda a, b, c: nd.add_n(a, b, c),
                           [A.astype(np.float64), A * 2.0, A * 3.0])
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = nd.add_n(x, x, x)
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [3, 3])
    with pytest.raises(MXNetError, match='same shape'):
        nd.add_n(nd.ones(2), nd.ones(3))


@pytest.mark.gpu
def test_broadcast_family_on_gpu():
    ctx = mx.gpu(0)
    a, b = nd.array(A, ctx=ctx), nd.array(B, ctx=ctx)
    for name, reference in {**ARITHMETIC, **COMPARISONS}.items():
        out = getattr(nd, name)(a, b)
        assert out.context == ctx
        assert_allclose(out.asnumpy(), reference(A, B).astype(np.float32), rtol=1e-6)
    assert nd.broadcast_to(b, shape=(4, 3)).context == ctx
    assert_allclose(nd.add_n(a, a).asnumpy(), 2 * A)
