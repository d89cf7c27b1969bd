"""Tests of the other Gluon pieces of the appendix "Data iterators, test utilities and
other Gluon pieces": `Dataset.shard`, `FilterSampler`, `mx.cpu_pinned`,
`gluon.utils.check_sha1`/`download`/`replace_file`/`shape_is_known`, and
`test_utils.download`.

Values marked "MXNet 1.9.1" were printed by MXNet 1.9.1.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import socket

import numpy as np
import pytest

import minimx as mx
from minimx import gluon, nd, test_utils
from minimx.base import MXNetError
from minimx.context import Context
from minimx.gluon.data import ArrayDataset, DataLoader, FilterSampler, SimpleDataset
from minimx.gluon.utils import check_sha1, download, replace_file, shape_is_known

pytestmark = pytest.mark.appendix


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError('download tried to use the network')
    monkeypatch.setattr(socket, 'socket', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)


def write(path, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return hashlib.sha1(data).hexdigest()


# --- Dataset.shard and FilterSampler --------------------------------------------


@pytest.mark.parametrize('length, num_shards, expected', [
    # MXNet 1.9.1: SimpleDataset(list(range(length))).shard(num_shards, i)
    (10, 3, [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    (10, 4, [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]),
    (10, 1, [list(range(10))]),
    (2, 3, [[0], [1], []]),
])
def test_shard_is_contiguous_first_shards_one_longer(length, num_shards, expected):
    data = SimpleDataset(list(range(length)))
    shards = [list(data.shard(num_shards, i)) for i in range(num_shards)]
    assert shards == expected
    assert list(itertools.chain(*shards)) == list(range(length))


def test_shard_keeps_samples_whole():
    data = ArrayDataset(list(range(7)), list(range(7)))
    # MXNet 1.9.1: [[(0, 0), (1, 1), (2, 2)], [(3, 3), (4, 4)], [(5, 5), (6, 6)]]
    assert [list(data.shard(3, i)) for i in range(3)] == [
        [(0, 0), (1, 1), (2, 2)], [(3, 3), (4, 4)], [(5, 5), (6, 6)]]
    part = data.shard(3, 1)
    assert len(part) == 2 and part[1] == (4, 4)


def test_shard_bad_requests_are_assertion_errors():
    data = SimpleDataset(list(range(10)))
    # MXNet 1.9.1 raises AssertionError for each
    for args in [(3, 3), (0, 0), (3, -1)]:
        with pytest.raises(AssertionError):
            data.shard(*args)
    with pytest.raises(MXNetError, match='index must be in 0..2 for 3 shards, got 3'):
        data.shard(3, 3)
    with pytest.raises(MXNetError, match='num_shards must be at least 1'):
        data.shard(0, 0)


def test_filter_sampler():
    data = SimpleDataset(list(range(10)))
    sampler = FilterSampler(lambda x: x % 3 == 0, data)
    assert list(sampler) == [0, 3, 6, 9] and len(sampler) == 4    # MXNet 1.9.1
    assert list(sampler) == [0, 3, 6, 9]                         # every epoch the same
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    assert [b.asnumpy().astype(int).tolist() for b in loader] == [[0, 3], [6, 9]]
    calls = []
    FilterSampler(lambda x: calls.append(x) or True, data)
    assert calls == list(range(10))
    assert gluon.data.FilterSampler is FilterSampler and isinstance(sampler,
                                                                    gluon.data.Sampler)


# --- contexts -------------------------------------------------------------------


def test_cpu_pinned_is_a_host_context_that_mixes_with_cpu():
    # as MXNet 1.9.1: its own device type, printed as such, one context per number
    assert mx.cpu_pinned() is Context('cpu_pinned', 0) is mx.cpu_pinned(0)
    assert repr(mx.cpu_pinned(1)) == 'cpu_pinned(1)' and mx.cpu_pinned(1) is not mx.cpu(1)
    assert not mx.cpu_pinned().is_gpu
    staged = nd.array([1, 2, 3], ctx=mx.cpu_pinned())
    assert staged.context is mx.cpu_pinned(0)
    # MXNet 1.9.1 also allows mixing cpu_pinned and cpu arrays in one operator (the
    # result is on cpu(0)) and writing one into the other
    total = staged + nd.ones(3)
    assert total.asnumpy().tolist() == [2.0, 3.0, 4.0] and total.context is mx.cpu(0)
    staged[:] = nd.array([4, 5, 6])
    assert staged.asnumpy().tolist() == [4.0, 5.0, 6.0]
    assert staged.context is mx.cpu_pinned(0)
    assert staged.as_in_context(mx.cpu()).context is mx.cpu(0)


def test_cpu_shared_context():
    # MXNet 1.9.1 has the device types 'cpu_pinned' and 'cpu_shared' too
    ctx = Context('cpu_shared', 0)
    assert repr(ctx) == 'cpu_shared(0)' and not ctx.is_gpu
    assert (nd.ones(2, ctx=ctx) + nd.ones(2)).asnumpy().tolist() == [2.0, 2.0]


# --- check_sha1, replace_file, shape_is_known ---------------------------------------


def test_check_sha1(tmp_path):
    path = tmp_path / 'f.bin'
    digest = write(path, b'minimx' * 400000)              # larger than one read
    assert check_sha1(str(path), digest)
    assert not check_sha1(str(path), hashlib.sha1(b'other').hexdigest())
    write(path, b'')
    assert check_sha1(str(path), 'da39a3ee5e6b4b0d3255bfef95601890afd80709')


def test_replace_file(tmp_path):
    write(tmp_path / 'a', b'new')
    write(tmp_path / 'b', b'old')
    replace_file(str(tmp_path / 'a'), str(tmp_path / 'b'))
    assert (tmp_path / 'b').read_bytes() == b'new' and not (tmp_path / 'a').exists()


def test_shape_is_known():
    # MXNet 1.9.1: [False, False, True, False, True], and an AssertionError for -1
    assert [shape_is_known(s) for s in [None, (2, 0), (2, 3), (), (5,)]] == [
        False, False, True, False, True]
    with pytest.raises(AssertionError, match='negative'):
        shape_is_known((-1, 2))


# --- download ---------------------------------------------------------------------


def test_download_copies_a_local_path_and_a_file_url(tmp_path, no_network):
    src = tmp_path / 'src' / 'data.txt'
    src.parent.mkdir()
    digest = write(src, b'0.5 0.25\n')
    out = download(str(src), path=str(tmp_path / 'a.txt'))
    assert out == str(tmp_path / 'a.txt') and (tmp_path / 'a.txt').read_bytes() == b'0.5 0.25\n'
    target = tmp_path / 'deep' / 'er' / 'b.txt'
    out = download(src.as_uri(), path=str(target), sha1_hash=digest)
    assert out == str(target) and check_sha1(out, digest)
    # path a folder: the file keeps the URL's name
    assert download(src.as_uri(), path=str(tmp_path)) == os.path.join(str(tmp_path),
                                                                        'data.txt')
    # no temporary files are left behind
    assert sorted(p.name for p in target.parent.iterdir()) == ['b.txt']


def test_download_without_path_uses_the_current_folder(tmp_path, monkeypatch, no_network):
    src = tmp_path / 'src.bin'
    write(src, b'abc')
    work = tmp_path / 'work'
    work.mkdir()
    monkeypatch.chdir(work)
    assert download(src.as_uri()) == 'src.bin'
    assert (work / 'src.bin').read_bytes() == b'abc'


def test_download_keeps_an_existing_file_unless_overwrite(tmp_path, no_network):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    write(src, b'new')
    write(dst, b'old')
    assert download(str(src), path=str(dst)) == str(dst)
    assert dst.read_bytes() == b'old'                     # MXNet: exists, so kept
    download(str(src), path=str(dst), overwrite=True)
    assert dst.read_bytes() == b'new'


def test_download_replaces_an_existing_file_with_the_wrong_hash(tmp_path, no_network):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    digest = write(src, b'right')
    write(dst, b'stale')
    download(str(src), path=str(dst), sha1_hash=digest)
    assert dst.read_bytes() == b'right'


def test_download_hash_mismatch_leaves_the_destination(tmp_path, no_network):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    write(src, b'corrupt')
    write(dst, b'before')
    with pytest.raises(UserWarning, match='does not have the expected SHA-1'):
        download(str(src), path=str(dst), sha1_hash=hashlib.sha1(b'x').hexdigest())
    assert dst.read_bytes() == b'before'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['dst', 'src']


def test_download_from_the_network_explains_what_to_do(tmp_path, no_network):
    url = 'https://example.com/data/train.rec'
    with pytest.raises(OSError) as info:
        download(url, path=str(tmp_path), sha1_hash='ab' * 20)
    text = str(info.value)
    assert isinstance(info.value, MXNetError)
    assert url in text and os.path.join(str(tmp_path), 'train.rec') in text
    assert 'does not use the network' in text and 'ab' * 20 in text
    assert not (tmp_path / 'train.rec').exists()


def test_download_finds_a_file_placed_by_hand(tmp_path, no_network):
    url = 'https://example.com/data/train.rec'
    digest = write(tmp_path / 'train.rec', b'placed by hand')
    assert download(url, path=str(tmp_path)) == str(tmp_path / 'train.rec')
    assert download(url, path=str(tmp_path), sha1_hash=digest) == str(tmp_path / 'train.rec')
    with pytest.raises(OSError, match='does not have SHA-1'):
        download(url, path=str(tmp_path), sha1_hash='0' * 40)
    with pytest.raises(OSError, match='does not use the network'):
        download(url, path=str(tmp_path), overwrite=True)


def test_download_bad_arguments(tmp_path, no_network):
    with pytest.raises(OSError, match='is not a file'):
        download(str(tmp_path / 'missing.txt'), path=str(tmp_path / 'x'))
    with pytest.raises(AssertionError, match='cannot make a file name'):
        download('https://example.com/data/')
    with pytest.raises(AssertionError, match='retries'):
        download(str(tmp_path), path=str(tmp_path / 'x'), retries=-1)


def test_test_utils_download(tmp_path, no_network):
    src = tmp_path / 'src.txt'
    write(src, b'one')
    out = test_utils.download(src.as_uri(), fname='copy.txt', dirname=str(tmp_path / 'd'))
    assert out == os.path.join(str(tmp_path / 'd'), 'copy.txt')
    assert (tmp_path / 'd' / 'copy.txt').read_bytes() == b'one'
    write(src, b'two')
    test_utils.download(src.as_uri(), fname='copy.txt', dirname=str(tmp_path / 'd'))
    assert (tmp_path / 'd' / 'copy.txt').read_bytes() == b'one'     # kept
    test_utils.download(src.as_uri(), fname='copy.txt', dirname=str(tmp_path / 'd'),
                        overwrite=True)
    assert (tmp_path / 'd' / 'copy.txt').read_bytes() == b'two'
    with pytest.raises(OSError, match='http://example.com/x.bin'):
        test_utils.download('http://example.com/x.bin', dirname=str(tmp_path))


def test_namespaces():
    assert mx.gluon.utils.download is download and mx.gluon.utils.check_sha1 is check_sha1
    assert {'check_sha1', 'download', 'replace_file', 'shape_is_known'} <= set(
        gluon.utils.__all__)
    assert 'shard' in dir(gluon.data.Dataset)
    assert np.all(mx.nd.ones(1, ctx=mx.cpu_pinned(0)).asnumpy() == 1)


# --- SDMLLoss without shapes ------------------------------------------------------


def test_sdml_loss_hybridizes_with_mxnets_numbers():
    x1 = nd.array([[1., 0.], [0., 1.], [1., 1.]])
    x2 = nd.array([[0.9, 0.1], [0.2, 1.1], [1., 0.7]])
    for smoothing, want in ((0.3, [0.10584189, 0.01833608, 0.09404972]),
                            (0.1, [0.30025262, 0.18174684, 0.38946047])):  # MXNet 1.9.1
        loss = gluon.loss.SDMLLoss(smoothing_parameter=smoothing)
        np.testing.assert_allclose(loss(x1, x2).asnumpy(), want, atol=5e-6)
        loss.hybridize()
        np.testing.assert_allclose(loss(x1, x2).asnumpy(), want, atol=5e-6)
        assert loss._last_graph.symbol.list_arguments() == ['data0', 'data1']
    with pytest.raises(MXNetError, match='same shape'):
        gluon.loss.SDMLLoss()(nd.ones((3, 2)), nd.ones((2, 2)))
