"""Tests of `mx.io` (appendix "Data iterators, test utilities and other Gluon pieces"):
DataDesc, DataBatch, DataIter, NDArrayIter, ResizeIter.

Expected batches and pads come from MXNet 1.9.1 (`mx.io.NDArrayIter` with the same
arguments, printed and pasted here), except where a comment says otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

import minimx as mx
from minimx import nd
from minimx.base import MXNetError
from minimx.io import DataBatch, DataDesc, DataIter, NDArrayIter, ResizeIter

pytestmark = pytest.mark.appendix


def epochs(it, count=3):
    """The label (or data) rows and pad of every batch, for `count` epochs."""
    out = []
    for _ in range(count):
        batches = []
        for b in it:
            rows = b.label[0] if b.label else b.data[0]
            batches.append((rows.asnumpy().astype(int).tolist(), b.pad))
        out.append(batches)
        it.reset()
    return out


# --- DataDesc and DataBatch ----------------------------------------------------


def test_datadesc_is_a_name_shape_tuple_with_dtype_and_layout():
    desc = DataDesc('data', (4, 1, 28, 28))
    name, shape = desc
    assert (name, shape) == ('data', (4, 1, 28, 28))
    assert desc == ('data', (4, 1, 28, 28))
    assert desc.dtype is np.float32 and desc.layout == 'NCHW'
    # MXNet 1.9.1: repr(mx.io.DataDesc('x', (2, 3)))
    assert repr(DataDesc('x', (2, 3))) == "DataDesc[x,(2, 3),<class 'numpy.float32'>,NCHW]"
    other = DataDesc('x', (2, 3), np.int32, 'NC')
    assert other.dtype is np.int32 and other.layout == 'NC'


def test_datadesc_batch_axis_and_get_list():
    assert DataDesc.get_batch_axis('NCHW') == 0
    assert DataDesc.get_batch_axis('TNC') == 1
    assert DataDesc.get_batch_axis(None) == 0
    descs = DataDesc.get_list([('a', (1, 2)), ('b', (3,))], [('a', np.int32), ('b', np.float64)])
    assert descs == [('a', (1, 2)), ('b', (3,))]
    assert [d.dtype for d in descs] == [np.int32, np.float64]
    assert [d.dtype for d in DataDesc.get_list([('a', (1,))], None)] == [np.float32]


def test_databatch_fields_and_str():
    batch = DataBatch([nd.ones((2, 3))], [nd.ones(2)], pad=1, index=np.array([4, 5]))
    assert batch.pad == 1 and batch.index.tolist() == [4, 5]
    assert batch.bucket_key is None and batch.provide_data is None
    # MXNet 1.9.1: str(mx.io.DataBatch([mx.nd.ones((2, 3))], [mx.nd.ones(2)]))
    assert str(batch) == 'DataBatch: data shapes: [(2, 3)] label shapes: [(2,)]'
    assert str(DataBatch([nd.ones(2)])) == 'DataBatch: data shapes: [(2,)] label shapes: None'
    defaults = DataBatch([nd.ones(2)])
    assert defaults.label is None and defaults.pad is None and defaults.index is None


def test_databatch_rejects_a_bare_array():
    with pytest.raises(AssertionError, match='list of NDArrays'):
        DataBatch(nd.ones(2))
    with pytest.raises(MXNetError, match='label must be a list'):
        DataBatch([nd.ones(2)], label=nd.ones(2))


def test_dataiter_subclass_with_iter_next_and_getdata():
    class Countdown(DataIter):
        def __init__(self):
            super().__init__(batch_size=1)
            self.n = 3

        def iter_next(self):
            self.n -= 1
            return self.n >= 0

        def getdata(self):
            return [nd.array([self.n])]

    it = Countdown()
    assert iter(it) is it
    got = [(b.data[0].asscalar(), b.label, b.pad, b.index) for b in it]
    assert got == [(2.0, None, None, None), (1.0, None, None, None), (0.0, None, None, None)]


def test_dataiter_base_says_what_to_define():
    with pytest.raises(NotImplementedError, match='must define next'):
        next(DataIter())


# --- NDArrayIter: the three last-batch modes ------------------------------------


@pytest.mark.parametrize('n, batch_size, mode, expected', [
    # MXNet 1.9.1, three epochs each (reset() after each).
    (10, 4, 'pad', [[([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0), ([8, 9, 0, 1], 2)]] * 3),
    (10, 4, 'discard', [[([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)]] * 3),
    (10, 4, 'roll_over', [[([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)],
                          [([8, 9, 0, 1], 2), ([2, 3, 4, 5], 0), ([6, 7, 8, 9], 0)],
                          [([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)]]),
    (9, 4, 'pad', [[([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0), ([8, 0, 1, 2], 3)]] * 3),
    (9, 4, 'roll_over', [[([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)],
                         [([8, 0, 1, 2], 1), ([3, 4, 5, 6], 0)],
                         [([7, 8, 0, 1], 2), ([2, 3, 4, 5], 0)]]),
    (8, 4, 'pad', [[([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)]] * 3),
    (8, 4, 'roll_over', [[([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)]] * 3),
    (7, 3, 'pad', [[([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 0, 1], 2)]] * 3),
    (7, 3, 'roll_over', [[([0, 1, 2], 0), ([3, 4, 5], 0)],
                         [([6, 0, 1], 1), ([2, 3, 4], 0)],
                         [([5, 6, 0], 2), ([1, 2, 3], 0), ([4, 5, 6], 0)]]),
    (3, 8, 'pad', [[([0, 1, 2, 0, 1, 2, 0, 1], 5)]] * 3),
    (3, 5, 'pad', [[([0, 1, 2, 0, 1], 2)]] * 3),
    (3, 8, 'discard', [[], [], []]),
])
def test_last_batch_handle_matches_mxnet(n, batch_size, mode, expected):
    it = NDArrayIter(np.arange(n * 2).reshape(n, 2), np.arange(n), batch_size=batch_size,
                     last_batch_handle=mode)
    assert epochs(it) == expected


def test_data_rows_follow_their_labels():
    it = NDArrayIter(np.arange(20).reshape(10, 2), np.arange(10), batch_size=4)
    for batch in it:
        labels = batch.label[0].asnumpy()
        np.testing.assert_array_equal(batch.data[0].asnumpy(), np.stack([2 * labels,
                                                                         2 * labels + 1], 1))


@pytest.mark.parametrize('mode, expected', [
    # MXNet 1.9.1 after np.random.seed(0): (labels, first data column, pad) per batch.
    ('pad', [[([2, 8, 4, 9], [4, 16, 8, 18], 0), ([1, 6, 7, 3], [2, 12, 14, 6], 0),
              ([0, 5, 2, 8], [0, 10, 4, 16], 2)],
             [([5, 7, 0, 1], [10, 14, 0, 2], 0), ([6, 2, 4, 3], [12, 4, 8, 6], 0),
              ([9, 8, 5, 7], [18, 16, 10, 14], 2)],
             [([9, 6, 1, 2], [18, 12, 2, 4], 0), ([5, 4, 8, 0], [10, 8, 16, 0], 0),
              ([7, 3, 9, 6], [14, 6, 18, 12], 2)]]),
    ('roll_over', [[([2, 8, 4, 9], [4, 16, 8, 18], 0), ([1, 6, 7, 3], [2, 12, 14, 6], 0)],
                   [([0, 5, 5, 7], [0, 10, 10, 14], 2), ([0, 1, 6, 2], [0, 2, 12, 4], 0),
                    ([4, 3, 9, 8], [8, 6, 18, 16], 0)],
                   [([9, 6, 1, 2], [18, 12, 2, 4], 0), ([5, 4, 8, 0], [10, 8, 16, 0], 0)]]),
    ('discard', [[([2, 8, 4, 9], [4, 16, 8, 18], 0), ([1, 6, 7, 3], [2, 12, 14, 6], 0)],
                 [([5, 7, 0, 1], [10, 14, 0, 2], 0), ([6, 2, 4, 3], [12, 4, 8, 6], 0)],
                 [([9, 6, 1, 2], [18, 12, 2, 4], 0), ([5, 4, 8, 0], [10, 8, 16, 0], 0)]]),
])
def test_shuffle_matches_mxnet_after_the_same_seed(mode, expected):
    np.random.seed(0)
    it = NDArrayIter(np.arange(20).reshape(10, 2), np.arange(10), batch_size=4,
                     shuffle=True, last_batch_handle=mode)
    got = []
    for _ in range(3):
        got.append([(b.label[0].asnumpy().astype(int).tolist(),
                     b.data[0].asnumpy()[:, 0].astype(int).tolist(), b.pad) for b in it])
        it.reset()
    assert got == expected


# --- NDArrayIter: inputs, names, descriptions ------------------------------------


def test_provide_data_and_label_single_arrays():
    it = NDArrayIter(np.arange(20).reshape(10, 2), np.arange(10), batch_size=4)
    # MXNet 1.9.1: NumPy inputs become float32 NDArrays
    assert repr(it.provide_data) == "[DataDesc[data,(4, 2),<class 'numpy.float32'>,NCHW]]"
    assert repr(it.provide_label) == ("[DataDesc[softmax_label,(4,),<class 'numpy.float32'>,"
                                      "NCHW]]")


def test_ndarray_inputs_keep_their_dtype_numpy_inputs_become_float32():
    # MXNet 1.9.1: an int32 NDArray stays int32; an int64 NumPy array becomes float32.
    it = NDArrayIter(nd.array(np.arange(6).reshape(3, 2), dtype='int32'),
                     np.arange(3, dtype='int64'), batch_size=2)
    batch = next(it)
    assert it.provide_data[0].dtype is np.int32 and it.provide_label[0].dtype is np.float32
    assert batch.data[0].dtype == np.int32 and batch.label[0].dtype == np.float32


def test_dict_and_list_inputs_are_named_and_sorted_as_in_mxnet():
    it = NDArrayIter({'b': np.zeros((4, 1)), 'a': np.ones((4, 2))},
                     [np.zeros(4), np.ones(4), np.ones(4)], batch_size=2)
    assert it.provide_data == [('a', (2, 2)), ('b', (2, 1))]
    assert it.provide_label == [('_0_softmax_label', (2,)), ('_1_softmax_label', (2,)),
                                ('_2_softmax_label', (2,))]
    batch = next(it)
    assert [d.shape for d in batch.data] == [(2, 2), (2, 1)]
    assert batch.data[0].asnumpy().tolist() == [[1, 1], [1, 1]]
    assert [lab.asnumpy().tolist() for lab in batch.label] == [[0, 0], [1, 1], [1, 1]]


def test_custom_names_and_no_label():
    it = NDArrayIter(np.arange(4), batch_size=2, data_name='x', label_name='y')
    assert it.provide_data == [('x', (2,))] and it.provide_label == []
    batch = next(it)
    # MXNet 1.9.1: label [], index None, pad 0
    assert batch.label == [] and batch.index is None and batch.pad == 0


def test_batches_stay_on_the_arrays_context():
    x = nd.array(np.arange(12).reshape(6, 2), ctx=mx.cpu(1))
    it = NDArrayIter(x, nd.arange(6, ctx=mx.cpu(1)), batch_size=4)
    for batch in it:
        assert batch.data[0].context is mx.cpu(1) and batch.label[0].context is mx.cpu(1)


def test_batches_are_copies():
    x = nd.array(np.arange(8).reshape(4, 2))
    batch = next(NDArrayIter(x, batch_size=2))
    batch.data[0][:] = -1
    assert x.asnumpy().min() == 0


def test_layout_with_batch_axis_one():
    # minimx counts samples along the layout's 'N' axis (6 here), where MXNet 1.9.1
    # counts along axis 0 whatever the layout; batches are cut along 'N' in both.
    x = np.arange(2 * 6 * 3).reshape(2, 6, 3)
    it = NDArrayIter(x, batch_size=4, layout='TNC')
    assert it.provide_data == [('data', (2, 4, 3))] and it.provide_data[0].layout == 'TNC'
    batches = list(it)
    assert [(b.data[0].shape, b.pad) for b in batches] == [((2, 4, 3), 0), ((2, 4, 3), 2)]
    np.testing.assert_array_equal(batches[1].data[0].asnumpy(), x[:, [4, 5, 0, 1]])


def test_end_of_epoch_and_reset_mid_epoch():
    it = NDArrayIter(np.arange(4), batch_size=2)
    assert len(list(it)) == 2
    assert len(list(it)) == 0                 # MXNet 1.9.1: no batches without reset()
    it.reset()
    next(it)
    it.reset()                                # reset mid-epoch starts again
    assert [b.data[0].asnumpy().tolist() for b in it] == [[0, 1], [2, 3]]
    with pytest.raises(StopIteration):
        it.next()


def test_hard_reset_forgets_the_rolled_over_batch():
    it = NDArrayIter(np.arange(10), batch_size=4, last_batch_handle='roll_over')
    first = [b.data[0].asnumpy().tolist() for b in it]
    it.hard_reset()
    assert [b.data[0].asnumpy().tolist() for b in it] == first == [[0, 1, 2, 3],
                                                                    [4, 5, 6, 7]]


def test_getpad_and_cursor_as_in_mxnet():
    it = NDArrayIter(np.arange(10), batch_size=4)
    assert it.cursor == -4 and it.num_data == 10 and it.batch_size == 4
    for expected in (0, 0, 2):
        next(it)
        assert it.getpad() == expected and it.getindex() is None


def test_bad_arguments_are_explained():
    with pytest.raises(MXNetError, match="'pad', 'discard' or 'roll_over'"):
        NDArrayIter(np.arange(4), last_batch_handle='keep')
    with pytest.raises(MXNetError, match='positive integer'):
        NDArrayIter(np.arange(4), batch_size=0)
    with pytest.raises(MXNetError, match="no batch axis 'N'"):
        NDArrayIter(np.arange(4), layout='TC')
    with pytest.raises(TypeError, match='must be an NDArray'):
        NDArrayIter('not an array')
    with pytest.raises(AssertionError, match='no data arrays'):
        NDArrayIter([])
    with pytest.raises(MXNetError, match='same number of samples.*data: 4.*softmax_label: 3'):
        NDArrayIter(np.arange(4), np.arange(3))
    with pytest.raises(MXNetError, match='cannot exceed the number of samples'):
        NDArrayIter(np.arange(3), batch_size=5, last_batch_handle='roll_over')


def test_mx_io_namespace():
    assert mx.io.NDArrayIter is NDArrayIter and mx.io.DataBatch is DataBatch
    assert {'DataBatch', 'DataDesc', 'DataIter', 'NDArrayIter', 'ResizeIter'} <= set(
        mx.io.__all__)


# --- ResizeIter ---------------------------------------------------------------


def test_resize_iter_restarts_the_inner_iterator():
    inner = NDArrayIter(np.arange(20).reshape(10, 2), np.arange(10), batch_size=4)
    five = ResizeIter(inner, size=5)
    # MXNet 1.9.1 gives the same five batches
    assert epochs(five, 1) == [[([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0), ([8, 9, 0, 1], 2),
                                ([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)]]
    assert five.provide_data == inner.provide_data and five.batch_size == 4
    two = ResizeIter(NDArrayIter(np.arange(10), batch_size=4), size=2)
    assert len(list(two)) == 2
    two.reset()
    assert [b.data[0].asnumpy().tolist() for b in two] == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.gpu
def test_ndarrayiter_on_a_gpu():
    x = nd.array(np.arange(20).reshape(10, 2), ctx=mx.gpu(0))
    y = nd.arange(10, ctx=mx.gpu(0))
    np.random.seed(0)
    it = NDArrayIter(x, y, batch_size=4, shuffle=True, last_batch_handle='roll_over')
    got = []
    for _ in range(2):
        for b in it:
            assert b.data[0].context is mx.gpu(0) and b.label[0].context is mx.gpu(0)
            got.append(b.label[0].asnumpy().astype(int).tolist())
        it.reset()
    # the same batches as on the CPU (MXNet 1.9.1 after np.random.seed(0))
    assert got == [[2, 8, 4, 9], [1, 6, 7, 3], [0, 5, 5, 7], [0, 1, 6, 2], [4, 3, 9, 8]]
