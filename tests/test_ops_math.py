"""Appendix "The operator library": elementwise math and the extra reductions.

Values are checked against NumPy, Python's `math`, or numbers printed by MXNet 1.9.1
(said so where used); gradients against central finite differences in float64.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.appendix

RNG = np.random.default_rng(0)
INSIDE = RNG.uniform(0.2, 0.8, (2, 3))          # inside every function's domain

# name -> (NumPy reference, input values)
NUMPY_REFERENCE = {
    'sin': (np.sin, INSIDE), 'cos': (np.cos, INSIDE), 'tan': (np.tan, INSIDE),
    'arcsin': (np.arcsin, INSIDE), 'arccos': (np.arccos, INSIDE),
    'arctan': (np.arctan, INSIDE * 5), 'sinh': (np.sinh, INSIDE), 'cosh': (np.cosh, INSIDE),
    'arcsinh': (np.arcsinh, INSIDE * 3 - 1), 'arccosh': (np.arccosh, INSIDE + 1.5),
    'arctanh': (np.arctanh, INSIDE - 0.5), 'degrees': (np.degrees, INSIDE),
    'radians': (np.radians, INSIDE * 100), 'log1p': (np.log1p, INSIDE),
    'expm1': (np.expm1, INSIDE), 'log2': (np.log2, INSIDE), 'log10': (np.log10, INSIDE),
    'cbrt': (np.cbrt, INSIDE - 0.5), 'rcbrt': (lambda v: 1 / np.cbrt(v), INSIDE - 0.1),
    'rsqrt': (lambda v: 1 / np.sqrt(v), INSIDE), 'reciprocal': (lambda v: 1 / v, INSIDE),
    'negative': (np.negative, INSIDE), 'identity': (np.copy, INSIDE),
    'softsign': (lambda v: v / (1 + abs(v)), INSIDE - 0.5),
    'floor': (np.floor, INSIDE * 10 - 5), 'ceil': (np.ceil, INSIDE * 10 - 5),
    'trunc': (np.trunc, INSIDE * 10 - 5), 'fix': (np.trunc, INSIDE * 10 - 5),
    'erf': (np.vectorize(math.erf), INSIDE * 4 - 2),
    'gamma': (np.vectorize(math.gamma), INSIDE * 6 - 3.1),
    'gammaln': (np.vectorize(math.lgamma), INSIDE * 6 + 0.1),
}
DIFFERENTIABLE = [n for n in NUMPY_REFERENCE
                  if n not in ('floor', 'ceil', 'trunc', 'fix')] + ['erfinv']
METHODS = ['sin', 'cos', 'tan', 'arcsin', 'arccos', 'arctan', 'sinh', 'cosh', 'arcsinh',
           'arccosh', 'arctanh', 'degrees', 'radians', 'floor', 'ceil', 'trunc', 'fix',
           'round', 'rint', 'log1p', 'expm1', 'log2', 'log10', 'cbrt', 'rcbrt', 'rsqrt',
           'reciprocal', 'softmin', 'nansum', 'nanprod']


@pytest.mark.parametrize('name', sorted(NUMPY_REFERENCE))
def test_values_match_numpy(name):
    reference, values = NUMPY_REFERENCE[name]
    for dtype in ('float32', 'float64'):
        out = getattr(nd, name)(nd.array(values, dtype=dtype))
        assert out.dtype == np.dtype(dtype) and out.shape == values.shape
        rtol = 1e-6 if dtype == 'float32' else 1e-12
        assert_allclose(out.asnumpy(), reference(values.astype(dtype)), rtol=rtol,
                        atol=rtol)


@pytest.mark.parametrize('name', DIFFERENTIABLE)
def test_gradients_match_finite_differences(name):
    values = NUMPY_REFERENCE[name][1] if name in NUMPY_REFERENCE else INSIDE * 1.6 - 0.8
    check_numeric_gradient(getattr(nd, name), [values])


def test_gamma_gradients_on_the_negative_axis():
    # psi's reflection branch: Gamma(x) and ln|Gamma(x)| between the poles.
    check_numeric_gradient(nd.gamma, [-INSIDE - 0.05])
    check_numeric_gradient(nd.gammaln, [-INSIDE - 2.05])


@pytest.mark.parametrize('name', ['floor', 'ceil', 'trunc', 'fix', 'round', 'rint',
                                  'logical_not'])
def test_step_functions_have_zero_gradient(name):
    x = nd.array([0.3, 1.7, -2.2])
    x.attach_grad()
    with autograd.record():
        y = getattr(nd, name)(x)
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [0, 0, 0])


def test_rounding_follows_mxnet_not_numpy():
    halves = nd.array([-3.5, -2.6, -2.5, -2.4, -1.5, -0.5, -0.4, 0.4, 0.5, 1.5, 2.5, 2.6,
                       3.5])
    # Expected numbers printed by MXNet 1.9.1 for this input.
    assert_array_equal(nd.round(halves).asnumpy(),
                       [-4, -3, -3, -2, -2, -1, -0, 0, 1, 2, 3, 3, 4])
    assert_array_equal(nd.rint(halves).asnumpy(),
                       [-4, -3, -3, -2, -2, -1, -0, 0, 0, 1, 2, 3, 3])
    assert_array_equal(nd.fix(nd.array([-2.5, 2.5])).asnumpy(), [-2, 2])
    # float32 rounding near 0.5: trunc-based rounding must not round 0.49999997 up
    below = np.float32(0.5) - np.float32(3e-8)
    assert nd.round(nd.array([below])).asscalar() == 0


def test_integer_inputs_keep_their_dtype_as_in_mxnet():
    ints = nd.array([1, 2, -3], dtype='int32')
    # Expected numbers from MXNet 1.9.1: computed, then truncated to int32.
    assert_array_equal(nd.sin(ints).asnumpy(), [0, 0, 0])
    assert_array_equal(nd.degrees(ints).asnumpy(), [57, 114, -171])
    assert_array_equal(nd.negative(ints).asnumpy(), [-1, -2, 3])
    assert_array_equal(nd.cbrt(ints).asnumpy(), [1, 1, -1])
    assert all(getattr(nd, f)(ints).dtype == np.int32 for f in ('sin', 'logical_not'))


def test_special_function_poles_and_edges():
    # Expected numbers printed by MXNet 1.9.1.
    g = nd.gamma(nd.array([0, -1, -1.5, 0.5, 5, 172])).asnumpy()
    assert_allclose(g, [np.inf, np.nan, 2.3632717, 1.7724538, 24.0, np.inf], rtol=1e-6)
    assert nd.gamma(nd.array([-0.0])).asscalar() == -np.inf
    lg = nd.gammaln(nd.array([0, -1, -1.5, 0.5, 5, 172])).asnumpy()
    assert_allclose(lg, [np.inf, np.inf, 0.86004704, 0.57236493, 3.1780539, 711.71472],
                    rtol=1e-6)
    inv = nd.erfinv(nd.array([0, 0.5, -0.9, 1, -1, 1.5])).asnumpy()
    assert_allclose(inv, [0, 0.47693628, -1.1630871, np.inf, -np.inf, np.nan], rtol=1e-6)
    assert_array_equal(nd.rcbrt(nd.array([8, -8, 0])).asnumpy(), [0.5, -0.5, np.inf])


def test_erfinv_inverts_erf_to_float64_precision():
    y = np.linspace(-0.999999, 0.999999, 401)
    x = nd.erfinv(nd.array(y, dtype='float64')).asnumpy()
    assert_allclose([math.erf(v) for v in x], y, rtol=0, atol=1e-14)


def test_hard_sigmoid_smooth_l1_softsign_softmin_values():
    # Expected numbers printed by MXNet 1.9.1.
    assert_allclose(nd.hard_sigmoid(nd.array([-3, 0, 1, 3])).asnumpy(), [0, 0.5, 0.7, 1])
    assert_allclose(nd.hard_sigmoid(nd.array([1.0]), alpha=0.5, beta=0.1).asnumpy(), [0.6])
    assert_allclose(nd.smooth_l1(nd.array([-2, -0.5, 0.5, 2]), scalar=1.0).asnumpy(),
                    [1.5, 0.125, 0.125, 1.5])
    x = nd.array([[1, 2, 3]])
    assert_allclose(nd.softmin(x, temperature=2.0).asnumpy(),
                    [[0.5064804, 0.3071959, 0.18632373]], rtol=1e-6)
    assert_allclose(x.softmin().asnumpy().sum(), 1, rtol=1e-6)
    assert nd.softmin(x, dtype='float64').dtype == np.float64
    with pytest.raises(MXNetError, match='use_length'):
        nd.softmin(x, use_length=True)


def test_parametrised_activation_gradients():
    check_numeric_gradient(lambda a: nd.smooth_l1(a * 4 - 2, scalar=2.0), [INSIDE])
    check_numeric_gradient(lambda a: nd.hard_sigmoid(a * 8 - 4, alpha=0.3), [INSIDE])
    check_numeric_gradient(lambda a: nd.softmin(a, axis=0, temperature=2.0), [INSIDE])


def test_identity_copies():
    x = nd.array([1.0, 2.0])
    y = nd.identity(x)
    y[0] = 5
    assert x.asnumpy()[0] == 1


def test_logical_not_gives_zero_one_in_input_dtype():
    out = nd.logical_not(nd.array([0, 2, -1, 0]))
    assert out.dtype == np.float32
    assert_array_equal(out.asnumpy(), [1, 0, 0, 1])


@pytest.mark.parametrize('name', METHODS)
def test_ndarray_methods_are_the_operators(name):
    x = nd.array(INSIDE + 1.1)
    assert_allclose(getattr(x, name)().asnumpy(), getattr(nd, name)(x).asnumpy())


def test_out_writes_into_the_given_array():
    x = nd.array([0.0, 1.0])
    target = nd.zeros(2)
    result = nd.sin(x, out=target)
    assert result is target
    assert_allclose(target.asnumpy(), np.sin([0.0, 1.0]), rtol=1e-6)
    nd.sin(x, out=x)                                  # in place, as MXNet allows
    assert_allclose(x.asnumpy(), np.sin([0.0, 1.0]), rtol=1e-6)
    with pytest.raises(MXNetError, match='shape'):
        nd.cos(x, out=nd.zeros(3))
    mean, var = nd.zeros(1), nd.zeros(1)
    nd.moments(nd.array([1, 3]), axes=0, out=[mean, var])
    assert (mean.asscalar(), var.asscalar()) == (2, 1)


def test_nan_reductions():
    v = np.array([[2, np.nan, 3], [np.nan, 5, 4]], dtype=np.float32)
    assert_allclose(nd.nansum(nd.array(v), axis=1).asnumpy(), np.nansum(v, axis=1))
    assert_allclose(nd.nanprod(nd.array(v), axis=0).asnumpy(), np.nanprod(v, axis=0))
    assert_allclose(nd.nansum(nd.array(v), axis=0, exclude=True).asnumpy(), [5, 9])
    assert nd.nansum(nd.array(v)).shape == (1,)
    assert nd.nansum(nd.array(v), axis=1, keepdims=True).shape == (2, 1)


def test_nan_reduction_gradients_skip_the_nans():
    v = INSIDE.copy()
    v[0, 1] = np.nan
    for op in (nd.nansum, nd.nanprod):
        x = nd.array(v, dtype='float64')
        x.attach_grad()
        with autograd.record():
            y = op(x, axis=1)
        y.backward()
        grad = x.grad.asnumpy()
        assert grad[0, 1] == 0 and np.isfinite(grad).all()
    check_numeric_gradient(lambda a: nd.nansum(a, axis=1), [INSIDE])
    check_numeric_gradient(lambda a: nd.nanprod(a, axis=0), [INSIDE])
    # d/dx_j prod_{i != nan} x_i on the row with a NaN: the other non-NaN element.
    assert_allclose(grad[0], [v[0, 2], 0, v[0, 0]])


def test_sum_axis_max_axis_min_axis_are_the_reductions():
    x = nd.array(INSIDE)
    assert nd.sum_axis is nd.sum and nd.max_axis is nd.max and nd.min_axis is nd.min
    assert_allclose(nd.sum_axis(x, axis=1).asnumpy(), INSIDE.sum(axis=1), rtol=1e-6)
    assert_allclose(nd.max_axis(x, axis=0).asnumpy(), INSIDE.max(axis=0), rtol=1e-6)


def test_moments_values_and_gradients():
    # Expected numbers printed by MXNet 1.9.1.
    mean, var = nd.moments(nd.array([[1, 2], [3, 5]]), axes=1, keepdims=True)
    assert_allclose(mean.asnumpy(), [[1.5], [4]])
    assert_allclose(var.asnumpy(), [[0.25], [1]])
    mean, var = nd.moments(nd.array(INSIDE), axes=(0, 1))
    assert mean.shape == var.shape == (1,)
    assert_allclose(var.asscalar(), INSIDE.var(), rtol=1e-5)
    check_numeric_gradient(lambda a: nd.moments(a, axes=1)[1], [INSIDE])
    check_numeric_gradient(lambda a: nd.moments(a, axes=0)[0], [INSIDE])
    check_numeric_gradient(lambda a: nd.moments(a)[1], [INSIDE])


def test_norm_orders_exist():
    x = nd.array([[3, -4]])
    assert nd.norm(x, ord=1).asscalar() == 7 and nd.norm(x).asscalar() == 5


@pytest.mark.gpu
def test_math_family_on_gpu_matches_cpu():
    for name in sorted(NUMPY_REFERENCE) + ['erfinv', 'round', 'rint']:
        values = NUMPY_REFERENCE.get(name, (None, INSIDE - 0.5))[1]
        cpu = getattr(nd, name)(nd.array(values, dtype='float64')).asnumpy()
        gpu = getattr(nd, name)(nd.array(values, ctx=mx.gpu(0), dtype='float64'))
        assert gpu.context == mx.gpu(0)
        assert_allclose(gpu.asnumpy(), cpu, rtol=1e-10, atol=1e-12, err_msg=name)
    x = nd.array(INSIDE + 0.1, ctx=mx.gpu(0), dtype='float64')
    x.attach_grad()
    with autograd.record():
        y = nd.gamma(x).sum() + nd.nansum(x) + nd.moments(x)[1].sum()
    y.backward()
    assert np.isfinite(x.grad.asnumpy()).all()
