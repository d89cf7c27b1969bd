"""MXNet checkpoints of every age (Chapter 13): every binary NDArray layout MXNet 1.x
wrote, the three ways to load a model, and damaged files.

The fixtures in tests/fixtures/mxnet_checkpoints/ were written by MXNet 1.9.1
(make_fixtures.py there); book/data/ holds the chapter's model, trained with MXNet 1.9.1
(book/data/make_digits_model.py).
"""
import os
import pickle
import struct

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import gluon, nd
from minimx.base import MXNetError
from minimx.gluon import nn

pytestmark = pytest.mark.ch13

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, 'tests', 'fixtures', 'mxnet_checkpoints')
BOOK = os.path.join(ROOT, 'book', 'data')
EXPECTED = np.load(os.path.join(HERE, 'expected.npz'))
DIGITS = np.load(os.path.join(BOOK, 'digits_cnn-expected.npz'))


def _here(name):
    return os.path.join(HERE, name)


def digits_net():
    """The network of book/data/make_digits_model.py, in minimx."""
    net = nn.HybridSequential(prefix='digits_')
    with net.name_scope():
        net.add(nn.Conv2D(16, kernel_size=3, padding=1), nn.BatchNorm(),
                nn.Activation('relu'), nn.MaxPool2D(pool_size=2), nn.Flatten(),
                nn.Dense(32, activation='relu'), nn.Dropout(0.2), nn.Dense(10))
    return net


# ------------------------------------------------------------------ NDArray files

def test_sparse_records_load_as_dense_arrays():
    loaded = nd.load(_here('sparse.nd'))
    assert list(loaded) == ['rsp', 'csr', 'empty_rsp', 'dense']
    for key, value in loaded.items():
        want = EXPECTED[f'sparse_{key}']
        assert value.dtype == want.dtype and value.shape == want.shape
        assert np.array_equal(value.asnumpy(), want)
    csr, rsp = nd.load(_here('sparse_list.nd'), ctx=mx.cpu(1))
    assert csr.context == mx.cpu(1) and csr.dtype == np.float64
    assert np.array_equal(rsp.asnumpy(), EXPECTED['sparse_rsp'])


@pytest.mark.parametrize('version', [0, 1])
def test_layouts_before_mxnet_1_0_with_names(version):
    loaded = nd.load(_here(f'v{version}_dict.nd'))
    assert list(loaded) == ['weight', 'index', 'bytes']
    for key, value in loaded.items():
        assert value.dtype == EXPECTED[f'legacy_{key}'].dtype
        assert np.array_equal(value.asnumpy(), EXPECTED[f'legacy_{key}'])


def test_v0_layout_written_here_from_its_description(tmp_path):
    """No magic: ndim (uint32), the dims (uint32), the device, a dtype code, values."""
    values = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    record = struct.pack('<I3I', 3, 2, 3, 4) + struct.pack('<iii', 1, 0, 1)
    body = struct.pack('<QQQ', 0x112, 0, 1) + record + values.tobytes()
    name = b'kernel'
    (tmp_path / 'old.nd').write_bytes(body + struct.pack('<QQ', 1, len(name)) + name)
    loaded = nd.load(str(tmp_path / 'old.nd'))
    assert list(loaded) == ['kernel'] and loaded['kernel'].dtype == np.float64
    assert np.array_equal(loaded['kernel'].asnumpy(), values)


def test_sparse_record_too_large_when_dense_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(mx.nd.mxnet_file, 'DENSE_LIMIT', 50)
    with pytest.raises(MXNetError, match=r"sparse\.nd', byte 24: row_sparse array 0 "
                                         r"of shape \(5, 3\) would take 60 bytes"):
        nd.load(_here('sparse.nd'))


def test_sparse_record_that_disagrees_with_itself_is_refused(tmp_path):
    good = bytearray(open(_here('sparse_list.nd'), 'rb').read())
    # The csr record: its row pointers are the first int64 values after its 3 values
    # (float64). Make them decrease.
    values_at = good.index(struct.pack('<3d', 7, 8, 9))
    good[values_at + 24 + 8:values_at + 24 + 16] = struct.pack('<q', 5)
    (tmp_path / 'bad.nd').write_bytes(bytes(good))
    with pytest.raises(MXNetError, match=r"bad\.nd', byte 24: csr array 0: row "
                                         r"pointers"):
        nd.load(str(tmp_path / 'bad.nd'))


FILES = ['sparse.nd', 'v0_dict.nd', 'v1_dict.nd', 'legacy_names.params',
         'mlp-0002.params']


@pytest.mark.parametrize('name', FILES)
def test_every_truncation_names_the_file_and_the_byte(tmp_path, name):
    data = open(_here(name), 'rb').read()
    cut = tmp_path / 'cut.params'
    for size in range(len(data)):
        cut.write_bytes(data[:size])
        with pytest.raises(MXNetError, match=r"cut\.params.*byte \d+"):
            nd.load(str(cut))


@pytest.mark.parametrize('name', FILES)
def test_damaged_bytes_give_an_mxnet_error_or_arrays(tmp_path, monkeypatch, name):
    # A damaged shape can make a sparse array's dense form huge: keep the test small.
    monkeypatch.setattr(mx.nd.mxnet_file, 'DENSE_LIMIT', 2 ** 20)
    data = open(_here(name), 'rb').read()
    rng = np.random.RandomState(0)
    damaged = tmp_path / 'damaged.params'
    for _ in range(400):
        b = bytearray(data)
        for i in rng.randint(0, len(b), rng.randint(1, 4)):
            b[i] = rng.randint(256)
        damaged.write_bytes(bytes(b))
        try:
            nd.load(str(damaged))
        except MXNetError as err:             # never MemoryError, UnicodeDecodeError
            assert 'damaged.params' in str(err)


def test_loading_never_executes_code(tmp_path):
    marker = tmp_path / 'ran'

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), 'w'))

    for name in ('model-0000.params', 'model.params', 'model.npz'):
        (tmp_path / name).write_bytes(pickle.dumps({'w': Payload()}))
        with pytest.raises(MXNetError):
            nd.load(str(tmp_path / name))
        with pytest.raises(MXNetError):
            digits_net().load_parameters(str(tmp_path / name))
    assert not marker.exists()


# ---------------------------------------------------------------- loading models

def test_load_checkpoint_returns_symbol_arg_and_aux_params():
    sym, args, aux = mx.model.load_checkpoint(os.path.join(BOOK, 'digits_cnn'), 0)
    assert isinstance(sym, mx.sym.Symbol)
    assert sorted(aux) == ['digits_batchnorm0_running_mean',
                           'digits_batchnorm0_running_var']
    assert sorted(args) == sorted(n for n in sym.list_arguments() if n != 'data')
    exe = sym.bind(mx.cpu(), args={'data': nd.array(DIGITS['images']), **args},
                   aux_states=aux, grad_req='null')
    out = exe.forward(is_train=False)[0].asnumpy()
    assert_allclose(out, DIGITS['logits'], rtol=1e-4, atol=1e-4)


def test_module_checkpoint_binds_with_the_label_shape_inferred():
    sym, args, aux = mx.model.load_checkpoint(_here('mlp'), 2)
    assert aux == {} and 'softmax_label' in sym.list_arguments()
    exe = sym.simple_bind(mx.cpu(), data=(10, 6), grad_req='null')
    assert exe.arg_dict['softmax_label'].shape == (10,)
    for name, value in args.items():
        exe.arg_dict[name][:] = value
    out = exe.forward(is_train=False, data=nd.array(EXPECTED['mlp_in']))[0]
    assert_allclose(out.asnumpy(), EXPECTED['mlp_out'], rtol=1e-5, atol=1e-6)


def test_output_layers_infer_their_label_shapes():
    data = mx.sym.var('data')
    cases = [(mx.sym.SoftmaxOutput(data, name='s'), (4, 10), (4,)),
             (mx.sym.SoftmaxOutput(data, multi_output=True, name='m'), (4, 3, 5),
              (4, 5)),
             (mx.sym.LinearRegressionOutput(data, name='r'), (4, 2), (4, 2)),
             (mx.sym.LogisticRegressionOutput(data, name='l'), (4, 1), (4, 1))]
    for sym, shape, label in cases:
        arg_shapes, out_shapes, _ = sym.infer_shape(data=shape)
        assert arg_shapes == [shape, label] and out_shapes == [shape]


def test_symbolblock_imports_mxnet_files():
    net = gluon.SymbolBlock.imports(os.path.join(BOOK, 'digits_cnn-symbol.json'),
                                    ['data'],
                                    os.path.join(BOOK, 'digits_cnn-0000.params'))
    assert_allclose(net(nd.array(DIGITS['images'])).asnumpy(), DIGITS['logits'],
                    rtol=1e-4, atol=1e-4)
    mlp = gluon.SymbolBlock.imports(_here('mlp-symbol.json'), ['data', 'softmax_label'],
                                    _here('mlp-0002.params'))
    out = mlp(nd.array(EXPECTED['mlp_in']), nd.zeros((10,)))
    assert_allclose(out.asnumpy(), EXPECTED['mlp_out'], rtol=1e-5, atol=1e-6)
    with pytest.raises(MXNetError, match=r"lacks the parameters \['softmax_label'\]"):
        gluon.SymbolBlock.imports(_here('mlp-symbol.json'), ['data'],
                                  _here('mlp-0002.params'))


def test_gluon_classes_load_mxnet_parameter_files():
    net = digits_net()                          # structural keys: save_parameters
    net.load_parameters(os.path.join(BOOK, 'digits_cnn.params'))
    assert_allclose(net(nd.array(DIGITS['images'])).asnumpy(), DIGITS['logits'],
                    rtol=1e-4, atol=1e-4)
    again = digits_net()                        # arg:/aux: names: export
    again.collect_params().load_dict(nd.load(os.path.join(BOOK,
                                                          'digits_cnn-0000.params')))
    assert_allclose(again(nd.array(DIGITS['images'])).asnumpy(), DIGITS['logits'],
                    rtol=1e-4, atol=1e-4)
    old = nn.HybridSequential(prefix='legacy_')  # full names minus the prefix
    with old.name_scope():
        old.add(nn.Dense(5, activation='tanh'), nn.BatchNorm(), nn.Dense(3))
    old.load_parameters(_here('legacy_names.params'))
    assert_allclose(old(nd.array(EXPECTED['legacy_in'])).asnumpy(),
                    EXPECTED['legacy_out'], rtol=1e-5, atol=1e-6)


def test_load_dict_checks_names_like_mxnet():
    params = digits_net().collect_params()
    loaded = nd.load(os.path.join(BOOK, 'digits_cnn-0000.params'))
    with pytest.raises(AssertionError, match="missing in param_dict"):
        params.load_dict({k: v for k, v in loaded.items() if 'dense1' not in k})
    with pytest.raises(AssertionError, match=r"contains \['digits_extra'\]"):
        params.load_dict({**loaded, 'digits_extra': nd.ones((1,))})
    params.load_dict({k[4:]: v for k, v in loaded.items()}, ignore_extra=True)
    assert params['digits_dense1_bias'].data().shape == (10,)
