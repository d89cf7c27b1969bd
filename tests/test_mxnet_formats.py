"""MXNet's own files: `-symbol.json`, `.params` and NDArray files, both directions.

The fixtures in tests/fixtures/mxnet/ were written by MXNet 1.9.1 (make_fixtures.py,
with what MXNet computed); tests/fixtures/minimx_made/ holds what minimx writes, which
`make_fixtures.py --check` loads in MXNet 1.9.1 and checks.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import gluon, nd
from minimx.base import MXNetError

pytestmark = pytest.mark.ch10

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
MXNET = os.path.join(FIXTURES, 'mxnet')
EXPECTED = np.load(os.path.join(MXNET, 'expected.npz'))


def _mxnet(name):
    return os.path.join(MXNET, name)


# ---------------------------------------------------------------- NDArray files

def test_mxnet_dict_file_every_dtype():
    arrays = nd.load(_mxnet('arrays_dict.nd'))
    assert sorted(arrays) == sorted(k[6:] for k in EXPECTED.files
                                    if k.startswith('array_'))
    for key, value in arrays.items():
        want = EXPECTED[f'array_{key}']
        assert value.dtype == want.dtype and value.context == mx.cpu(0)
        assert np.array_equal(value.asnumpy(), want)


def test_mxnet_list_numpy_and_legacy_files():
    first, second = nd.load(_mxnet('arrays_list.nd'))
    assert np.array_equal(first.asnumpy(), EXPECTED['array_f32'])
    assert second.dtype == np.int32
    np_arrays = nd.load(_mxnet('arrays_np.nd'))        # version 3: a 0-d array
    assert_allclose(np_arrays['zero_d'].asnumpy(), [3.25])
    for version in (0, 1):                             # before MXNet 1.0
        loaded = nd.load(_mxnet(f'legacy_v{version}.nd'), ctx=mx.cpu(1))
        assert [a.shape for a in loaded] == [(2, 3), (2, 2), (4,)]
        assert loaded[2].dtype == np.float64 and loaded[0].context == mx.cpu(1)
        assert np.array_equal(loaded[1].asnumpy(), EXPECTED['array_i32'])


def test_written_files_are_read_back(tmp_path):
    arrays = {'w': nd.array([[1, 2], [3, 4]]), 'i': nd.array([1, 2], dtype='int64'),
              'é': nd.ones((1,), dtype='float16')}
    name = str(tmp_path / 'x.params')
    mx.nd.mxnet_file.save(name, arrays)
    back = nd.load(name)
    assert list(back) == list(arrays)
    for k in arrays:
        assert back[k].dtype == arrays[k].dtype
        assert np.array_equal(back[k].asnumpy(), arrays[k].asnumpy())
    mx.nd.mxnet_file.save(name, [nd.zeros((0, 3))])
    assert nd.load(name)[0].shape == (0, 3)
    with open(name, 'rb') as f:
        assert struct.unpack('<QQQI', f.read(28)) == (0x112, 0, 1, 0xF993FAC9)


def test_truncated_and_malformed_files_name_the_file_and_the_byte(tmp_path):
    with open(_mxnet('arrays_dict.nd'), 'rb') as f:
        good = f.read()
    cut = tmp_path / 'cut.nd'
    cut.write_bytes(good[:100])
    with pytest.raises(MXNetError, match=r"cut\.nd' is truncated .* at byte \d+ "
                                         r"it needs \d+ bytes for .*file ends at "
                                         r"byte 100"):
        nd.load(str(cut))
    junk = tmp_path / 'junk.nd'
    junk.write_bytes(good[:24] + b'\x01\x02\x03\x04' + good[28:])
    with pytest.raises(MXNetError, match=r"junk\.nd', byte 24: array 0 starts with "
                                         r"0x4030201"):
        nd.load(str(junk))
    extra = tmp_path / 'extra.nd'
    extra.write_bytes(good + b'xx')
    with pytest.raises(MXNetError, match=rf"byte {len(good)}: 2 unexpected bytes"):
        nd.load(str(extra))
    sparse = bytearray(good)
    sparse[28:32] = struct.pack('<i', 1)
    (tmp_path / 'sparse.nd').write_bytes(bytes(sparse))
    with pytest.raises(MXNetError, match='sparse'):
        nd.load(str(tmp_path / 'sparse.nd'))


def test_minimx_files_still_load(tmp_path):
    name = str(tmp_path / 'own.npz')
    nd.save(name, {'a': nd.ones((2,))})            # minimx's own format is unchanged
    assert list(nd.load(name)) == ['a']


# ------------------------------------------------------------- graphs from MXNet

def test_mxnet_zoo_graph_predicts_trains_and_infers_like_mxnet():
    zoo, args, aux = mx.model.load_checkpoint(_mxnet('zoo'), 0)
    with open(_mxnet('zoo-shapes.json')) as f:
        shapes = json.load(f)
    data = nd.array(EXPECTED['zoo_data'])
    arg_shapes, out_shapes, aux_shapes = zoo.infer_shape(data=data.shape)
    assert dict(zip(zoo.list_arguments(), arg_shapes)) == \
        {k: tuple(v) for k, v in shapes['arguments'].items()}
    assert dict(zip(zoo.list_outputs(), out_shapes)) == \
        {k: tuple(v) for k, v in shapes['outputs'].items()}
    assert aux_shapes == [tuple(v) for v in shapes['auxiliary'].values()]
    assert [np.dtype(t).name for t in zoo.infer_type(data='float32')[1]] == \
        shapes['types']
    exe = zoo.bind(mx.cpu(), args=dict(args, data=data),
                   aux_states={k: v.copy() for k, v in aux.items()})
    for i, out in enumerate(exe.forward(is_train=False)):
        assert_allclose(out.asnumpy(), EXPECTED[f'zoo_out{i}'], rtol=1e-5, atol=1e-5)
    every = dict(args, data=data)
    exe = zoo.bind(mx.cpu(), args=every,
                   aux_states={k: v.copy() for k, v in aux.items()},
                   args_grad={k: nd.zeros(v.shape) for k, v in every.items()})
    outs = exe.forward(is_train=True)
    exe.backward([nd.ones(o.shape) for o in outs])
    assert_allclose(outs[0].asnumpy(), EXPECTED['zoo_train_out0'], rtol=1e-4, atol=1e-4)
    assert_allclose(exe.grad_dict['conv_weight'].asnumpy(), EXPECTED['zoo_train_dconv'],
                    rtol=1e-4, atol=1e-4)
    for k, v in exe.aux_dict.items():
        assert_allclose(v.asnumpy(), EXPECTED[f'zoo_train_{k}'], rtol=1e-5, atol=1e-6)


def test_mxnet_gradients_through_make_loss():
    graph = mx.sym.load(_mxnet('grad-symbol.json'))
    exe = graph.bind(mx.cpu(), args={'x': nd.array(EXPECTED['grad_x']),
                                     'w': nd.array(EXPECTED['grad_w'])},
                     args_grad={'x': nd.zeros((3, 5)), 'w': nd.zeros((4, 5))})
    exe.forward(is_train=True)
    exe.backward()                         # a loss: no head gradient needed
    assert_allclose(exe.outputs[0].asnumpy(), EXPECTED['grad_out'], rtol=1e-5)
    assert_allclose(exe.grad_dict['x'].asnumpy(), EXPECTED['grad_dx'], rtol=1e-5,
                    atol=1e-6)
    assert_allclose(exe.grad_dict['w'].asnumpy(), EXPECTED['grad_dw'], rtol=1e-5,
                    atol=1e-6)


def test_mxnet_exported_gluon_network_imports():
    net = gluon.SymbolBlock.imports(_mxnet('lenet-symbol.json'), ['data'],
                                    _mxnet('lenet-0003.params'))
    out = net(nd.array(EXPECTED['lenet_in']))
    assert_allclose(out.asnumpy(), EXPECTED['lenet_out'], rtol=1e-5, atol=1e-6)
    running = [p for n, p in net.collect_params().items() if 'running' in n]
    assert len(running) == 2 and all(p.grad_req == 'null' for p in running)


# ------------------------------------------------------------- files for MXNet

def test_minimx_made_fixtures_are_what_minimx_writes(tmp_path):
    script = os.path.join(FIXTURES, 'make_minimx_fixtures.py')
    subprocess.run([sys.executable, script, str(tmp_path)], check=True,
                   env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    committed = os.path.join(FIXTURES, 'minimx_made')
    names = sorted(os.listdir(committed))
    assert names == sorted(os.listdir(tmp_path))
    for name in names:
        with open(os.path.join(committed, name), 'rb') as a, \
                open(tmp_path / name, 'rb') as b:
            assert a.read() == b.read(), name
