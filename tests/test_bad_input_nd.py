"""Bad input to Chapter 2's NDArray side gets a clear error of MXNet's class (issues 15
and 10 section 4).

Every example of the issues is a test here, with MXNet 1.9.1's outcome in a comment:
the error class (minimx's error is an `MXNetError` *and* the built-in class MXNet
raises, so code that catches `ValueError`, `TypeError`, `IndexError` or
`AssertionError` keeps working) and a phrase of the message. The dtype rules (an
operator keeps its input's dtype; float-only operators refuse integers) and the
0-d, `bool`, `dtype` and assignment behaviours of issue 10 follow, then a hypothesis
property test that feeds bad arguments to every public entry point of Chapter 2 and
asserts that each error is an `MXNetError` that names the operator or function.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import nd
from minimx.base import (
    MXNetAssertionError,
    MXNetError,
    MXNetIndexError,
    MXNetTypeError,
    MXNetValueError,
)

pytestmark = pytest.mark.ch02

X = nd.ones((2, 3))
IMG = nd.ones((1, 1, 4, 4))


def refused(fn, cls, *phrases):
    """`fn()` raises an MXNetError that is also `cls` and holds every phrase."""
    with pytest.raises(cls) as info:
        fn()
    assert isinstance(info.value, MXNetError), type(info.value)
    for phrase in phrases:
        assert phrase in str(info.value), f'{phrase!r} not in {str(info.value)!r}'
    return info.value


# ----------------------------------------------------------------------- exception classes

def test_mxnet_error_is_a_runtime_error_and_the_twins_are_both():
    assert issubclass(MXNetError, RuntimeError)             # as mxnet.base.MXNetError
    for twin, builtin in ((MXNetValueError, ValueError), (MXNetTypeError, TypeError),
                          (MXNetIndexError, IndexError),
                          (MXNetAssertionError, AssertionError)):
        assert issubclass(twin, MXNetError) and issubclass(twin, builtin)
    assert mx.base.MXNetError is MXNetError


def test_bad_reshape_is_a_value_error():
    # MXNet: ValueError "Cannot reshape array of size 6 into shape (5, -1)", and an
    # MXNetError for the special codes.
    refused(lambda: X.reshape((5, -1)), ValueError, 'reshape', '(2, 3)', '(5, -1)')
    refused(lambda: X.reshape((4, 2)), ValueError, '6 elements', '8 elements')
    refused(lambda: X.reshape((-1, -1)), ValueError, 'at most one -1')
    refused(lambda: X.reshape((-4, -1, -1, 3)), ValueError, '-4')       # MXNet: both -1
    refused(lambda: X.reshape((-4, 0, 2, 3)), ValueError, '-4')         # was ZeroDivision
    refused(lambda: X.reshape((2.5, 2)), TypeError, 'Reshape', 'shape', '2.5')
    refused(lambda: X.reshape(None), TypeError, 'Reshape', 'shape')


def test_setitem_errors_keep_mxnet_classes():
    b = nd.zeros((2, 3))
    # MXNet: ValueError "operands could not be broadcast together ..."
    def assign(key, value):
        b[key] = value
    refused(lambda: assign(0, nd.ones((4,))), ValueError, 'x[0]', '(4,)', '(3,)',
            'could not be broadcast')
    refused(lambda: assign(slice(None), np.ones((3, 3))), ValueError, '(3, 3)', '(2, 3)')
    refused(lambda: assign((slice(None), 0), nd.ones((2, 1))), ValueError, 'x[:, 0]')
    # MXNet: IndexError "index 5 is out of bounds for axis 0 with size 2"
    refused(lambda: assign(5, 1.0), IndexError, 'x[5]', 'out of bounds')
    refused(lambda: b[5], IndexError, 'out of bounds')
    refused(lambda: b[0, 0, 0], IndexError, 'too many indices')
    # MXNet: TypeError "... does not support assignment with non-array-like object"
    refused(lambda: assign(0, 'a'), TypeError, 'non-array-like', 'str')
    # MXNet: ValueError "NDArray does not support slicing with key 1.5 of type float"
    refused(lambda: b[1.5], ValueError, 'slicing with key 1.5', 'float')
    refused(lambda: b['a'], ValueError, 'slicing with key')
    refused(lambda: b[::0], ValueError, 'nonzero step')                 # MXNet: ValueError
    b[0] = [1, 2, 3]                                                    # lists still work
    b[1] = nd.ones((1, 3)) * 7                                          # leading 1 dropped
    assert_array_equal(b.asnumpy(), [[1, 2, 3], [7, 7, 7]])


def test_assigning_a_one_element_array_into_one_element():
    # Issue 10: under NumPy 2, b[0] = np.array([47.8]) into a 1-element array failed.
    b = nd.zeros((1,))
    b[0] = np.array([47.8], dtype='float32')
    assert b.asnumpy()[0] == np.float32(47.8)
    b[0] = nd.array([1.5])
    c = nd.zeros((2, 2))
    c[1, 0] = nd.array([[3.0]])
    assert b.asnumpy().tolist() == [1.5] and c.asnumpy()[1, 0] == 3.0


def test_not_an_ndarray_is_an_assertion_error():
    # MXNet: AssertionError "Argument data must have NDArray type, but got ..."
    refused(lambda: nd.exp(np.ones(2)), AssertionError, 'exp', 'NDArray type')
    refused(lambda: nd.zeros_like(None), AssertionError, 'zeros_like', 'NDArray type')
    refused(lambda: nd.ones_like([1, 2]), AssertionError, 'ones_like', 'list')
    # MXNet: TypeError "type <class 'str'> not supported" for a bad scalar operand
    refused(lambda: X + 'a', TypeError, 'broadcast_add', 'not supported', 'str')
    refused(lambda: X * (1 + 2j), TypeError, 'broadcast_mul', 'complex')


# -------------------------------------------------------------------------- issue 15, 1

@pytest.mark.parametrize('pad', [(2, 2), (3, 3), 2, (0, 2)])
def test_pooling_refuses_padding_as_wide_as_the_kernel(pad):
    # MXNet: MXNetError "Check failed: pad_l[0] < kernel[0] (2 vs. 2)"; minimx returned
    # rows of -inf (max) or averages of padding (avg).
    for pool_type in ('max', 'avg'):
        refused(lambda: nd.Pooling(IMG, kernel=(2, 2), pad=pad, pool_type=pool_type),
                ValueError, 'Pooling', 'pad < kernel')
    assert nd.Pooling(IMG, kernel=(2, 2), pad=(1, 1)).shape == (1, 1, 5, 5)
    assert nd.Pooling(IMG, kernel=(2, 2), pad=(3, 3), global_pool=True).shape == \
        (1, 1, 1, 1)                                                    # MXNet: fine


@pytest.mark.parametrize('attrs, phrase', [
    ({'kernel': (0, 0)}, 'kernel'),           # MXNet: "value [0,0]for Parameter kernel"
    ({'kernel': (2, 2), 'stride': (0, 0)}, 'stride'),   # minimx: ZeroDivisionError
    ({'kernel': (2, 2), 'stride': 0}, 'stride'),
    ({'kernel': (2, 2), 'stride': (-1, -1)}, 'stride'),
    ({'kernel': (2, 2), 'stride': (1.5, 1)}, 'stride'),  # MXNet: "Invalid Parameter format"
    ({'kernel': (-2, 2)}, 'kernel'),
    ({'kernel': (2.5, 2)}, 'kernel'),
    ({'kernel': (2, 2), 'pad': (-1, -1)}, 'pad'),
    ({'kernel': (2, 2), 'pool_type': 'foo'}, "'max', 'avg', 'sum'"),
    ({'kernel': (2, 2), 'pooling_convention': 'foo'}, "'valid', 'full'"),
    ({'kernel': (2, 2), 'global_pool': 'a'}, 'global_pool'),
    ({'kernel': (2, 2), 'stride': (1, 1, 1)}, 'stride'),
    ({}, 'Required parameter kernel'),        # MXNet: "0D pooling not supported"
])
def test_pooling_arguments(attrs, phrase):
    err = refused(lambda: nd.Pooling(IMG, **attrs), MXNetError, 'Pooling', phrase)
    assert isinstance(err, (ValueError, TypeError))


W = nd.ones((4, 2, 3, 3))
DATA = nd.ones((1, 2, 5, 5))


@pytest.mark.parametrize('attrs, phrase', [
    ({'stride': (-1, -1)}, 'stride'),         # minimx computed a flipped result
    ({'stride': (2.5, 1)}, 'stride'),         # minimx computed with int(2.5)
    ({'stride': (0, 0)}, 'stride'),
    ({'dilate': (0, 0)}, 'dilate'),
    ({'dilate': (-1, 1)}, 'dilate'),
    ({'pad': (-1, -1)}, 'pad'),
    ({'num_filter': 0}, 'num_filter'),        # MXNet: "should be greater equal to 1"
    ({'num_filter': -4}, 'num_filter'),
    ({'num_filter': 2.5}, 'num_filter'),
    ({'num_group': 0}, 'num_group'),          # MXNet 1.9.1 crashes (SIGFPE)
    ({'num_group': -1}, 'num_group'),
    ({'num_group': 2.5}, 'num_group'),
    ({'kernel': (0, 0)}, 'kernel'),
    ({'stride': (2, 2, 2)}, 'stride'),        # MXNet: "Stride must have the same ..."
    ({'no_bias': 'a'}, 'no_bias'),
    ({'layout': 'NHWC'}, 'NCHW'),
    ({'foo': 1}, "Cannot find argument 'foo'"),
])
def test_convolution_arguments(attrs, phrase):
    attrs = {'kernel': (3, 3), 'num_filter': 4, 'no_bias': True, **attrs}
    from minimx.ndarray.nn import Convolution  # chapter 2's operator itself
    refused(lambda: Convolution(DATA, W, **attrs), MXNetError, 'Convolution', phrase)


def test_convolution_checks_bias_and_still_computes():
    from minimx.ndarray.nn import Convolution
    refused(lambda: Convolution(DATA, W, nd.ones(3), kernel=(3, 3), num_filter=4),
            ValueError, 'bias', '(4,)', '(3,)')        # MXNet: "Shape inconsistent"
    out = Convolution(DATA, W, nd.ones(4), kernel=(3, 3), num_filter=4,
                      workspace=512, cudnn_tune='off')  # MXNet's tuning flags: ignored
    assert out.shape == (1, 4, 3, 3) and out.asnumpy()[0, 0, 0, 0] == 19


def test_split_and_arange():
    # MXNet: "value 0 for Parameter num_outputs should be greater equal to 1";
    # minimx: ZeroDivisionError
    refused(lambda: nd.split(X, num_outputs=0), ValueError, 'split', 'num_outputs')
    refused(lambda: nd.split(X, num_outputs=2), ValueError, 'split', 'size 3',
            '2 equal parts')                                            # uneven
    refused(lambda: nd.split(nd.ones((2, 4)), 2, squeeze_axis=True), ValueError,
            'squeeze_axis')            # MXNet: "the size of the sliced axis must be ..."
    refused(lambda: nd.split(X, num_outputs=2.5), TypeError, 'num_outputs')
    # MXNet: "Range does not support step=0"; minimx: ZeroDivisionError
    refused(lambda: nd.arange(0, 10, 0), ValueError, 'arange', 'step')
    refused(lambda: nd.arange(0, 10, -1), ValueError, 'arange', 'invalid range')
    refused(lambda: nd.arange(0, 10, repeat=0), ValueError, 'arange', 'repeat')
    refused(lambda: nd.arange('a'), TypeError, 'arange', 'start')
    refused(lambda: nd.arange(0, np.inf), ValueError, 'arange', 'finite')
    assert nd.arange(10, 0, -2.5).asnumpy().tolist() == [10, 7.5, 5, 2.5]


def test_one_hot_arguments():
    idx = nd.array([0, 1])
    # MXNet: "Invalid Parameter format for depth expect int but value='2.5'";
    # minimx: 3 columns
    refused(lambda: nd.one_hot(idx, 2.5), TypeError, 'one_hot', 'depth')
    # MXNet: "depth, must be a non-negative integer"; minimx: an empty array
    refused(lambda: nd.one_hot(idx, -1), ValueError, 'one_hot', 'depth', '>= 0')
    # MXNet: "Invalid Parameter format for on_value expect double"; minimx: NaN
    refused(lambda: nd.one_hot(idx, 3, on_value=None), TypeError, 'on_value')
    refused(lambda: nd.one_hot(idx, 3, dtype='complex64'), ValueError, 'dtype')
    refused(lambda: nd.one_hot(idx, True), TypeError, 'depth')          # MXNet: refused
    assert nd.one_hot(idx, 0).shape == (2, 0)                           # MXNet: fine


def test_random_samplers_check_their_parameters():
    # MXNet: "low must be less or equal to high in uniform distribution"
    refused(lambda: nd.random.uniform(low=1, high=0), ValueError, 'uniform',
            'less or equal')
    # MXNet: "Invalid Input: 'int32', valid values are: {'None', 'float16', ...}";
    # minimx: all zeros
    refused(lambda: nd.random.uniform(dtype='int32'), ValueError, 'uniform', 'float32')
    # MXNet: "scale parameter in gaussian has to be positive"
    refused(lambda: nd.random.normal(scale=-1), ValueError, 'normal', 'positive')
    refused(lambda: nd.random.normal(scale=0), ValueError, 'normal', 'positive')
    # MXNet: "Invalid Parameter format for low expect long but value='0.5'"
    refused(lambda: mx.random.randint(low=0.5, high=3), TypeError, 'randint', 'low')
    refused(lambda: mx.random.randint(3, 3), ValueError, 'randint')    # MXNet crashes
    refused(lambda: mx.random.randint(0, 3, dtype='float32'), ValueError, 'int32')
    refused(lambda: mx.random.randint(0, 2 ** 40), ValueError, 'int64')
    # MXNet: ValueError "Distribution parameters must be either NDArray or numbers"
    refused(lambda: nd.random.uniform(low='a'), ValueError, 'Distribution parameters')
    refused(lambda: nd.random.uniform(shape=(2, -1)), ValueError, 'shape')
    assert nd.random.uniform(1, 1, shape=(2,)).asnumpy().tolist() == [1, 1]


@pytest.mark.parametrize('seed', [-1, -2 ** 40, 2 ** 70, True, np.int64(-3)])
def test_any_int_is_a_seed(seed):
    # MXNet accepts mx.random.seed(-1); minimx accepted it and then every later draw
    # failed with NumPy's "expected non-negative integer".
    mx.random.seed(seed)
    first = nd.random.uniform(shape=(3,)).asnumpy()
    mx.random.seed(seed, ctx=mx.cpu(1))
    other = nd.random.normal(shape=(3,), ctx=mx.cpu(1))
    mx.random.seed(seed)
    assert_array_equal(first, nd.random.uniform(shape=(3,)).asnumpy())
    assert other.shape == (3,)


def test_negative_seeds_do_not_coincide_with_positive_ones():
    draws = []
    for seed in (1, -1):
        mx.random.seed(seed)
        draws.append(nd.random.uniform(shape=(4,)).asnumpy())
    assert not np.array_equal(*draws)


def test_seed_must_be_an_int():
    # MXNet: ValueError "seed_state must be int"
    for bad in (1.5, 'a', None):
        refused(lambda: mx.random.seed(bad), ValueError, 'seed_state must be int')


# -------------------------------------------------------------------------- issue 15, 2

@pytest.mark.parametrize('op, values, expected', [
    # MXNet 1.9.1: the input's dtype, the values truncated
    (nd.exp, [1, 2], [2, 7]), (nd.log, [1, 3], [0, 1]), (nd.sqrt, [1, 5], [1, 2]),
    (nd.tanh, [1, 2], [0, 0]), (nd.sigmoid, [1, 2], [0, 0]),
    (nd.square, [-1, 2], [1, 4]), (nd.abs, [-1, 2], [1, 2]),
    (lambda x: nd.norm(x, ord=1), [3, -4], [7]),
    (lambda x: x.mean(), [1, 2], [1]), (lambda x: x.clip(0.5, 1.5), [-1, 2], [0, 1]),
])
@pytest.mark.parametrize('dtype', ['int32', 'uint8', 'int64'])
def test_integer_inputs_keep_their_dtype(op, values, expected, dtype):
    # minimx gave float64 for int32 and float16 for uint8
    if dtype == 'uint8':
        values = np.abs(values).tolist()
        expected = op(nd.array(values, dtype='float64')).asnumpy().astype(np.uint8)
    out = op(nd.array(values, dtype=dtype))
    assert out.dtype is np.dtype(dtype).type
    assert_array_equal(out.asnumpy(), expected)


def test_integer_norm_is_exact():
    # MXNet's int32 norm of [3, 4] is 4 (its integer kernel rounds down twice);
    # minimx gives the exact norm, 5, in int32.
    out = nd.norm(nd.array([3, 4], dtype='int32'))
    assert out.dtype is np.int32 and out.asnumpy().tolist() == [5]


@pytest.mark.parametrize('fn', [
    lambda x: nd.softmax(x), lambda x: nd.log_softmax(x),
    lambda x: nd.Pooling(x.reshape((1, 1, 1, 2)), kernel=(1, 1)),
    lambda x: nd.FullyConnected(x.reshape((1, 2)), x.reshape((1, 2)), num_hidden=1,
                                no_bias=True),
])
def test_float_only_operators_refuse_integers(fn):
    # MXNet: "This operation only support floating point types, not int32"
    refused(lambda: fn(nd.array([1, 2], dtype='int32')), TypeError,
            'only support floating point types', "astype('float32')")


@pytest.mark.parametrize('dtype', ['float16', 'float32', 'float64', 'int32', 'uint8'])
def test_argmax_returns_the_input_dtype(dtype):
    # MXNet: float64 in, float64 out; float16 in, float16 out (minimx: float32)
    x = nd.array([[1, 5, 3], [4, 2, 6]], dtype=dtype)
    for fn, expected in ((nd.argmax, [1, 2]), (nd.argmin, [0, 1])):
        out = fn(x, axis=1)
        assert out.dtype is np.dtype(dtype).type
        assert out.asnumpy().tolist() == expected


@pytest.mark.parametrize('bad', ['complex64', np.complex64, 'float128', str, 'int16',
                                 'foo', 'bfloat16'])
def test_dtypes_mxnet_lacks_are_refused(bad):
    # MXNet: KeyError, TypeError "data type 'foo' not understood", or MXNetError
    # "Invalid Input: 'complex64', valid values are: {'bool', 'float16', ...}"
    for fn in (lambda: nd.zeros((2,), dtype=bad), lambda: nd.array([1, 2], dtype=bad),
               lambda: X.astype(bad), lambda: nd.cast(X, dtype=bad),
               lambda: nd.arange(3, dtype=bad), lambda: nd.full((2,), 1, dtype=bad)):
        err = refused(fn, MXNetError, 'dtype', 'float32, float64, float16')
        assert isinstance(err, (TypeError, ValueError))


def test_astype_none_is_float32():
    # MXNet: astype(None) is float32 (minimx gave float64); nd.cast(dtype=None) is
    # float64 in both.
    assert nd.array([1, 2], dtype='int32').astype(None).dtype is np.float32
    assert nd.cast(X, dtype=None).dtype is np.float64
    assert X.astype('float32', copy=False) is X


# -------------------------------------------------------------------------- issue 15, 3

@pytest.mark.parametrize('fn, cls, phrase', [
    (lambda: nd.zeros((2, -3)), ValueError, 'shape'),   # NumPy: "negative dimensions"
    (lambda: nd.zeros(2.5), TypeError, 'shape'),
    (lambda: nd.ones((2, 2.5)), TypeError, 'shape'),
    (lambda: nd.empty('abc'), TypeError, 'shape'),
    (lambda: nd.zeros((2,), dtype='foo'), TypeError, 'dtype'),
    (lambda: nd.zeros((2,), ctx=5), TypeError, 'ctx'),
    (lambda: nd.zeros((2,), ctx='foo'), ValueError, 'unknown device type'),
    (lambda: nd.full((2,), None), TypeError, 'val'),
    (lambda: nd.full((2,), 'a'), TypeError, 'val'),
    (lambda: nd.zeros_like(None), AssertionError, 'NDArray type'),
])
def test_creation_errors_name_the_function(fn, cls, phrase):
    err = refused(fn, cls, phrase)
    assert str(err).split(':')[0] in ('zeros', 'ones', 'empty', 'full', 'zeros_like')


@pytest.mark.parametrize('source', ['abc', None, [[1, 2], [3]], [1, 'a'], {'a': 1},
                                    np.array(['x'])])
def test_array_needs_numbers(source):
    # MXNet: TypeError "source_array must be array like object"
    refused(lambda: nd.array(source), TypeError, 'array', 'array like object')


def test_numpy_errors_inside_an_operator_name_the_operator_and_attributes():
    from minimx.ndarray.ndarray import Operator

    class Gather(Operator):                 # an operator without declared args
        name = 'gather'

        def forward(self, xp, x, step=1):
            return x[::step]

    err = refused(lambda: Gather()(X, step=0), ValueError, 'gather',
                  'slice step cannot be zero', 'step=0', '(2, 3)')
    assert not isinstance(err, IndexError)


def test_context_arguments():
    # MXNet: KeyError 'foo' (a raw dict lookup); minimx: a ValueError naming Context
    refused(lambda: mx.Context('foo'), ValueError, 'Context', 'unknown device type')
    refused(lambda: mx.cpu('a'), TypeError, 'Context', 'device id')
    refused(lambda: mx.cpu(-1), ValueError, 'device id')
    refused(lambda: X.as_in_context(None), TypeError, 'Context', 'device type')


# --------------------------------------------------------------------- issue 10, section 4

def test_truth_values():
    assert bool(nd.array([])) is False                  # MXNet: False
    assert bool(nd.array([2])) and not bool(nd.array([0]))
    refused(lambda: bool(X), ValueError, 'ambiguous')   # MXNet: ValueError
    refused(lambda: X.asscalar(), ValueError, 'not a scalar')   # MXNet's phrase


@pytest.mark.parametrize('source', [np.float32(3), np.ones([]), 5, 2.5, np.array(7)])
def test_scalars_make_zero_dimensional_arrays(source):
    # MXNet 1.x: nd.array(np.float32(3)).shape == () (minimx gave (1,))
    x = nd.array(source)
    assert x.shape == () and x.ndim == 0 and x.size == 1 and x.dtype is np.float32
    assert float(x) == float(source) and x.asscalar() == np.float32(source)
    assert repr(x).endswith('<NDArray  @cpu(0)>')       # as MXNet prints it
    assert (x + 1).shape == (1,) and x.sum().shape == (1,)   # operators: never 0-d
    refused(lambda: len(x), IndexError, '0-d')          # MXNet: IndexError


def test_dtype_is_numpy_scalar_type():
    # MXNet: x.dtype is numpy.float32 (a type), not numpy.dtype('float32')
    for dtype in ('float32', 'float64', 'float16', 'int32', 'int64', 'int8', 'uint8',
                  'bool'):
        x = nd.zeros((2,), dtype=dtype)
        assert x.dtype is np.dtype(dtype).type
        assert x.dtype == np.dtype(dtype)
        assert nd.zeros((1,), dtype=x.dtype).dtype is x.dtype      # round trip
    assert X.dtype is np.float32 and str(X.dtype) == "<class 'numpy.float32'>"


def test_out_argument_writes_into_an_array():
    # MXNet: every operator takes out=
    out = nd.zeros((2, 3))
    assert nd.exp(X, out=out) is out
    assert_allclose(out.asnumpy(), np.full((2, 3), np.e), rtol=1e-6)
    assert nd.reshape(X, (3, 2), out=nd.zeros((3, 2))).shape == (3, 2)
    refused(lambda: nd.exp(X, out=nd.zeros((3, 2))), ValueError, 'out=', '(3, 2)')
    refused(lambda: np.argmax(X, out=np.zeros(1)), ValueError, 'argmax', 'asnumpy()')


# ------------------------------------------------------------------------ property test

BAD_VALUES = [None, 'foo', -1, 0, 2.5, -2.5, (0, 0), (-1, -1), (2.5, 1), (1, 2, 3),
              np.nan, np.inf, True, [], (), 1000, 1 + 2j, {'a': 1}, np.float32(1.5),
              'float128', 'complex64', object(), nd.ones(2), np.ones(2)]

# (names the message may start with, the call, the arguments to spoil)
ENTRIES = [
    (('zeros',), lambda **kw: nd.zeros(**{'shape': (2, 3), **kw}),
     ('shape', 'dtype', 'ctx')),
    (('full',), lambda **kw: nd.full(**{'shape': (2,), 'val': 1.0, **kw}),
     ('shape', 'val', 'dtype', 'ctx')),
    (('array',), lambda **kw: nd.array(**{'source_array': [1, 2], **kw}),
     ('source_array', 'dtype', 'ctx')),
    (('arange',), lambda **kw: nd.arange(**{'start': 0, 'stop': 5, **kw}),
     ('start', 'stop', 'step', 'repeat', 'dtype')),
    (('random.uniform',), lambda **kw: mx.random.uniform(**{'shape': (2,), **kw}),
     ('low', 'high', 'shape', 'dtype', 'ctx')),
    (('random.normal',), lambda **kw: mx.random.normal(**{'shape': (2,), **kw}),
     ('loc', 'scale', 'shape', 'dtype')),
    (('random.randint',), lambda **kw: mx.random.randint(**{'low': 0, 'high': 5, **kw}),
     ('low', 'high', 'shape', 'dtype')),
    (('random.seed',), lambda **kw: mx.random.seed(**{'seed_state': 1, **kw}),
     ('seed_state', 'ctx')),
    (('Reshape', 'reshape'), lambda **kw: X.reshape(**{'shape': (3, 2), **kw}),
     ('shape', 'reverse')),
    (('transpose',), lambda **kw: X.transpose(**kw), ('axes',)),
    (('swapaxes',), lambda **kw: X.swapaxes(**kw), ('dim1', 'dim2')),
    (('expand_dims',), lambda **kw: nd.expand_dims(X, **{'axis': 0, **kw}), ('axis',)),
    (('squeeze',), lambda **kw: nd.ones((2, 1)).squeeze(**kw), ('axis',)),
    (('tile',), lambda **kw: X.tile(**{'reps': 2, **kw}), ('reps',)),
    (('repeat',), lambda **kw: X.repeat(**{'repeats': 2, **kw}), ('repeats', 'axis')),
    (('flip',), lambda **kw: X.flip(**{'axis': 0, **kw}), ('axis',)),
    (('stack',), lambda **kw: nd.stack(X, X, **kw), ('axis',)),
    (('concat',), lambda **kw: nd.concat(X, X, **kw), ('dim',)),
    (('split',), lambda **kw: nd.split(nd.ones((2, 4)), **{'num_outputs': 2, **kw}),
     ('num_outputs', 'axis', 'squeeze_axis')),
    (('sum',), lambda **kw: X.sum(**kw), ('axis', 'keepdims', 'exclude')),
    (('mean',), lambda **kw: nd.mean(X, **kw), ('axis', 'keepdims')),
    (('norm',), lambda **kw: X.norm(**kw), ('ord', 'axis', 'out_dtype', 'keepdims')),
    (('argmax',), lambda **kw: X.argmax(**kw), ('axis', 'keepdims')),
    (('clip',), lambda **kw: X.clip(**{'a_min': 0, 'a_max': 1, **kw}),
     ('a_min', 'a_max')),
    (('dot',), lambda **kw: nd.dot(X, X.T, **kw), ('transpose_a', 'transpose_b')),
    (('take',), lambda **kw: nd.take(X, nd.array([0, 1]), **kw), ('axis', 'mode')),
    (('pick',), lambda **kw: nd.pick(X, nd.array([0, 1]), **kw),
     ('axis', 'keepdims', 'mode')),
    (('one_hot',), lambda **kw: nd.one_hot(nd.array([0, 1]), **{'depth': 3, **kw}),
     ('depth', 'on_value', 'off_value', 'dtype')),
    (('topk',), lambda **kw: nd.topk(X, **kw), ('axis', 'k', 'ret_typ', 'is_ascend',
                                                'dtype')),
    (('softmax',), lambda **kw: nd.softmax(X, **kw), ('axis', 'temperature')),
    (('Cast', 'astype'), lambda **kw: X.astype(**{'dtype': 'int32', **kw}),
     ('dtype',)),
    (('Pooling',), lambda **kw: _ch2('Pooling')(IMG, **{'kernel': (2, 2), **kw}),
     ('kernel', 'stride', 'pad', 'pool_type', 'global_pool', 'pooling_convention',
      'count_include_pad', 'layout')),
    (('Convolution',),
     lambda **kw: _ch2('Convolution')(DATA, W, **{'kernel': (3, 3), 'num_filter': 4,
                                                  'no_bias': True, **kw}),
     ('kernel', 'stride', 'dilate', 'pad', 'num_filter', 'num_group', 'no_bias',
      'layout')),
    (('FullyConnected',),
     lambda **kw: _ch2('FullyConnected')(X, nd.ones((4, 3)), nd.ones(4),
                                         **{'num_hidden': 4, **kw}),
     ('num_hidden', 'no_bias', 'flatten')),
    (('x[', 'NDArray', 'slice'), lambda **kw: _setitem(**{'key': 0, 'value': 1, **kw}),
     ('key', 'value')),
    (('NDArray', 'slice'), lambda **kw: X[kw['key']], ('key',)),
    (('as_in_context', 'copyto', 'Context'), lambda **kw: X.as_in_context(kw['ctx']),
     ('ctx',)),
    (('copyto', 'Context', 'x['), lambda **kw: X.copyto(kw['other']), ('other',)),
    (('Cast', 'astype'), lambda **kw: nd.cast(X, **{'dtype': 'int32', **kw}),
     ('dtype',)),
    (('batch_dot',), lambda **kw: nd.batch_dot(nd.ones((1, 2, 2)), nd.ones((1, 2, 2)),
                                               **kw), ('transpose_a', 'transpose_b')),
    (('log_softmax',), lambda **kw: nd.log_softmax(X, **kw), ('axis', 'temperature')),
] + [((op.name,), (lambda op: lambda **kw: op(kw['data']))(op), ('data',))
     for op in (nd.exp, nd.log, nd.sqrt, nd.square, nd.abs, nd.sign, nd.relu,
                nd.sigmoid, nd.tanh, nd.flatten, nd.sum, nd.argmax, nd.norm)] + [
    (('broadcast_add', '_add_scalar', '_plus_scalar'), lambda **kw: X + kw['other'],
     ('other',)),
    (('broadcast_maximum', '_maximum_scalar'), lambda **kw: nd.maximum(X, kw['other']),
     ('other',)),
    (('dot',), lambda **kw: nd.dot(X, kw['other']), ('other',)),
    (('where',), lambda **kw: nd.where(kw['cond'], X, X), ('cond',)),
    (('take',), lambda **kw: nd.take(X, kw['indices']), ('indices',)),
    (('stack',), lambda **kw: nd.stack(X, kw['other']), ('other',)),
]


def _ch2(name):
    import minimx.ndarray.nn as ch2_nn  # Chapter 2's own operator objects
    return getattr(ch2_nn, name)


def _setitem(key, value):
    b = nd.zeros((2, 3))
    b[key] = value
    return b


@settings(max_examples=400, deadline=None)
@given(entry=st.sampled_from(ENTRIES), data=st.data())
def test_bad_arguments_get_an_mxnet_error_naming_the_operator(entry, data):
    names, call, params = entry
    param = data.draw(st.sampled_from(params))
    value = data.draw(st.sampled_from(BAD_VALUES))
    try:
        call(**{param: value})
    except MXNetError as err:
        text = str(err)
        assert any(text.startswith(n) for n in names) or any(n in text for n in names), \
            f'{names} not named in {text!r}'
    # any other exception (a raw NumPy or Python error) fails the test
