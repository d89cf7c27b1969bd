"""Chapter 6: gluon.utils -- clip_global_norm, split_data, split_and_load
(MXNet 1.9.1 semantics)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import gluon, nd
from minimx.base import MXNetError
from minimx.ndarray.ndarray import NDArray

pytestmark = pytest.mark.ch08

utils = gluon.utils


# ------------------------------------------------------------------ clip_global_norm

def _grads(scale=1.0, contexts=(mx.cpu(0), mx.cpu(0), mx.cpu(0))):
    rng = np.random.RandomState(0)
    raw = [scale * rng.randn(3).astype(np.float32),
           scale * rng.randn(2, 4).astype(np.float32),
           scale * rng.randn(2, 1, 3).astype(np.float32)]
    return raw, [nd.array(r, ctx=c) for r, c in zip(raw, contexts)]


def test_clip_global_norm_scales_all_arrays_by_one_factor():
    raw, arrays = _grads(scale=10.0)
    total = np.sqrt(sum(float((r.astype(np.float64) ** 2).sum()) for r in raw))
    assert total > 1.0
    norm = utils.clip_global_norm(arrays, max_norm=1.0)
    assert isinstance(norm, float)
    assert_allclose(norm, total, rtol=1e-6)
    factor = 1.0 / (total + 1e-8)
    for r, a in zip(raw, arrays):
        assert a.shape == r.shape and a.dtype == np.float32
        assert_allclose(a.asnumpy(), r * factor, rtol=1e-6)
    clipped = np.sqrt(sum(float((a.asnumpy().astype(np.float64) ** 2).sum()) for a in arrays))
    assert_allclose(clipped, 1.0, rtol=1e-5)


def test_clip_global_norm_hand_example():
    a, b = nd.array([3.0, 0.0]), nd.array([[0.0, 4.0]])      # joint norm 5
    assert utils.clip_global_norm([a, b], max_norm=2.0) == pytest.approx(5.0)
    assert_allclose(a.asnumpy(), [1.2, 0.0], rtol=1e-6)
    assert_allclose(b.asnumpy(), [[0.0, 1.6]], rtol=1e-6)


def test_clip_global_norm_below_max_leaves_arrays_unchanged():
    raw, arrays = _grads(scale=0.1)
    total = np.sqrt(sum(float((r.astype(np.float64) ** 2).sum()) for r in raw))
    assert total < 5.0
    norm = utils.clip_global_norm(arrays, max_norm=5.0)
    assert_allclose(norm, total, rtol=1e-6)
    for r, a in zip(raw, arrays):
        assert_array_equal(a.asnumpy(), r)


def test_clip_global_norm_across_contexts():
    contexts = (mx.cpu(0), mx.cpu(1), mx.cpu(1))
    raw, arrays = _grads(scale=5.0, contexts=contexts)
    total = np.sqrt(sum(float((r.astype(np.float64) ** 2).sum()) for r in raw))
    norm = utils.clip_global_norm(arrays, max_norm=0.5)
    assert_allclose(norm, total, rtol=1e-6)
    for r, a, c in zip(raw, arrays, contexts):
        assert a.context == c
        assert_allclose(a.asnumpy(), r * 0.5 / (total + 1e-8), rtol=1e-6)


@pytest.mark.filterwarnings('ignore:invalid value encountered:RuntimeWarning')
@pytest.mark.parametrize('bad', [np.nan, np.inf])
def test_clip_global_norm_warns_on_nan_or_inf(bad):
    arrays = [nd.array([1.0, bad]), nd.array([2.0])]
    with pytest.warns(UserWarning, match='nan or inf'):
        norm = utils.clip_global_norm(arrays, max_norm=1.0)
    assert not np.isfinite(norm)
    with warnings.catch_warnings(record=True) as caught:      # check_isfinite=False: silent
        warnings.simplefilter('always')
        utils.clip_global_norm([nd.array([1.0, bad])], max_norm=1.0, check_isfinite=False)
    assert not [w for w in caught if issubclass(w.category, UserWarning)]


def test_clip_global_norm_finite_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        utils.clip_global_norm([nd.array([30.0, 40.0])], max_norm=1.0)


def test_clip_global_norm_without_isfinite_check_returns_ndarray():
    norm = utils.clip_global_norm([nd.array([3.0, 4.0])], max_norm=1.0, check_isfinite=False)
    assert isinstance(norm, NDArray) and norm.shape == (1,)
    assert_allclose(norm.asnumpy(), [5.0], rtol=1e-6)


def test_clip_global_norm_empty_list_is_an_error():
    with pytest.raises(MXNetError, match='empty'):
        utils.clip_global_norm([], max_norm=1.0)


# ------------------------------------------------------------------ split_data

def test_even_split_gives_views_in_order():
    data = nd.arange(12).reshape(6, 2)
    parts = utils.split_data(data, 3)
    assert [p.shape for p in parts] == [(2, 2)] * 3
    expected = np.arange(12, dtype=np.float32).reshape(6, 2)
    for i, p in enumerate(parts):
        assert_array_equal(p.asnumpy(), expected[2 * i:2 * i + 2])
    data[:] = data * 10                     # views: the parts see the write
    assert_array_equal(parts[2].asnumpy(), expected[4:6] * 10)


def test_single_slice_is_a_list_of_the_whole():
    data = nd.arange(6).reshape(3, 2)
    parts = utils.split_data(data, 1)
    assert isinstance(parts, list) and len(parts) == 1
    assert_array_equal(parts[0].asnumpy(), data.asnumpy())


def test_uneven_with_even_split_is_an_error_naming_shape_and_fix():
    with pytest.raises((MXNetError, ValueError)) as info:
        utils.split_data(nd.zeros((10, 2)), 3)
    message = str(info.value)
    assert '(10, 2)' in message and '3' in message and 'even_split=False' in message


def test_uneven_split_covers_the_data_in_order():
    data = nd.arange(20).reshape(10, 2)
    parts = utils.split_data(data, 3, even_split=False)
    assert len(parts) == 3
    assert_array_equal(np.concatenate([p.asnumpy() for p in parts]), data.asnumpy())


@pytest.mark.parametrize('size, num, expected', [
    (10, 3, [4, 3, 3]),
    (31, 8, [4, 4, 4, 4, 4, 4, 4, 3]),
    (7, 4, [2, 2, 2, 1]),
])
def test_uneven_split_follows_array_split(size, num, expected):
    data = nd.arange(size)
    parts = utils.split_data(data, num, even_split=False)
    assert [p.shape[0] for p in parts] == expected
    for p, ref in zip(parts, np.array_split(np.arange(size, dtype=np.float32), num)):
        assert_array_equal(p.asnumpy(), ref)


def test_split_along_batch_axis_1():
    raw = np.arange(24, dtype=np.float32).reshape(2, 6, 2)
    parts = utils.split_data(nd.array(raw), 3, batch_axis=1)
    assert [p.shape for p in parts] == [(2, 2, 2)] * 3
    for i, p in enumerate(parts):
        assert_array_equal(p.asnumpy(), raw[:, 2 * i:2 * i + 2])
    with pytest.raises((MXNetError, ValueError)) as info:
        utils.split_data(nd.array(raw), 4, batch_axis=1)
    assert '(2, 6, 2)' in str(info.value) and 'even_split=False' in str(info.value)


# ------------------------------------------------------------------ split_and_load

def test_split_and_load_puts_part_i_on_context_i():
    contexts = [mx.cpu(0), mx.cpu(1)]
    raw = np.arange(8, dtype=np.float32).reshape(4, 2)
    parts = utils.split_and_load(nd.array(raw), contexts)
    assert [(p.context, p.shape) for p in parts] == [(mx.cpu(0), (2, 2)), (mx.cpu(1), (2, 2))]
    assert_array_equal(parts[0].asnumpy(), raw[:2])
    assert_array_equal(parts[1].asnumpy(), raw[2:])


def test_split_and_load_single_context_returns_whole_batch_there():
    raw = np.arange(6, dtype=np.float32).reshape(3, 2)       # 3 rows: no split needed
    parts = utils.split_and_load(nd.array(raw), [mx.cpu(1)])
    assert len(parts) == 1
    assert parts[0].context == mx.cpu(1) and parts[0].shape == (3, 2)
    assert_array_equal(parts[0].asnumpy(), raw)


def test_split_and_load_accepts_numpy_input():
    raw = np.arange(12, dtype=np.float32).reshape(6, 2)
    parts = utils.split_and_load(raw, [mx.cpu(0), mx.cpu(1), mx.cpu(0)])
    assert all(isinstance(p, NDArray) for p in parts)
    assert [p.context for p in parts] == [mx.cpu(0), mx.cpu(1), mx.cpu(0)]
    for i, p in enumerate(parts):
        assert_array_equal(p.asnumpy(), raw[2 * i:2 * i + 2])
    with pytest.raises((MXNetError, ValueError), match='even_split=False'):
        utils.split_and_load(np.zeros((5, 2)), [mx.cpu(0), mx.cpu(1)])


def test_split_and_load_batch_axis_1():
    raw = np.arange(12, dtype=np.float32).reshape(3, 4)
    parts = utils.split_and_load(nd.array(raw), [mx.cpu(0), mx.cpu(1)], batch_axis=1)
    assert [(p.context, p.shape) for p in parts] == [(mx.cpu(0), (3, 2)), (mx.cpu(1), (3, 2))]
    assert_array_equal(parts[1].asnumpy(), raw[:, 2:])
