"""Tests of gluon.data (Chapter 6, Data): datasets, samplers, DataLoader, transforms, vision
data sets."""

from __future__ import annotations

import gzip
import os
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minimx as mx
from minimx import nd
from minimx.base import MXNetError
from minimx.gluon import data as gdata
from minimx.gluon.data import (
    ArrayDataset,
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    SimpleDataset,
)
from minimx.gluon.data.dataloader import default_batchify_fn
from minimx.gluon.data.vision import MNIST, Digits, FashionMNIST, transforms

pytestmark = pytest.mark.ch06


# --- Datasets -----------------------------------------------------------------


def test_dataset_base_is_abstract():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


def test_simple_dataset_and_iteration():
    ds = SimpleDataset([(1, 'a'), (2, 'b'), (3, 'c')])
    assert len(ds) == 3
    assert ds[1] == (2, 'b')
    assert list(ds) == [(1, 'a'), (2, 'b'), (3, 'c')]


def test_array_dataset_fields_and_types():
    X = nd.arange(12).reshape((4, 3))
    y = np.array([3, 1, 4, 1], dtype=np.int32)
    ds = ArrayDataset(X, y, [10, 20, 30, 40])
    assert len(ds) == 4
    x2, y2, z2 = ds[2]
    assert isinstance(x2, nd.NDArray)
    np.testing.assert_array_equal(x2.asnumpy(), [6, 7, 8])
    assert y2 == 4 and y2.dtype == np.int32
    assert z2 == 30


def test_array_dataset_single_array_gives_bare_samples():
    ds = ArrayDataset(np.arange(5) * 2)
    assert ds[3] == 6


def test_array_dataset_one_dimensional_ndarray_becomes_numpy():
    ds = ArrayDataset(nd.ones((3, 2)), nd.array([0, 1, 2]))
    _, label = ds[1]
    assert not isinstance(label, nd.NDArray)
    assert label == 1.0 and label.dtype == np.float32


def test_array_dataset_length_mismatch_names_lengths():
    with pytest.raises(MXNetError, match=r"array 0: 10, array 1: 9"):
        ArrayDataset(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(MXNetError, match="at least one"):
        ArrayDataset()
    with pytest.raises(MXNetError, match="has no length"):
        ArrayDataset(np.zeros(3), 5)


def test_transform_unpacks_tuples_and_is_lazy():
    calls = []

    def fn(x, y):
        calls.append(x)
        return x * 10, y + 1

    ds = ArrayDataset(np.arange(4), np.arange(4))
    lazy = ds.transform(fn)
    assert calls == []
    assert lazy[2] == (20, 3)
    assert calls == [2]
    eager = ds.transform(fn, lazy=False)
    assert len(calls) == 5 and isinstance(eager, SimpleDataset)
    assert [eager[i] for i in range(4)] == [(0, 1), (10, 2), (20, 3), (30, 4)]


def test_transform_on_single_field_samples():
    ds = SimpleDataset([1, 2, 3]).transform(lambda x: -x)
    assert list(ds) == [-1, -2, -3]


def test_transform_first_leaves_other_fields():
    ds = ArrayDataset(np.arange(3), np.array([7, 8, 9])).transform_first(lambda x: x + 100)
    assert ds[1] == (101, 8)
    single = SimpleDataset([1, 2]).transform_first(lambda x: x * 3)
    assert single[1] == 6


def test_filter_and_take():
    ds = ArrayDataset(np.arange(10), np.arange(10) % 3)
    zeros = ds.filter(lambda sample: sample[1] == 0)
    assert [sample[0] for sample in zeros] == [0, 3, 6, 9]
    assert len(ds.take(4)) == 4 and ds.take(4)[3] == (3, 0)
    assert len(ds.take(100)) == 10 and len(ds.take(None)) == 10


# --- Samplers -----------------------------------------------------------------


def test_sequential_sampler():
    assert list(SequentialSampler(4)) == [0, 1, 2, 3]
    assert list(SequentialSampler(3, start=5)) == [5, 6, 7]
    assert len(SequentialSampler(4)) == 4


def test_random_sampler_is_a_permutation_reproducible_with_numpy_seed():
    np.random.seed(3)
    first = list(RandomSampler(20))
    second = list(RandomSampler(20))
    assert sorted(first) == list(range(20)) and len(RandomSampler(20)) == 20
    assert first != second                      # a new order every epoch
    np.random.seed(3)
    assert list(RandomSampler(20)) == first
    np.random.seed(3)
    expected = np.arange(20)
    np.random.shuffle(expected)                 # exactly MXNet's draw
    assert first == expected.tolist()


@pytest.mark.parametrize("mode, epochs, lengths", [
    ('keep', [[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]] * 3, [3, 3, 3]),
    ('discard', [[[0, 1, 2, 3], [4, 5, 6, 7]]] * 3, [2, 2, 2]),
    ('rollover', [[[0, 1, 2, 3], [4, 5, 6, 7]],
                  [[8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]],
                  [[0, 1, 2, 3], [4, 5, 6, 7]]], [2, 3, 2]),
])
def test_batch_sampler_last_batch_modes(mode, epochs, lengths):
    sampler = BatchSampler(SequentialSampler(10), 4, mode)
    for expected, n in zip(epochs, lengths):
        assert len(sampler) == n
        assert list(sampler) == expected


def test_batch_sampler_rollover_carries_leftovers_like_mxnet():
    # 7 samples in batches of 3: leftover [6], then [5, 6], then nothing
    sampler = BatchSampler(SequentialSampler(7), 3, 'rollover')
    lengths, seen = [], []
    for _ in range(3):
        lengths.append(len(sampler))
        seen.append(list(sampler))
    assert lengths == [2, 2, 3]
    assert seen == [[[0, 1, 2], [3, 4, 5]],
                    [[6, 0, 1], [2, 3, 4]],
                    [[5, 6, 0], [1, 2, 3], [4, 5, 6]]]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 30), size=st.integers(1, 8),
       mode=st.sampled_from(['keep', 'discard', 'rollover']), epochs=st.integers(1, 4))
def test_batch_sampler_properties(n, size, mode, epochs):
    """Every batch is full (except keep's last); len() predicts each epoch; no sample is lost."""
    sampler = BatchSampler(SequentialSampler(n), size, mode)
    served = []
    for _ in range(epochs):
        expected_len = len(sampler)
        batches = list(sampler)
        assert len(batches) == expected_len
        full = batches[:-1] if mode == 'keep' else batches
        assert all(len(b) == size for b in full)
        if mode == 'keep':
            assert sum(batches, []) == list(range(n))
        elif mode == 'discard':
            assert sum(batches, []) == list(range(n - n % size))
        served += sum(batches, [])
    if mode == 'rollover':     # the stream of epochs, cut into full batches, leftovers held
        assert served + sampler._prev == list(range(n)) * epochs


def test_batch_sampler_rejects_bad_arguments():
    with pytest.raises(MXNetError, match="last_batch"):
        BatchSampler(SequentialSampler(4), 2, 'pad')
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        BatchSampler(SequentialSampler(4), 0)


# --- Batchify and DataLoader --------------------------------------------------


def test_default_batchify_keeps_numpy_dtypes():
    assert default_batchify_fn([np.int32(1), np.int32(2)]).dtype == np.int32
    assert default_batchify_fn([1, 2]).dtype == np.asarray([1, 2]).dtype
    batch = default_batchify_fn([np.float32(0.5), np.float32(1.5)])
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch.asnumpy(), [0.5, 1.5])


def test_default_batchify_stacks_ndarrays_and_fields():
    samples = [(nd.array([[1, 2]]) * i, np.int32(i)) for i in range(3)]
    data, label = default_batchify_fn(samples)
    assert data.shape == (3, 1, 2) and data.dtype == np.float32
    np.testing.assert_array_equal(data.asnumpy()[:, 0, 1], [0, 2, 4])
    np.testing.assert_array_equal(label.asnumpy(), [0, 1, 2])
    assert label.dtype == np.int32


def test_default_batchify_shape_mismatch_is_explained():
    with pytest.raises(MXNetError, match=r"\(2,\) and \(3,\)"):
        default_batchify_fn([nd.ones((2,)), nd.ones((3,))])
    with pytest.raises(MXNetError, match="pads"):
        default_batchify_fn([np.ones(2), np.ones(3)])


def _dataset(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = (np.arange(n) % 4).astype(np.int32)
    return ArrayDataset(nd.array(X), y), X, y


def test_dataloader_batches_shapes_dtypes_values():
    ds, X, y = _dataset()
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    for i, (data, label) in enumerate(batches):
        assert isinstance(data, nd.NDArray) and data.dtype == np.float32
        assert label.dtype == np.int32
        np.testing.assert_array_equal(data.asnumpy(), X[4 * i:4 * i + 4])
        np.testing.assert_array_equal(label.asnumpy(), y[4 * i:4 * i + 4])


@pytest.mark.parametrize("mode, sizes", [('keep', [4, 4, 2]), ('discard', [4, 4]),
                                         ('rollover', [4, 4])])
def test_dataloader_last_batch(mode, sizes):
    ds, _, _ = _dataset()
    loader = DataLoader(ds, batch_size=4, last_batch=mode)
    assert [data.shape[0] for data, _ in loader] == sizes
    if mode == 'rollover':
        second = [label.asnumpy().tolist() for _, label in loader]
        assert second == [[0, 1, 0, 1], [2, 3, 0, 1], [2, 3, 0, 1]]   # samples 8, 9 first


def test_dataloader_shuffle_reproducible_and_complete():
    ds, X, _ = _dataset(12)
    np.random.seed(5)
    first = np.concatenate([d.asnumpy() for d, _ in DataLoader(ds, batch_size=5, shuffle=True)])
    np.random.seed(5)
    again = np.concatenate([d.asnumpy() for d, _ in DataLoader(ds, batch_size=5, shuffle=True)])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, X)
    np.testing.assert_array_equal(np.sort(first[:, 0]), X[:, 0])
    np.random.seed(5)
    order = np.arange(12)
    np.random.shuffle(order)
    np.testing.assert_array_equal(first, X[order])


def test_dataloader_custom_sampler_batch_sampler_and_batchify():
    ds, X, _ = _dataset(6)
    reverse = list(range(5, -1, -1))
    loader = DataLoader(ds, batch_size=3, sampler=reverse)
    np.testing.assert_array_equal(next(iter(loader))[0].asnumpy(), X[[5, 4, 3]])
    loader = DataLoader(ds, batch_sampler=[[0, 2], [4]])
    assert len(loader) == 2
    assert [d.shape[0] for d, _ in loader] == [2, 1]
    loader = DataLoader(ds, batch_size=2, batchify_fn=lambda samples: len(samples))
    assert list(loader) == [2, 2, 2]


def test_dataloader_conflicting_arguments():
    ds, _, _ = _dataset()
    bs = BatchSampler(SequentialSampler(10), 2)
    with pytest.raises(MXNetError, match="batch_size"):
        DataLoader(ds)
    with pytest.raises(MXNetError, match="shuffle"):
        DataLoader(ds, batch_size=2, shuffle=True, sampler=SequentialSampler(10))
    with pytest.raises(MXNetError, match="batch_size, shuffle, last_batch"):
        DataLoader(ds, batch_size=2, shuffle=True, last_batch='keep', batch_sampler=bs)
    with pytest.raises(MXNetError, match="batch_size"):
        DataLoader(ds, batch_size=0, batch_sampler=bs)


@pytest.mark.parametrize("last_batch", ['keep', 'discard', 'rollover'])
def test_dataloader_workers_give_identical_batches(last_batch):
    ds, _, _ = _dataset(23)

    def two_epochs(**kwargs):
        np.random.seed(11)
        loader = DataLoader(ds, batch_size=4, shuffle=True, last_batch=last_batch, **kwargs)
        return [(d.asnumpy(), l.asnumpy()) for _ in range(2) for d, l in loader]

    serial = two_epochs()
    for kwargs in [dict(num_workers=2), dict(num_workers=3, prefetch=0),
                   dict(num_workers=2, thread_pool=True, pin_memory=True)]:
        threaded = two_epochs(**kwargs)
        assert len(threaded) == len(serial)
        for (d1, l1), (d2, l2) in zip(serial, threaded):
            np.testing.assert_array_equal(d1, d2)
            np.testing.assert_array_equal(l1, l2)


def test_dataloader_workers_propagate_errors_and_stop_early():
    def broken(samples):
        raise RuntimeError("bad sample")

    ds, _, _ = _dataset()
    with pytest.raises(RuntimeError, match="bad sample"):
        list(DataLoader(ds, batch_size=2, batchify_fn=broken, num_workers=2))
    loader = DataLoader(ds, batch_size=2, num_workers=2)
    for i, _ in enumerate(loader):
        if i == 1:
            break                                   # the pool shuts down cleanly
    assert len(list(loader)) == 5


def test_dataloader_negative_workers_mean_none():
    ds, _, _ = _dataset()
    assert len(list(DataLoader(ds, batch_size=5, num_workers=-1))) == 2


# --- Transforms ---------------------------------------------------------------


def test_to_tensor_image_and_batch():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    out = transforms.ToTensor()(nd.array(img, dtype='uint8'))
    assert out.shape == (3, 5, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out.asnumpy(), img.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    batch = rng.integers(0, 256, size=(2, 5, 4, 1), dtype=np.uint8)
    out = transforms.ToTensor()(batch)           # NumPy input is accepted too
    assert out.shape == (2, 1, 5, 4)
    np.testing.assert_allclose(out.asnumpy(), batch.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)
    with pytest.raises(MXNetError, match=r"\(5, 4\)"):
        transforms.ToTensor()(nd.ones((5, 4)))


def _to_tensor_caught(x):
    """ToTensor()(x) and the warnings it gave (all of them, even repeated ones)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        out = transforms.ToTensor()(x)
    return out, caught


def test_to_tensor_float_hwc_is_divided_by_255_like_mxnet():
    # MXNet 1.9.1: ToTensor on a float32 (2, 3, 4) HWC array gives (4, 2, 3) / 255, exactly
    # as on uint8; values above 1 are pixel values, so no warning.
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 10
    out, caught = _to_tensor_caught(nd.array(x))
    assert out.shape == (4, 2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.asnumpy(), x.transpose(2, 0, 1) / 255, rtol=1e-6)
    same, _ = _to_tensor_caught(nd.array(x.astype(np.uint8), dtype='uint8'))
    np.testing.assert_allclose(out.asnumpy(), same.asnumpy(), rtol=1e-6)
    assert caught == []


@pytest.mark.parametrize("x", [
    np.random.default_rng(0).integers(0, 256, size=(5, 4, 3), dtype=np.uint8),   # RGB
    np.zeros((3, 3, 1), dtype=np.uint8),          # height 3, grey: HWC, not CHW
    np.zeros((2, 28, 28, 1), dtype=np.uint8),     # a batch of grey images
    np.zeros((8, 8, 1), dtype=np.float32),        # black float image: nothing to say
    np.full((8, 8, 3), 255.0, dtype=np.float64),  # float pixels in [0, 255]
])
def test_to_tensor_valid_input_gives_no_warning(x):
    out, caught = _to_tensor_caught(x)
    assert [str(w.message) for w in caught] == []
    axes = (2, 0, 1) if x.ndim == 3 else (0, 3, 1, 2)
    np.testing.assert_allclose(out.asnumpy(), x.transpose(axes) / 255.0, rtol=1e-6)


def test_to_tensor_channel_first_float_warns_and_keeps_mxnets_result():
    # MXNet 1.9.1: a (1, 8, 8) float32 image of 0.5 gives (8, 1, 8) of 0.5 / 255, silently.
    x = np.full((1, 8, 8), 0.5, dtype=np.float32)
    out, caught = _to_tensor_caught(nd.array(x))
    assert out.shape == (8, 1, 8)
    np.testing.assert_allclose(out.asnumpy(), np.full((8, 1, 8), 0.5 / 255), rtol=1e-6)
    assert len(caught) == 1 and caught[0].category is UserWarning
    message = str(caught[0].message)
    for part in ["ToTensor", "(1, 8, 8)", "channel-first (C, H, W)", "already in [0, 1]",
                 "(8, 1, 8)", "divided by 255 a second time", "drop ToTensor"]:
        assert part in message, part
    assert caught[0].filename == __file__      # points at the caller's line


def test_to_tensor_channel_first_uint8_warns_with_the_transpose():
    out, caught = _to_tensor_caught(nd.zeros((3, 32, 32), dtype='uint8'))
    assert out.shape == (32, 3, 32)
    (warning,) = caught
    message = str(warning.message)
    assert "(3, 32, 32)" in message and "x.transpose((1, 2, 0))" in message
    assert "second time" not in message


def test_to_tensor_channel_first_batch_warns():
    x = np.random.default_rng(2).random((4, 1, 8, 8)).astype(np.float32)
    out, caught = _to_tensor_caught(nd.array(x))
    assert out.shape == (4, 8, 1, 8)           # MXNet's result: NHWC -> NCHW regardless
    np.testing.assert_allclose(out.asnumpy(), x.transpose(0, 3, 1, 2) / 255, rtol=1e-6)
    (warning,) = caught
    assert "(4, 1, 8, 8)" in str(warning.message)
    assert "(N, C, H, W)" in str(warning.message)


def test_to_tensor_float_already_scaled_hwc_warns():
    x = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)
    out, caught = _to_tensor_caught(x)
    assert out.shape == (1, 8, 8)
    np.testing.assert_allclose(out.asnumpy(), x.transpose(2, 0, 1) / 255, rtol=1e-6)
    (warning,) = caught
    message = str(warning.message)
    assert "already in [0, 1]" in message and "x.transpose((2, 0, 1))" in message
    assert "channel-first" not in message


def test_to_tensor_on_digits_samples_warns():
    pytest.importorskip('sklearn')
    ds = Digits(train=False).transform_first(transforms.ToTensor())
    with pytest.warns(UserWarning, match=r"ToTensor: the input of shape \(1, 8, 8\)"):
        image, _ = ds[0]
    assert image.shape == (8, 1, 8)


def test_normalize_per_channel_and_scalar():
    x = np.random.default_rng(1).random((3, 2, 2)).astype(np.float32)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = transforms.Normalize(mean, std)(nd.array(x))
    expected = (x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(out.asnumpy(), expected, rtol=1e-5)
    batch = np.stack([x, 2 * x])
    out = transforms.Normalize(mean, std)(nd.array(batch))
    np.testing.assert_allclose(out.asnumpy(), (batch - np.array(mean)[None, :, None, None])
                               / np.array(std)[None, :, None, None], rtol=1e-5)
    out = transforms.Normalize(0.5, 0.5)(nd.array(x))
    np.testing.assert_allclose(out.asnumpy(), (x - 0.5) / 0.5, rtol=1e-5)
    with pytest.raises(MXNetError, match="2 mean/std values"):
        transforms.Normalize((0.1, 0.2), (1.0, 1.0))(nd.array(x))


def test_cast_compose_and_reprs():
    t = transforms.Compose([transforms.Cast('float64'), lambda x: x * 2])
    out = t(nd.array([1, 2], dtype='int32'))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.asnumpy(), [2, 4])
    assert repr(transforms.ToTensor()) == 'ToTensor()'
    assert repr(transforms.Cast()) == 'Cast(dtype=float32)'
    assert repr(transforms.Normalize(0.5, 0.25)) == 'Normalize(mean=(0.5,), std=(0.25,))'
    assert repr(transforms.Compose([transforms.ToTensor()])) == 'Compose(\n  (0): ToTensor()\n)'


def test_transform_first_with_to_tensor_in_a_loader():
    imgs = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3, 1)
    ds = ArrayDataset(nd.array(imgs, dtype='uint8'), np.array([0, 1], dtype=np.int32))
    loader = DataLoader(ds.transform_first(transforms.ToTensor()), batch_size=2)
    data, label = next(iter(loader))
    assert data.shape == (2, 1, 3, 3) and data.dtype == np.float32
    np.testing.assert_allclose(data.asnumpy(), imgs.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)
    assert label.dtype == np.int32


# --- MNIST / FashionMNIST from IDX files --------------------------------------


def _write_idx(path, values, magic=None):
    header = np.array([magic if magic is not None else 0x0800 + values.ndim, *values.shape],
                      dtype='>u4').tobytes()
    opener = gzip.open if str(path).endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(header + values.astype(np.uint8).tobytes())


def _write_mnist(folder, prefix, n, gz, h=28, w=28, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    ext = '.gz' if gz else ''
    _write_idx(os.path.join(folder, f'{prefix}-images-idx3-ubyte{ext}'), images)
    _write_idx(os.path.join(folder, f'{prefix}-labels-idx1-ubyte{ext}'), labels)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_mnist_reads_idx_files(tmp_path, gz, cls):
    images, labels = _write_mnist(tmp_path, 'train', 5, gz)
    test_images, test_labels = _write_mnist(tmp_path, 't10k', 3, gz, seed=1)
    train = cls(root=str(tmp_path))
    assert len(train) == 5
    image, label = train[4]
    assert isinstance(image, nd.NDArray) and image.shape == (28, 28, 1)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image.asnumpy()[:, :, 0], images[4])
    assert label == labels[4] and label.dtype == np.int32
    test = cls(root=str(tmp_path), train=False)
    assert len(test) == 3
    np.testing.assert_array_equal(test[0][0].asnumpy()[:, :, 0], test_images[0])
    data, label = next(iter(DataLoader(test, batch_size=3)))
    assert data.shape == (3, 28, 28, 1) and data.dtype == np.uint8
    np.testing.assert_array_equal(label.asnumpy(), test_labels)
    assert label.dtype == np.int32


def test_mnist_transform_takes_data_and_label(tmp_path):
    images, labels = _write_mnist(tmp_path, 't10k', 2, False, h=4, w=3)
    ds = MNIST(root=str(tmp_path), train=False,
               transform=lambda d, l: (d.astype('float32') / 255, l + 1))
    data, label = ds[1]
    assert data.shape == (4, 3, 1)
    np.testing.assert_allclose(data.asnumpy()[:, :, 0], images[1] / 255.0, rtol=1e-6)
    assert label == labels[1] + 1


def test_mnist_expands_user_root(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    folder = tmp_path / 'digits'
    folder.mkdir()
    _write_mnist(folder, 't10k', 2, True, h=2, w=2)
    assert len(MNIST(root='~/digits', train=False)) == 2


def test_mnist_missing_files_error_names_folder_and_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(root=str(tmp_path))
    message = str(info.value)
    assert str(tmp_path) in message
    for name in ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']:
        assert name in message and name + '.gz' in message
    assert 'never downloads' in message
    _write_mnist(tmp_path, 'train', 2, False)
    os.remove(tmp_path / 'train-labels-idx1-ubyte')
    with pytest.raises(FileNotFoundError, match='missing: train-labels-idx1-ubyte'):
        MNIST(root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='fashion-mnist'):
        FashionMNIST(root=str(tmp_path), train=False)


def test_mnist_corrupt_magic_number(tmp_path):
    _write_mnist(tmp_path, 't10k', 2, False)
    _write_idx(tmp_path / 't10k-images-idx3-ubyte', np.zeros((2, 28, 28)), magic=1234)
    with pytest.raises(MXNetError, match=r"magic number is 1234 .*expected 2051"):
        MNIST(root=str(tmp_path), train=False)
    # labels and images swapped: the magic number says which is which
    _write_mnist(tmp_path, 't10k', 2, False)
    images_file = tmp_path / 't10k-images-idx3-ubyte'
    images_file.write_bytes((tmp_path / 't10k-labels-idx1-ubyte').read_bytes())
    with pytest.raises(MXNetError, match="expected 2051"):
        MNIST(root=str(tmp_path), train=False)


def test_mnist_truncated_files(tmp_path):
    _write_mnist(tmp_path, 't10k', 3, False)
    path = tmp_path / 't10k-images-idx3-ubyte'
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(MXNetError, match="truncated"):
        MNIST(root=str(tmp_path), train=False)
    path.write_bytes(b'\x00\x00')
    with pytest.raises(MXNetError, match="too short"):
        MNIST(root=str(tmp_path), train=False)
    _write_mnist(tmp_path, 't10k', 3, True)
    for name in os.listdir(tmp_path):
        if not name.endswith('.gz'):
            os.remove(tmp_path / name)
    gz = tmp_path / 't10k-images-idx3-ubyte.gz'
    gz.write_bytes(gz.read_bytes()[:30])
    with pytest.raises(MXNetError, match="damaged or truncated"):
        MNIST(root=str(tmp_path), train=False)


def test_mnist_image_label_count_mismatch(tmp_path):
    _write_mnist(tmp_path, 't10k', 3, False)
    _write_idx(tmp_path / 't10k-labels-idx1-ubyte', np.zeros(2))
    with pytest.raises(MXNetError, match="3 images but .* 2 labels"):
        MNIST(root=str(tmp_path), train=False)


# --- Digits -------------------------------------------------------------------


def test_digits_shapes_dtypes_split():
    pytest.importorskip('sklearn')
    from sklearn.datasets import load_digits
    train, test = Digits(), Digits(train=False)
    assert len(train) == 1438 and len(test) == 359
    image, label = train[0]
    assert image.shape == (1, 8, 8) and image.dtype == np.float32
    assert isinstance(label, np.int32)
    images = np.stack([img.asnumpy() for img, _ in train])
    assert images.min() == 0.0 and images.max() == 1.0
    # the two parts partition the 1797 images, and values match scikit-learn / 16
    reference = load_digits()
    order = np.random.default_rng(0).permutation(1797)
    test_idx = np.sort(order[:359])
    np.testing.assert_allclose(test[5][0].asnumpy()[0], reference.images[test_idx[5]] / 16)
    assert test[5][1] == reference.target[test_idx[5]]
    all_labels = sorted([l for _, l in train] + [l for _, l in test])
    assert all_labels == sorted(reference.target.tolist())


def test_digits_deterministic_and_seeded():
    pytest.importorskip('sklearn')
    a, b = Digits(train=False), Digits(train=False)
    np.testing.assert_array_equal(a[10][0].asnumpy(), b[10][0].asnumpy())
    labels = [l for _, l in Digits(train=False)]
    other = [l for _, l in Digits(train=False, seed=1)]
    assert labels != other
    assert len(Digits(train=False, test_fraction=0.5)) == round(0.5 * 1797) == 898
    assert len(Digits(test_fraction=0.5)) == 899
    with pytest.raises(MXNetError, match="test_fraction"):
        Digits(test_fraction=1.0)


def test_digits_transform_and_loader():
    pytest.importorskip('sklearn')
    ds = Digits(transform=lambda d, l: (d * 2, l + 100))
    plain = Digits()
    np.testing.assert_array_equal(ds[3][0].asnumpy(), 2 * plain[3][0].asnumpy())
    assert ds[3][1] == plain[3][1] + 100
    np.random.seed(0)
    data, label = next(iter(DataLoader(Digits(), batch_size=64, shuffle=True)))
    assert data.shape == (64, 1, 8, 8) and data.dtype == np.float32
    assert label.shape == (64,) and label.dtype == np.int32


def test_digits_without_sklearn_says_what_to_install(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith('sklearn'):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_sklearn)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        Digits()


def test_namespaces():
    assert mx.gluon.data is gdata
    assert gdata.vision.transforms.ToTensor is transforms.ToTensor
    assert gdata.vision.MNIST is MNIST and gdata.DataLoader is DataLoader
