"""Appendix "Layers and operators for images, sequences and shapes": the shape, sorting,
gathering and sequence operators.

Values are checked against NumPy or against numbers printed by MXNet 1.9.1 (said so
where used); gradients against central finite differences in float64.
"""

import inspect

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.appendix

RNG = np.random.default_rng(0)
X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def values(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ------------------------------------------------------------------------ MXNet keywords

def test_out_writes_into_the_given_array_and_returns_it():
    x = nd.array(X)
    buf = nd.zeros((2, 3, 2))
    assert nd.slice_axis(x, axis=2, begin=1, end=3, out=buf) is buf
    assert_array_equal(buf.asnumpy(), X[..., 1:3])
    assert_array_equal(nd.sort(x, name='sorted', stype='default').asnumpy(), X)


def test_sparse_storage_is_refused_with_a_clear_error():
    with pytest.raises(MXNetError, match='sparse storage'):
        nd.slice_axis(nd.array(X), axis=0, begin=0, end=1, stype='row_sparse')


# ------------------------------------------------------------------------------ slicing

@pytest.mark.parametrize('begin, end, step, key', [
    ((None, 1), (None, None), (None, -1), np.s_[:, 1::-1]),
    ((1, None, -1), (None, 0, 0), (1, -1, -1), np.s_[1:, :0:-1, -1:0:-1]),
    ((0, 1), (1, 3), (), np.s_[0:1, 1:3]),
    ((-1,), (None,), None, np.s_[-1:]),
])
def test_slice_matches_python_slicing(begin, end, step, key):
    x = nd.array(X)
    out = nd.slice(x, begin=begin, end=end, step=step) if step is not None \
        else nd.slice(x, begin=begin, end=end)
    assert_array_equal(out.asnumpy(), X[key])
    assert_array_equal(x.slice(begin=begin, end=end, step=step or ()).asnumpy(), X[key])


def test_slice_returns_a_copy_and_crop_is_slice():
    x = nd.array(X)
    out = nd.slice(x, begin=(0,), end=(1,))
    out[:] = -1
    assert x.asnumpy().min() == 0
    assert nd.crop is nd.slice
    with pytest.raises(MXNetError, match='step cannot be 0'):
        nd.slice(x, begin=(0,), end=(1,), step=(0,))


def test_slice_axis_and_slice_like():
    x = nd.array(X)
    assert_array_equal(nd.slice_axis(x, axis=2, begin=-3, end=None).asnumpy(), X[..., -3:])
    assert_array_equal(x.slice_axis(axis=1, begin=1, end=-1).asnumpy(), X[:, 1:-1])
    like = nd.zeros((1, 2))
    assert_array_equal(nd.slice_like(x, like, axes=(0, 1)).asnumpy(), X[:1, :2])
    assert_array_equal(x.slice_like(nd.zeros((1, 2, 3))).asnumpy(), X[:1, :2, :3])
    with pytest.raises(MXNetError, match='same number of dimensions'):
        nd.slice_like(x, like)


def test_reshape_like_takes_part_of_the_other_shape():
    # Shapes printed by MXNet 1.9.1 for the same calls.
    lhs = nd.zeros((30, 7))
    assert nd.reshape_like(lhs, nd.zeros((15, 2, 4)), lhs_begin=0, lhs_end=1,
                           rhs_begin=0, rhs_end=2).shape == (15, 2, 7)
    assert nd.reshape_like(nd.zeros((2, 6)), nd.zeros((3, 4))).shape == (3, 4)
    assert nd.zeros((2, 3, 4)).reshape_like(nd.zeros((6, 2, 2)), lhs_begin=-1,
                                            rhs_begin=1).shape == (2, 3, 2, 2)
    with pytest.raises(MXNetError, match='cannot take the shape'):
        nd.reshape_like(nd.zeros((2, 3)), nd.zeros((4, 2)))


def test_moveaxis_concatenate_and_split_v2():
    x = nd.array(X)
    assert_array_equal(nd.moveaxis(x, [0, 1], [1, 2]).asnumpy(),
                       np.moveaxis(X, [0, 1], [1, 2]))
    assert_array_equal(nd.moveaxis(x, -1, 0).asnumpy(), np.moveaxis(X, -1, 0))
    assert_array_equal(nd.concatenate([x, x], axis=1).asnumpy(),
                       np.concatenate([X, X], axis=1))
    assert nd.concatenate([x], always_copy=False) is x
    parts = nd.split_v2(x, (1, 3), axis=2)
    for part, ref in zip(parts, np.split(X, [1, 3], axis=2)):
        assert_array_equal(part.asnumpy(), ref)
    assert [p.shape for p in x.split_v2(2, axis=0, squeeze_axis=True)] == [(3, 4)] * 2
    assert isinstance(nd.split_v2(x, 1, axis=0), mx.nd.NDArray)   # one part: no list
    with pytest.raises(MXNetError, match='equal sections'):
        nd.split_v2(x, 5, axis=2)


def test_depth_to_space_values_from_mxnet():
    # MXNet 1.9.1: nd.depth_to_space(nd.arange(16).reshape((1, 4, 2, 2)), 2)
    d = nd.depth_to_space(nd.arange(16).reshape((1, 4, 2, 2)), 2)
    assert_array_equal(d.asnumpy()[0, 0], [[0, 4, 1, 5], [8, 12, 9, 13],
                                           [2, 6, 3, 7], [10, 14, 11, 15]])
    # MXNet 1.9.1: nd.space_to_depth(nd.arange(16).reshape((1, 1, 4, 4)), 2)
    s = nd.space_to_depth(nd.arange(16).reshape((1, 1, 4, 4)), 2)
    assert_array_equal(s.asnumpy()[0, :, 0], [[0, 2], [1, 3], [4, 6], [5, 7]])
    assert_array_equal(nd.depth_to_space(s, 2).asnumpy(), np.arange(16).reshape(1, 1, 4, 4))
    with pytest.raises(MXNetError, match='divisible by 4'):
        nd.depth_to_space(nd.zeros((1, 3, 2, 2)), 2)


def test_diag_eye_linspace_shape_and_size():
    v = np.array([1., 2., 3.])
    assert_array_equal(nd.diag(nd.array(v), k=1).asnumpy(), np.diag(v, 1))
    m = values((3, 4))
    assert_allclose(nd.diag(nd.array(m), k=-1).asnumpy(), np.diag(m, -1), rtol=1e-6)
    t = values((3, 2, 4))
    assert_allclose(nd.diag(nd.array(t), k=-1, axis1=2, axis2=0).asnumpy(),
                    np.diagonal(t, -1, 2, 0), rtol=1e-6)
    assert_array_equal(nd.eye(3, 4, 1).asnumpy(), np.eye(3, 4, 1))
    assert nd.eye(2).dtype == np.float32 and nd.eye(2, dtype='int32').dtype == np.int32
    assert_allclose(nd.linspace(0, 1, 4, endpoint=False).asnumpy(), [0, .25, .5, .75])
    assert nd.shape_array(nd.array(X)).dtype == np.int64
    assert_array_equal(nd.shape_array(nd.array(X)).asnumpy(), [2, 3, 4])
    assert_array_equal(nd.array(X).size_array().asnumpy(), [24])


# ---------------------------------------------------------------------- sort and gather

def test_sort_argsort_cumsum_match_numpy():
    a = values((3, 5), 1).astype(np.float32)
    x = nd.array(a)
    assert_array_equal(nd.sort(x).asnumpy(), np.sort(a, axis=-1))
    assert_array_equal(x.sort(axis=0, is_ascend=False).asnumpy(), -np.sort(-a, axis=0))
    assert_array_equal(nd.sort(x, axis=None).asnumpy(), np.sort(a, axis=None))
    idx = nd.argsort(x, axis=0)
    assert idx.dtype == np.float32
    assert_array_equal(idx.asnumpy(), np.argsort(a, axis=0))
    assert nd.argsort(x, dtype='int32').dtype == np.int32
    assert_allclose(nd.cumsum(x, axis=1).asnumpy(), np.cumsum(a, axis=1), rtol=1e-6)
    assert_allclose(nd.cumsum(x).asnumpy(), np.cumsum(a), rtol=1e-6)
    assert nd.cumsum(nd.array([1, 2], dtype='int32')).dtype == np.int32   # as MXNet


def test_batch_take_gather_scatter_and_fill():
    a = nd.array([[1, 2], [3, 4], [5, 6]])
    # MXNet 1.9.1 clips the indices: [0, 1, 5] -> [1, 4, 6] and [0, -1, 0] -> [1, 3, 5].
    assert_array_equal(nd.batch_take(a, nd.array([0, 1, 5], dtype='int32')).asnumpy(),
                       [1, 4, 6])
    assert_array_equal(nd.batch_take(a, nd.array([0, -1, 0], dtype='int32')).asnumpy(),
                       [1, 3, 5])
    data, idx = nd.array([[0, 1], [2, 3]]), nd.array([[1, 1, 0], [0, 1, 0]])
    assert_array_equal(nd.gather_nd(data, idx).asnumpy(), [2, 3, 0])
    assert_array_equal(nd.gather_nd(data, nd.array([[1, 0]])).asnumpy(), [[2, 3], [0, 1]])
    assert_array_equal(nd.scatter_nd(nd.array([2, 3, 0]), idx, shape=(2, 2)).asnumpy(),
                       [[0, 0], [2, 3]])
    assert nd.choose_element_0index is nd.pick
    filled = nd.fill_element_0index(nd.array([[1, 2], [3, 4]]), nd.array([9, 8]),
                                    nd.array([1, 0]))
    assert_array_equal(filled.asnumpy(), [[1, 9], [8, 4]])
    out = nd.zeros((3, 4))
    assert nd.onehot_encode(nd.array([1, 0, 3]), out) is out
    assert_array_equal(out.asnumpy(), np.eye(4)[[1, 0, 3]])


def test_ravel_unravel_argmax_channel_and_reverse():
    # MXNet 1.9.1: ravel_multi_index([[3, 6, 6], [4, 5, 1]], shape=(7, 6)) = [22, 41, 37]
    coords = nd.array([[3, 6, 6], [4, 5, 1]])
    flat = nd.ravel_multi_index(coords, shape=(7, 6))
    assert_array_equal(flat.asnumpy(), [22, 41, 37])
    assert_array_equal(nd.unravel_index(flat, shape=(7, 6)).asnumpy(), coords.asnumpy())
    assert_array_equal(nd.argmax_channel(nd.array([[0, 5, 1], [4, 2, 3]])).asnumpy(), [1, 0])
    assert_array_equal(nd.argmax_channel(nd.array(X)).asnumpy(), np.full((2, 4), 2))
    assert_array_equal(nd.reverse(nd.array(X), axis=1).asnumpy(), X[:, ::-1])


# --------------------------------------------------------------------------- sequences

S = np.arange(24, dtype=np.float32).reshape(3, 2, 4)


def test_sequence_mask_values_from_mxnet():
    s = nd.array(S)
    out = nd.SequenceMask(s, nd.array([1, 3]), use_sequence_length=True, value=-1)
    ref = S.copy()
    ref[1:, 0] = -1                       # MXNet 1.9.1 prints the same array
    assert_array_equal(out.asnumpy(), ref)
    out = nd.SequenceMask(s, nd.array([1, 2, 3]), use_sequence_length=True, axis=1)
    ref = S.copy()
    ref[0, 1:] = 0
    ref[1, 2:] = 0
    assert_array_equal(out.asnumpy(), ref)
    assert_array_equal(nd.SequenceMask(s).asnumpy(), S)   # lengths ignored by default
    lengths = nd.array([1, 3], dtype='int32')
    assert nd.SequenceMask(s, lengths, use_sequence_length=True).shape == S.shape


def test_sequence_last_and_reverse_values_from_mxnet():
    s = nd.array(S)
    # MXNet 1.9.1: [[0, 1, 2, 3], [20, 21, 22, 23]]
    assert_array_equal(nd.SequenceLast(s, nd.array([1, 3]),
                                       use_sequence_length=True).asnumpy(),
                       [[0, 1, 2, 3], [20, 21, 22, 23]])
    assert_array_equal(nd.SequenceLast(s).asnumpy(), S[-1])
    assert_array_equal(nd.SequenceLast(s, nd.array([1, 2, 2]), use_sequence_length=True,
                                       axis=1).asnumpy(), [[0, 1, 2, 3], [12, 13, 14, 15],
                                                           [20, 21, 22, 23]])
    rev = nd.SequenceReverse(s, nd.array([1, 2]), use_sequence_length=True).asnumpy()
    assert_array_equal(rev[:, 0], S[:, 0])                  # length 1: unchanged
    assert_array_equal(rev[:, 1], S[[1, 0, 2], 1])          # first two steps swapped
    assert_array_equal(nd.SequenceReverse(s).asnumpy(), S[::-1])


def test_sequence_errors_name_the_problem():
    s = nd.array(S)
    with pytest.raises(MXNetError, match='axis must be one of'):
        nd.SequenceReverse(s, nd.array([1, 2, 3]), use_sequence_length=True, axis=1)
    with pytest.raises(MXNetError, match='needs a sequence_length'):
        nd.SequenceMask(s, use_sequence_length=True)
    with pytest.raises(MXNetError, match='at most 3 steps'):
        nd.SequenceLast(s, nd.array([1, 4]), use_sequence_length=True)


# --------------------------------------------------------------------------- gradients

def _const(v):
    return nd.array(v, dtype='float64')


GRADIENTS = {
    'slice': (lambda x: nd.slice(x, begin=(1, None, -1), end=(None, 0, 0),
                                 step=(1, -1, -1)), [(2, 3, 4)]),
    'slice_axis': (lambda x: nd.slice_axis(x, axis=1, begin=1, end=None), [(2, 3, 4)]),
    'slice_like': (lambda x: nd.slice_like(x, _const(np.zeros((2, 1, 3))), axes=(0, 2)),
                   [(3, 3, 4)]),
    'reshape_like': (lambda x: nd.reshape_like(x, _const(np.zeros((6, 2, 2))),
                                               lhs_begin=-1, rhs_begin=1), [(2, 3, 4)]),
    'moveaxis': (lambda x: nd.moveaxis(x, 0, -1), [(2, 3, 4)]),
    'concatenate': (lambda x, y: nd.concatenate([x, y], axis=1), [(2, 3), (2, 2)]),
    'split_v2': (lambda x: nd.split_v2(x, (1, 3), axis=2)[1], [(2, 3, 4)]),
    'split_v2_squeeze': (lambda x: nd.split_v2(x, 3, axis=1, squeeze_axis=True)[2],
                         [(2, 3, 4)]),
    'depth_to_space': (lambda x: nd.depth_to_space(x, 2), [(1, 8, 2, 3)]),
    'space_to_depth': (lambda x: nd.space_to_depth(x, 2), [(1, 2, 4, 6)]),
    'diag_vector': (lambda x: nd.diag(x, k=-1), [(3,)]),
    'diag_matrix': (lambda x: nd.diag(x, k=1), [(3, 4)]),
    'diag_axes': (lambda x: nd.diag(x, k=-1, axis1=2, axis2=0), [(3, 2, 4)]),
    'sort': (lambda x: nd.sort(x, axis=0, is_ascend=False), [(3, 4)]),
    'sort_flat': (lambda x: nd.sort(x, axis=None), [(3, 4)]),
    'cumsum': (lambda x: nd.cumsum(x, axis=1), [(3, 4)]),
    'cumsum_flat': (lambda x: nd.cumsum(x), [(3, 4)]),
    'batch_take': (lambda x: nd.batch_take(x, nd.array([3, 0, 2], dtype='int32')),
                   [(3, 4)]),
    'gather_nd': (lambda x: nd.gather_nd(x, _const([[1, 1, 1], [0, 2, 2]])), [(3, 4)]),
    'scatter_nd': (lambda x: nd.scatter_nd(x, _const([[1, 0, 2], [0, 1, 3]]),
                                           shape=(3, 4, 2)), [(3, 2)]),
    'fill_element_0index': (lambda x, m: nd.fill_element_0index(x, m, _const([3, 0, 2])),
                            [(3, 4), (3,)]),
    'SequenceMask': (lambda x: nd.SequenceMask(x, _const([1, 4, 2]),
                                               use_sequence_length=True, value=-1),
                     [(4, 3, 2)]),
    'SequenceMask_axis1': (lambda x: nd.SequenceMask(x, _const([1, 4, 2]),
                                                     use_sequence_length=True, axis=1),
                           [(3, 4, 2)]),
    'SequenceLast': (lambda x: nd.SequenceLast(x, _const([1, 4, 2]),
                                               use_sequence_length=True), [(4, 3, 2)]),
    'SequenceLast_axis1': (lambda x: nd.SequenceLast(x, _const([1, 4, 2]),
                                                     use_sequence_length=True, axis=1),
                           [(3, 4, 2)]),
    'SequenceLast_no_length': (lambda x: nd.SequenceLast(x), [(4, 3, 2)]),
    'SequenceReverse': (lambda x: nd.SequenceReverse(x, _const([1, 4, 2]),
                                                     use_sequence_length=True),
                        [(4, 3, 2)]),
}


@pytest.mark.parametrize('name', sorted(GRADIENTS))
def test_gradients_match_finite_differences(name):
    fn, shapes = GRADIENTS[name]
    inputs = [values(shape, seed) for seed, shape in enumerate(shapes)]
    check_numeric_gradient(fn, inputs)


def test_no_gradient_operators_give_none():
    x = nd.array(values((3, 4)))
    x.attach_grad()
    with autograd.record():
        y = nd.argsort(x) + nd.shape_array(x).astype('float32').sum()
    y.backward()
    assert_array_equal(x.grad.asnumpy(), 0)


def test_operator_classes_stay_private():
    appendix = {'shape_more', 'indexing_more', 'conv_nd', 'normalization', 'output', 'activation',
                'legacy'}
    public_classes = [n for n in dir(nd) if not n.startswith('_')
                      and inspect.isclass(getattr(nd, n))
                      and getattr(nd, n).__module__.rsplit('.', 1)[-1] in appendix]
    assert public_classes == []
    for name in ('slice', 'sort', 'gather_nd', 'SequenceMask', 'Reshape', 'Concat'):
        assert callable(getattr(nd, name)) and not inspect.isclass(getattr(nd, name))
