"""Tests of `mx.test_utils` (appendix "Data iterators, test utilities and other Gluon
pieces"): tolerances, comparisons, random inputs, NumPy references, contexts,
environment, statistical checks.

Values marked "MXNet 1.9.1" were printed by MXNet 1.9.1 after the same NumPy seed.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import minimx as mx
from minimx import nd
from minimx import test_utils as tu
from minimx.base import MXNetError
from minimx.io import NDArrayIter

pytestmark = pytest.mark.appendix


@pytest.fixture
def restore_context():
    yield
    tu.set_default_context(mx.cpu(0))


# --- tolerances ---------------------------------------------------------------


def test_default_tolerances_per_dtype():
    rtols, atols = tu.default_rtols(), tu.default_atols()
    assert rtols[np.dtype(np.float16)] == 1e-2 and atols[np.dtype(np.float16)] == 1e-1
    assert rtols[np.dtype(np.float32)] == 1e-4 and atols[np.dtype(np.float32)] == 1e-3
    assert rtols[np.dtype(np.float64)] == 1e-5 and atols[np.dtype(np.float64)] == 1e-20
    assert rtols[np.dtype(np.int32)] == 0 and atols[np.dtype(np.bool_)] == 0
    assert tu.default_numeric_eps()[np.dtype(np.float32)] == 1 / 512
    assert tu.default_dtype() is np.float32


def test_get_tols_takes_the_looser_dtype():
    # MXNet 1.9.1: get_tols(float32, float64) = (1e-4, 1e-3); ints (0, 0); numbers float64
    assert tu.get_tols(np.ones(2, 'f'), np.ones(2, 'f8'), None, None) == (1e-4, 1e-3)
    assert tu.get_tols(np.ones(2, 'i4'), np.ones(2, 'i4'), None, None) == (0, 0)
    assert tu.get_tols(1.0, 2, None, None) == (1e-5, 1e-20)
    assert tu.get_tols(nd.ones(2), nd.ones(2), 0.5, None) == (0.5, 1e-3)
    assert tu.get_tols(nd.ones(2, dtype='float16'), nd.ones(2), None, None) == (1e-2, 1e-1)


def test_get_tolerance_dict_entry_or_default():
    # MXNet 1.9.1: the dict's entry for the dtype, else the default table's
    table = {np.dtype(np.float32): 0.5}
    assert tu.get_tolerance(np.ones(2, 'f'), table, tu.default_rtols()) == 0.5
    assert tu.get_tolerance(np.ones(2, 'f8'), table, tu.default_rtols()) == 1e-5
    assert tu.get_tolerance(np.ones(2, 'f8'), 0.25, tu.default_rtols()) == 0.25


def test_get_rtol_atol_etol():
    assert tu.get_rtol() == 1e-5 and tu.get_atol() == 1e-20 and tu.get_etol() == 0
    assert tu.get_rtol(None, np.float32) == 1e-4 and tu.get_atol(None, 'float32') == 1e-3
    assert tu.get_rtol(0.3) == 0.3 and tu.get_etol(0.1) == 0.1
    assert tu.effective_dtype(nd.ones(2)) == np.float32


# --- comparisons --------------------------------------------------------------


def test_same_and_almost_equal():
    assert tu.same(np.ones(2), np.ones(2)) and not tu.same(np.ones(2), np.ones(3))
    assert not tu.same(np.array([1.0]), np.array([1.0 + 1e-12]))
    # MXNet 1.9.1: float64 defaults (1e-5, 1e-20); broadcasting allowed
    assert tu.almost_equal(np.array([1.0]), np.array([1.0 + 1e-6]))
    assert not tu.almost_equal(np.array([1.0]), np.array([1.0 + 1e-4]))
    assert tu.almost_equal(np.ones(3), np.ones((2, 3)))
    assert tu.almost_equal(nd.ones(3), np.ones(3))
    assert tu.almost_equal(np.array([np.nan]), np.array([np.nan]), equal_nan=True)
    with pytest.raises(AssertionError, match=r'\(3,\).*\(2, 3\)'):
        tu.almost_equal(np.ones(3), np.ones((2, 3)), use_broadcast=False)


def test_check_shapes_and_location_error():
    tu.checkShapes(np.ones(2), np.ones(2))
    with pytest.raises(AssertionError, match=r'a.shape = \(2,\) and b.shape = \(3,\)'):
        tu.checkShapes(np.ones(2), np.ones(3))
    text = tu.locationError(np.array([1.0, 2.0]), np.array([1.0, 2.5]), (1,), ('x', 'y'),
                            maxError=True)
    assert text == 'Location of maximum error: (1,), x=2.00000000, y=2.50000000'


def test_assert_allclose_is_strict_by_default():
    tu.assert_allclose(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    with pytest.raises(AssertionError):
        tu.assert_allclose(np.array([1.0]), np.array([1.0 + 1e-6]))


def test_assert_almost_equal_ignore_nan():
    # MXNet 1.9.1 accepts this pair: NaN places ignored, float32 tolerances
    tu.assert_almost_equal_ignore_nan(np.array([np.nan, 1.0], 'f'),
                                      np.array([2.0, 1.0001], 'f'))
    with pytest.raises(AssertionError):
        tu.assert_almost_equal_ignore_nan(np.array([np.nan, 1.0], 'f'),
                                          np.array([2.0, 1.1], 'f'))


def test_assert_almost_equal_with_err():
    a, b = np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 3, 5])
    tu.assert_almost_equal_with_err(a, b, etol=0.3)       # 25 % differ: MXNet 1.9.1 passes
    with pytest.raises(AssertionError, match='25.00%'):
        tu.assert_almost_equal_with_err(a, b, etol=0.2)   # MXNet 1.9.1 raises
    with pytest.raises(AssertionError):
        tu.assert_almost_equal_with_err(a, b)              # etol 0: every element


def test_assert_exception_and_compare_ndarray_tuple():
    tu.assert_exception(int, ValueError, 'x')
    with pytest.raises(AssertionError, match='did not raise ValueError'):
        tu.assert_exception(int, ValueError, '3')
    tu.compare_ndarray_tuple((nd.ones(2), (np.ones(1),)), (nd.ones(2), (np.ones(1),)))
    tu.compare_ndarray_tuple(None, (nd.ones(2),))
    with pytest.raises(AssertionError):
        tu.compare_ndarray_tuple((nd.ones(2),), (nd.zeros(2),))


def test_retry_reruns_until_it_passes():
    calls = []

    @tu.retry(3)
    def flaky():
        calls.append(1)
        assert len(calls) == 2

    flaky()
    assert len(calls) == 2

    @tu.retry(2)
    def always_fails():
        calls.append(1)
        raise AssertionError('no')

    with pytest.raises(AssertionError, match='no'):
        always_fails()
    assert len(calls) == 4


# --- random inputs and NumPy references --------------------------------------------


def test_rand_ndarray_matches_mxnet_after_the_same_seed():
    np.random.seed(1)
    x = tu.rand_ndarray((2, 3))
    # MXNet 1.9.1: np.random.seed(1); mx.test_utils.rand_ndarray((2, 3))
    expected = [[1.6243454217910767, -0.6117563843727112, -0.5281717777252197],
                [-1.072968602180481, 0.8654076457023621, -2.3015387058258057]]
    np.testing.assert_allclose(x.asnumpy(), expected, rtol=1e-7)
    assert x.dtype == np.float32 and x.context is mx.cpu(0)
    y = tu.rand_ndarray((2,), dtype='float64', ctx=mx.cpu(1))
    assert y.dtype == np.float64 and y.context is mx.cpu(1)


def test_rand_ndarray_refuses_sparse_storage():
    with pytest.raises(MXNetError, match="stype='csr'.*sparse storage"):
        tu.rand_ndarray((2, 2), stype='csr')


def test_rand_ndarray_uses_the_default_context(restore_context):
    tu.set_default_context(mx.cpu(2))
    assert tu.rand_ndarray((2,)).context is mx.cpu(2)


def test_random_shapes_match_mxnet():
    np.random.seed(0)
    # MXNet 1.9.1: (6, 1) (4, 4, 8) (10, 4, 6, 3) (0, 3)
    assert tu.rand_shape_2d() == (6, 1)
    assert tu.rand_shape_3d() == (4, 4, 8)
    assert tu.rand_shape_nd(4) == (10, 4, 6, 3)
    assert tu.rand_shape_nd(2, dim=3, allow_zero_size=True) == (0, 3)


def test_random_arrays_sample_and_coords_match_mxnet():
    np.random.seed(2)
    assert tu.random_sample(list(range(10)), 4) == [4, 1, 5, 0]     # MXNet 1.9.1
    np.random.seed(4)
    low_high = tu.random_uniform_arrays((2,), (1, 2), low=-1, high=1)
    np.random.seed(4)
    assert tu.rand_coord_2d(0, 10, 5, 7) == (7, 6)                  # MXNet 1.9.1
    np.random.seed(4)
    one, (two, three) = tu.random_arrays((2,)), tu.random_arrays((1,), (2,))
    # MXNet 1.9.1 after np.random.seed(4):
    np.testing.assert_allclose(low_high[0], [0.9340597, 0.0944645], rtol=1e-6)
    np.testing.assert_allclose(low_high[1], [[0.9453687, 0.42963198]], rtol=1e-6)
    np.testing.assert_allclose(one, [0.05056171, 0.49995133], rtol=1e-6)
    np.testing.assert_allclose(two, [-0.9959089], rtol=1e-6)
    np.testing.assert_allclose(three, [0.6935985, -0.41830152], rtol=1e-6)
    assert one.dtype == np.float32
    with pytest.raises(ValueError):
        tu.random_sample([1, 2], 3)
    with pytest.raises(TypeError):
        tu.random_uniform_arrays((2,), mean=1)


def test_np_reduce_matches_numpy():
    x = np.arange(24, dtype='f').reshape(2, 3, 4)
    np.testing.assert_array_equal(tu.np_reduce(x, -1, True, np.sum),
                                  x.sum(axis=-1, keepdims=True))
    np.testing.assert_array_equal(tu.np_reduce(x, (0, 2), False, np.max), [15, 19, 23])
    np.testing.assert_array_equal(tu.np_reduce(x, (0, 2), True, np.max),
                                  x.max(axis=(0, 2), keepdims=True))
    assert tu.np_reduce(x, None, False, np.sum) == 276.0


def test_collapse_sum_like_and_assign_each():
    # MXNet 1.9.1: [[8], [8], [8]] and [[2, 2, 2]]
    np.testing.assert_array_equal(tu.collapse_sum_like(np.ones((2, 3, 4)), (3, 1)),
                                  [[8.0], [8.0], [8.0]])
    np.testing.assert_array_equal(tu.collapse_sum_like(np.ones((2, 3)), (1, 3)),
                                  [[2.0, 2.0, 2.0]])
    assert tu.collapse_sum_like(np.ones((2, 0)), (1, 0)).shape == (1, 0)
    with pytest.raises(ValueError):
        tu.collapse_sum_like(np.ones((2, 3)), (2, 2))
    out = tu.assign_each(np.array([[1.0, -2.0], [3.0, 4.0]]), abs)
    assert out.tolist() == [[1.0, 2.0], [3.0, 4.0]] and out.dtype == np.float64
    assert tu.assign_each2(np.array([1.0, 2.0]), np.array([3.0, 4.0]),
                           lambda a, b: a * b).tolist() == [3.0, 8.0]
    assert tu.assign_each(np.array([1, 2]), None).tolist() == [1, 2]


def test_random_matrices_match_mxnet():
    np.random.seed(3)
    m = tu.new_matrix_with_real_eigvals_2d(3)
    # MXNet 1.9.1 after np.random.seed(3)
    np.testing.assert_allclose(m, [[2.53513777, -1.35568556, -0.40583661],
                                   [-2.21742935, -3.72652083, -2.08621353],
                                   [-0.28279295, -0.88876161, 3.2691077]], rtol=1e-7)
    assert np.isrealobj(np.linalg.eigvals(m)) or np.allclose(np.linalg.eigvals(m).imag, 0)
    np.random.seed(3)
    s = tu.new_sym_matrix_with_real_eigvals_2d(3)
    np.testing.assert_allclose(s, [[2.70445744, -1.43069965, -0.06116934],
                                   [-1.43069965, -4.14328404, 0.03699218],
                                   [-0.06116934, 0.03699218, 3.51655124]], rtol=1e-7)
    np.testing.assert_allclose(s, s.T)
    q = tu.new_orthonormal_matrix_2d(4)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-12)
    assert tu.new_matrix_with_real_eigvals_nd((2, 2, 2)).shape == (2, 2, 2)
    assert tu.new_sym_matrix_with_real_eigvals_nd((3, 2, 2)).shape == (3, 2, 2)


# --- contexts, environment, streams ---------------------------------------------


def test_default_context_follows_set_default_context(restore_context):
    assert tu.default_context() is mx.cpu(0)
    tu.set_default_context(mx.cpu(2))
    assert tu.default_context() is mx.cpu(2) and mx.current_context() is mx.cpu(2)
    assert nd.ones(2).context is mx.cpu(2)
    # MXNet 1.9.1: inside a `with`, set_default_context changes the current context and
    # the `with` restores what was current before it on exit.
    with mx.cpu(3):
        tu.set_default_context(mx.cpu(4))
        assert mx.current_context() is mx.cpu(4)
    assert mx.current_context() is mx.cpu(2)


def test_list_gpus_counts_the_devices():
    assert list(tu.list_gpus()) == list(range(mx.num_gpus()))


def test_discard_stderr_silences_file_descriptor_2():
    code = ("import os, sys\n"
            "from minimx.test_utils import discard_stderr\n"
            "with discard_stderr():\n"
            "    os.write(2, b'hidden\\n'); print('gone', file=sys.stderr)\n"
            "os.write(2, b'shown\\n')\n")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, timeout=60,
                            check=True)
    assert result.stderr == b'shown\n'


def test_environment_sets_and_restores():
    name = 'MINIMX_TEST_UTILS_VAR'
    os.environ.pop(name, None)
    with tu.environment(name, '1'):
        assert os.environ[name] == '1' and tu.getenv(name) == '1'
        with tu.environment({name: None}):
            assert name not in os.environ and tu.getenv(name) is None
        assert os.environ[name] == '1'
    assert name not in os.environ
    tu.setenv(name, 'x')
    assert tu.getenv(name) == 'x'
    tu.setenv(name, None)
    assert tu.getenv(name) is None
    with pytest.raises(ValueError), tu.environment(name):
        pass


def test_same_array_detects_shared_memory():
    a = nd.ones(3)
    # MXNet 1.9.1: True, False, True
    assert tu.same_array(a, a) and not tu.same_array(a, a.copy())
    assert tu.same_array(a, a[:])
    assert not tu.same_array(a, a.as_in_context(mx.cpu(1)))


def test_dummy_iter_repeats_the_first_batch():
    real = NDArrayIter(np.arange(6), batch_size=2)
    dummy = tu.DummyIter(real)
    batches = [next(dummy) for _ in range(5)]
    assert all(b is batches[0] for b in batches)
    assert batches[0].data[0].asnumpy().tolist() == [0, 1]
    assert dummy.provide_data == real.provide_data and dummy.batch_size == 2


def test_run_environment_helpers():
    with tu.environment('CD_JOB', '1'):
        assert tu.is_cd_run()
    with tu.environment('CD_JOB', None):
        assert not tu.is_cd_run()
    assert isinstance(tu.is_aarch64_run(), bool)


# --- statistical checks of random generators ----------------------------------------


def test_buckets_and_moment_checks():
    from statistics import NormalDist
    ppf = NormalDist().inv_cdf
    buckets, probs = tu.gen_buckets_probs_with_ppf(
        lambda p: ppf(p) if 0 < p < 1 else math.copysign(math.inf, p - 0.5), 4)
    assert probs == [0.25] * 4 and buckets[0][0] == -math.inf and buckets[3][1] == math.inf
    assert buckets[1] == (pytest.approx(-0.6744897501960817), 0.0)
    np.random.seed(7)
    # MXNet 1.9.1: True True, then False for a shifted mean
    assert tu.mean_check(lambda n: np.random.normal(2, 1, n), 2, 1, 10000)
    assert tu.var_check(lambda n: np.random.normal(0, 2, n), 2, 10000)
    np.random.seed(7)
    assert not tu.mean_check(lambda n: np.random.normal(2.1, 1, n), 2, 1, 10000)


def test_chi_square_check_by_hand():
    pytest.importorskip('scipy')
    samples = np.array([0] * 12 + [1] * 9 + [2] * 9)
    p, observed, expected = tu.chi_square_check(lambda n: samples, [0, 1, 2],
                                                [1 / 3, 1 / 3, 1 / 3], nsamples=30)
    # statistic (4 + 1 + 1) / 10 = 0.6; with 2 degrees of freedom p = exp(-0.6 / 2)
    assert observed.tolist() == [12, 9, 9] and expected.tolist() == [10, 10, 10]
    assert p == pytest.approx(math.exp(-0.3))
    ranges = [(-np.inf, 0.0), (0.0, np.inf)]
    values = np.array([-1.0, -0.5, 0.5, 1.0, 2.0, 3.0])
    p, observed, _ = tu.chi_square_check(lambda n: values, ranges, [0.5, 0.5], nsamples=6)
    assert observed.tolist() == [2, 4]
    assert p == pytest.approx(math.erfc(math.sqrt(2 / 3 / 2)))   # 1 dof: statistic 2/3


def test_verify_generator():
    pytest.importorskip('scipy')
    np.random.seed(0)
    p_values = tu.verify_generator(lambda n: np.random.randint(0, 3, n), [0, 1, 2], [1 / 3] * 3,
                                   nsamples=3000, nrepeat=3)
    assert len(p_values) == 3
    with pytest.raises(AssertionError, match='chi-square'):
        tu.verify_generator(lambda n: np.zeros(n, int), [0, 1, 2], [1 / 3] * 3,
                            nsamples=300, nrepeat=2)


def test_assert_almost_equal_has_mxnets_signature_and_dtype_tolerances():
    # MXNet 1.9.1: None tolerances come from the dtypes, shapes broadcast
    ones = np.ones((2, 3), 'f')
    tu.assert_almost_equal(ones, np.ones(3, 'f'))                   # broadcast: passes
    with pytest.raises(AssertionError, match=r'\(2, 3\).*\(3,\)'):
        tu.assert_almost_equal(ones, np.ones(3, 'f'), use_broadcast=False)
    tu.assert_almost_equal(ones, ones * (1 + 5e-4))                 # float32: rtol 1e-4,
    tu.assert_almost_equal(nd.array(ones), ones + 1e-4)             # atol 1e-3
    with pytest.raises(AssertionError, match='6 of 6 elements'):
        tu.assert_almost_equal(ones.astype('f8'), ones.astype('f8') * (1 + 5e-5))
    with pytest.raises(AssertionError):                             # float64: atol 1e-20
        tu.assert_almost_equal(np.array([1e-17]), np.array([0.0]))
    with pytest.raises(AssertionError):
        tu.assert_almost_equal(np.array([True, False]), np.array([True, True]))
    with pytest.raises(ValueError):                                 # MXNet's class
        tu.assert_almost_equal(np.ones((2, 3)), np.ones((3, 2)))
    tu.assert_almost_equal(np.array([np.inf]), np.array([np.inf]))
    tu.assert_almost_equal(np.array([np.nan]), np.array([np.nan]), equal_nan=True)
    with pytest.raises(AssertionError):
        tu.assert_almost_equal(np.array([np.nan]), np.array([np.nan]))
    tu.assert_almost_equal(1.0, 1.0 + 1e-6, names=('x', 'y'), mismatches=(5, 5))


def test_assert_almost_equal_names_the_worst_elements():
    a, b = np.zeros(20), np.arange(20.0)
    with pytest.raises(AssertionError) as info:
        tu.assert_almost_equal(a, b, rtol=0, atol=0.5, names=('got', 'want'),
                               mismatches=(3, 10))
    text = str(info.value)
    assert '19 of 20 elements' in text and 'at (19,): got=0.0, want=19.0' in text
    assert text.count('  at ') == 3
