"""ONNX export (Chapter 13, `mx.onnx`): every operator that exports, the model zoo with
MXNet 1.9.1's weights, and the MXNet-trained model of the book, each run in onnxruntime
and compared with minimx (and MXNet's recorded outputs) to 1e-4."""
import functools
import json
import os
import sys

import numpy as np
import pytest
from fixtures.model_zoo import networks
from numpy.testing import assert_allclose

import minimx as mx
from minimx import gluon, nd
from minimx.base import MXNetError
from minimx.gluon.model_zoo import vision

pytestmark = pytest.mark.ch13

MISSING = ''
try:
    import onnx
    import onnxruntime
except ImportError as err:
    onnx = onnxruntime = None
    MISSING = f"needs onnx and onnxruntime (minimx's [onnx] extra): {err}"
needs_onnx = pytest.mark.skipif(onnxruntime is None, reason=MISSING)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = os.path.join(ROOT, 'book', 'data')
ZOO = os.path.join(ROOT, 'tests', 'fixtures', 'model_zoo')
COVERED = set()                 # the operators the cases below export


def run_onnx(path, feed):
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    return session.run(None, feed)


def assert_close(got, want, tol=1e-4):
    scale = max(1.0, float(np.abs(want).max()))
    assert_allclose(got, want, rtol=tol, atol=tol * scale)


def one_op(op, shapes, attrs=None, params=()):
    """A graph of one operator node `op` whose inputs are variables x0, x1, ... of
    `shapes`; the variables at the positions in `params` are parameters (p1, ...)."""
    names = [f'p{i}' if i in params else f'x{i}' for i in range(len(shapes))]
    nodes = [{'op': 'null', 'name': n, 'inputs': []} for n in names]
    nodes.append({'op': op, 'name': 'out', 'attrs': {k: str(v) for k, v in
                                                     (attrs or {}).items()},
                  'inputs': [[i, 0, 0] for i in range(len(names))]})
    graph = {'nodes': nodes, 'arg_nodes': list(range(len(names))),
             'heads': [[len(names), 0, 0]], 'attrs': {'mxnet_version': ['int', 10901]}}
    return mx.sym.load_json(json.dumps(graph)), names


def values_for(op, names, shapes, rng):
    values = {}
    for i, (name, shape) in enumerate(zip(names, shapes)):
        v = rng.uniform(-1, 1, shape).astype(np.float32)
        if op in ('log', 'sqrt', 'reciprocal', '_power_scalar', '_power',
                  'broadcast_power', 'LRN') or (op == 'BatchNorm' and i == 4):
            v = rng.uniform(0.5, 2, shape).astype(np.float32)
        if op == 'Embedding' and i == 0:
            v = rng.randint(0, 5, shape).astype(np.float32)
        if op == 'where' and i == 0:
            v = (v > 0).astype(np.float32)
        values[name] = v
    return values


def check_graph(sym, values, inputs, tmp_path, dynamic_batch=None):
    path = str(tmp_path / 'model.onnx')
    params = {k: v for k, v in values.items() if k not in inputs}
    mx.onnx.export_model(sym, params, [values[n].shape for n in inputs],
                         [values[n].dtype for n in inputs], path,
                         dynamic=dynamic_batch is not None)
    feed = {n: values[n] for n in inputs}
    if dynamic_batch is not None:
        feed = {n: np.concatenate([v] * dynamic_batch) for n, v in feed.items()}
    arrays = {k: nd.array(v, dtype=v.dtype) for k, v in {**values, **feed}.items()}
    aux = sym.list_auxiliary_states()
    want = sym.bind(mx.cpu(), args={k: v for k, v in arrays.items() if k not in aux},
                    aux_states={k: arrays[k] for k in aux},
                    grad_req='null').forward(is_train=False)
    got = run_onnx(path, feed)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        assert_close(g, w.asnumpy())


CASES = [
    ('FullyConnected', [(2, 3, 2, 2), (4, 12), (4,)], {'num_hidden': 4}, (1, 2)),
    ('FullyConnected', [(2, 3, 5), (4, 5)], {'num_hidden': 4, 'flatten': False,
                                             'no_bias': True}, (1,)),
    ('FullyConnected', [(2, 3, 5), (4, 5), (4,)], {'num_hidden': 4, 'flatten': False},
     (1, 2)),
    ('Convolution', [(2, 4, 7, 7), (6, 2, 3, 3), (6,)],
     {'kernel': (3, 3), 'num_filter': 6, 'stride': (2, 1), 'pad': (1, 2),
      'dilate': (1, 2), 'num_group': 2}, (1, 2)),
    ('Convolution', [(2, 3, 9), (4, 3, 3)], {'kernel': (3,), 'num_filter': 4,
                                             'no_bias': True}, (1,)),
    ('Pooling', [(2, 3, 7, 7)], {'kernel': (3, 3), 'stride': (2, 2), 'pool_type': 'max',
                                 'pooling_convention': 'full'}, ()),
    ('Pooling', [(2, 3, 6, 6)], {'kernel': (3, 3), 'pad': (1, 1), 'pool_type': 'avg',
                                 'count_include_pad': False}, ()),
    ('Pooling', [(2, 3, 6, 6)], {'kernel': (2, 2), 'stride': (2, 2), 'pad': (1, 1),
                                 'pool_type': 'avg'}, ()),
    ('Pooling', [(2, 3, 6, 6)], {'kernel': (2, 2), 'pool_type': 'sum'}, ()),
    ('Pooling', [(2, 3, 5, 4)], {'kernel': (1, 1), 'global_pool': True,
                                 'pool_type': 'avg'}, ()),
    ('Pooling', [(2, 3, 5, 4)], {'kernel': (1, 1), 'global_pool': True}, ()),
    ('BatchNorm', [(2, 3, 4, 4), (3,), (3,), (3,), (3,)],
     {'fix_gamma': False, 'eps': 1e-5}, (1, 2, 3, 4)),
    ('BatchNorm', [(2, 3, 4), (3,), (3,), (3,), (3,)], {}, (1, 2, 3, 4)),
    ('LeakyReLU', [(2, 3, 4, 4), (3,)], {'act_type': 'prelu'}, (1,)),
    ('hard_sigmoid', [(2, 5)], {'alpha': 0.3, 'beta': 0.4}, ()),
    ('clip', [(2, 5)], {'a_min': -0.3, 'a_max': 0.6}, ()),
    ('softmax', [(2, 3, 4)], {'axis': 1, 'temperature': 2.0}, ()),
    ('log_softmax', [(2, 5)], {}, ()),
    ('SoftmaxOutput', [(2, 3, 2, 2), (2,)], {}, ()),
    ('SoftmaxOutput', [(2, 5), (2,)], {}, ()),
    ('SoftmaxOutput', [(2, 3, 4), (2, 4)], {'multi_output': True}, ()),
    ('SoftmaxOutput', [(2, 3, 4), (2, 3)], {'preserve_shape': True}, ()),
    ('SoftmaxActivation', [(2, 3, 2)], {'mode': 'channel'}, ()),
    ('SoftmaxActivation', [(2, 6)], {}, ()),
    ('Dropout', [(2, 5)], {'p': 0.5}, ()),
    ('Concat', [(2, 3), (2, 4)], {'dim': 1, 'num_args': 2}, ()),
    ('concat', [(2, 3), (5, 3)], {'dim': 0, 'num_args': 2}, ()),
    ('stack', [(2, 3), (2, 3)], {'axis': -1, 'num_args': 2}, ()),
    ('Reshape', [(2, 3, 4)], {'shape': (0, -1)}, ()),
    ('Reshape', [(2, 3, 4)], {'shape': (-4, 1, 2, -2)}, ()),
    ('Reshape', [(2, 3, 4)], {'shape': (-3, -1), 'reverse': True}, ()),
    ('transpose', [(2, 3, 4)], {'axes': (1, 0, 2)}, ()),
    ('transpose', [(2, 3, 4)], {}, ()),
    ('SwapAxis', [(2, 3, 4)], {'dim1': 0, 'dim2': 2}, ()),
    ('swapaxes', [(2, 3, 4)], {'dim1': 1, 'dim2': 2}, ()),
    ('expand_dims', [(2, 3)], {'axis': -1}, ()),
    ('squeeze', [(2, 1, 3, 1)], {'axis': (1, 3)}, ()),
    ('squeeze', [(2, 1, 3, 1)], {}, ()),
    ('sum', [(2, 3, 4)], {'axis': (0, 2)}, ()),
    ('sum', [(2, 3, 4)], {}, ()),
    ('mean', [(2, 3, 4)], {'axis': 1, 'keepdims': True}, ()),
    ('max', [(2, 3, 4)], {'axis': 1, 'exclude': True}, ()),
    ('min', [(2, 3, 4)], {}, ()),
    ('prod', [(2, 3, 4)], {'axis': -1}, ()),
    ('dot', [(3, 4), (5, 4)], {'transpose_b': True}, ()),
    ('batch_dot', [(2, 4, 3), (2, 4, 5)], {'transpose_a': True}, ()),
    ('slice_axis', [(2, 6)], {'axis': 1, 'begin': 1, 'end': -1}, ()),
    ('slice_axis', [(4, 6)], {'axis': 0, 'begin': 2, 'end': 'None'}, ()),
    ('SliceChannel', [(2, 6, 3)], {'num_outputs': 3, 'axis': 1}, ()),
    ('split', [(2, 6, 3)], {'num_outputs': 2, 'axis': 0, 'squeeze_axis': True}, ()),
    ('Pad', [(1, 2, 3, 4)], {'mode': 'constant', 'constant_value': 0.5,
                             'pad_width': (0, 0, 0, 0, 1, 2, 2, 1)}, ()),
    ('Pad', [(1, 2, 3, 4)], {'mode': 'edge', 'pad_width': (0, 0, 0, 0, 1, 1, 2, 2)},
     ()),
    ('Pad', [(1, 2, 3, 4)], {'mode': 'reflect',
                             'pad_width': (0, 0, 0, 0, 1, 1, 2, 2)}, ()),
    ('Embedding', [(2, 3), (5, 4)], {'input_dim': 5, 'output_dim': 4}, (1,)),
    ('Cast', [(2, 3)], {'dtype': 'float64'}, ()),
    ('LRN', [(2, 5, 3, 3)], {'nsize': 3, 'alpha': 0.01, 'beta': 0.6, 'knorm': 1.5},
     ()),
    ('UpSampling', [(1, 2, 3, 3)], {'scale': 2, 'sample_type': 'nearest',
                                    'num_args': 1}, ()),
    ('where', [(2, 3), (2, 3), (2, 3)], {}, ()),
    ('add_n', [(2, 3), (2, 3), (2, 3)], {'num_args': 3}, ()),
    ('square', [(2, 3)], {}, ()),
    ('LinearRegressionOutput', [(2, 3), (2, 3)], {}, ()),
    ('MAERegressionOutput', [(2, 3), (2, 3)], {}, ()),
    ('LogisticRegressionOutput', [(2, 3), (2, 3)], {}, ()),
    ('MakeLoss', [(2, 3)], {}, ()),
    ('make_loss', [(2, 3)], {}, ()),
    ('BlockGrad', [(2, 3)], {}, ()),
    ('identity', [(2, 3)], {}, ()),
    ('_copy', [(2, 3)], {}, ()),
    ('Flatten', [(2, 3, 4)], {}, ()),
]
CASES += [('Activation', [(2, 5)], {'act_type': a}, ())
          for a in ('relu', 'sigmoid', 'tanh', 'softrelu', 'softsign')]
CASES += [('LeakyReLU', [(2, 5)], {'act_type': a, 'slope': 0.3}, ())
          for a in ('leaky', 'elu', 'selu', 'gelu')]
CASES += [(op, [(2, 5)], {}, ()) for op in
          ('relu', 'sigmoid', 'tanh', 'softsign', 'exp', 'log', 'sqrt', 'abs',
           'negative',
           'floor', 'ceil', 'reciprocal', 'erf', 'sign', 'sin', 'cos', 'rint')]
CASES += [(op, [(2, 3, 4), (2, 3, 4)], {}, ()) for op in
          ('elemwise_add', 'elemwise_sub', 'elemwise_mul', 'elemwise_div', '_maximum',
           '_minimum', '_power')]
CASES += [(op, [(2, 3, 4), (2, 1, 4)], {}, ()) for op in
          ('broadcast_add', 'broadcast_plus', 'broadcast_sub', 'broadcast_minus',
           'broadcast_mul', 'broadcast_div', 'broadcast_maximum', 'broadcast_minimum',
           'broadcast_power')]
CASES += [(op, [(2, 3)], {'scalar': 1.5}, ()) for op in
          ('_plus_scalar', '_minus_scalar', '_rminus_scalar', '_mul_scalar',
           '_div_scalar', '_rdiv_scalar', '_power_scalar', '_rpower_scalar',
           '_maximum_scalar', '_minimum_scalar')]


@needs_onnx
@pytest.mark.parametrize('op, shapes, attrs, params', CASES,
                         ids=[f'{c[0]}-{i}' for i, c in enumerate(CASES)])
def test_operator_exports_and_runs_in_onnxruntime(tmp_path, op, shapes, attrs, params):
    sym, names = one_op(op, shapes, attrs, params)
    values = values_for(op, names, shapes, np.random.RandomState(len(COVERED)))
    inputs = mx.onnx.mx2onnx._data_inputs(sym, {n: 0 for n in names if n[0] == 'p'})
    check_graph(sym, values, inputs, tmp_path)
    COVERED.add(op)


@needs_onnx
def test_every_registered_operator_has_a_case():
    assert {c[0] for c in CASES} == set(mx.onnx.get_operator_support())


# ------------------------------------------------------------- whole networks

@needs_onnx
def test_mxnet_trained_digits_model_runs_in_onnxruntime(tmp_path):
    expected = np.load(os.path.join(BOOK, 'digits_cnn-expected.npz'))
    path = mx.onnx.export_model(os.path.join(BOOK, 'digits_cnn-symbol.json'),
                                os.path.join(BOOK, 'digits_cnn-0000.params'),
                                [(8, 1, 8, 8)], np.float32, str(tmp_path / 'd.onnx'))
    got, = run_onnx(path, {'data': expected['images']})
    assert_close(got, expected['logits'])          # what MXNet 1.9.1 computed
    model = onnx.load(path)
    assert [i.name for i in model.graph.input] == ['data']
    assert [n.op_type for n in model.graph.node] == [
        'Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'Flatten', 'Gemm', 'Relu',
        'Gemm']


ZOO_WEIGHTS = {name: functools.partial(build, vision)        # MXNet's thin networks
               for name, build in networks.THIN.items()}


@needs_onnx
@pytest.mark.parametrize('name', list(ZOO_WEIGHTS))
def test_model_zoo_with_mxnet_weights_gives_mxnets_outputs(tmp_path, name):
    with np.load(os.path.join(ZOO, name + '-io.npz')) as f:
        io = dict(f)
    x = np.random.RandomState(int(io['seed'])).uniform(
        -1, 1, tuple(io['shape'])).astype(np.float32)
    net = ZOO_WEIGHTS[name]()
    net.load_parameters(os.path.join(ZOO, name + '.params'))
    net.hybridize()
    net(nd.array(x))
    files = net.export(str(tmp_path / name), onnx=str(tmp_path / 'zoo.onnx'),
                       in_shapes=[x.shape])
    assert len(files) == 3
    got, = run_onnx(files[2], {'data': x})
    assert_allclose(got, io['predict'], rtol=1e-4,
                    atol=1e-4 * np.abs(io['predict']).max())


@needs_onnx
@pytest.mark.parametrize('name, side', [('resnet18_v1', 32), ('resnet50_v2', 32),
                                        ('vgg11_bn', 32), ('alexnet', 224),
                                        ('squeezenet1.0', 224), ('squeezenet1.1', 224),
                                        ('densenet121', 224), ('inceptionv3', 299),
                                        ('mobilenet1.0', 32), ('mobilenetv2_1.0', 32)])
def test_model_zoo_architectures_export(tmp_path, name, side):
    mx.random.seed(0)
    net = vision.get_model(name, classes=10)
    net.initialize(mx.init.Xavier(magnitude=2.5))
    net.hybridize()
    x = np.random.RandomState(0).uniform(-1, 1, (1, 3, side, side)).astype(np.float32)
    want = net(nd.array(x)).asnumpy()
    files = net.export(str(tmp_path / 'net'), onnx=str(tmp_path / 'net.onnx'),
                       in_shapes=[x.shape])
    got, = run_onnx(files[2], {'data': x})
    assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


# ------------------------------------------------------------ the interface

def digits_files():
    return (os.path.join(BOOK, 'digits_cnn-symbol.json'),
            os.path.join(BOOK, 'digits_cnn-0000.params'))


@needs_onnx
def test_params_and_symbol_in_every_form_mxnet_accepts(tmp_path):
    sym_file, params_file = digits_files()
    sym, args, aux = mx.model.load_checkpoint(sym_file[:-len('-symbol.json')], 0)
    loaded = nd.load(params_file)
    x = np.random.RandomState(0).rand(2, 1, 8, 8).astype(np.float32)
    results = []
    for i, (s, p) in enumerate([(sym_file, params_file), (sym, loaded),
                                (sym, [args, aux]), (sym, {**args, **aux})]):
        path = str(tmp_path / f'{i}.onnx')
        assert mx.onnx.export_model(s, p, [(2, 1, 8, 8)], [np.float32], path) == path
        results.append(run_onnx(path, {'data': x})[0])
    path = str(tmp_path / 'old_names.onnx')    # MXNet's older keyword names
    mx.onnx.export_model(sym, loaded, onnx_file_path=path, input_shape=[(2, 1, 8, 8)],
                         input_type=np.float32)
    results.append(run_onnx(path, {'data': x})[0])
    for r in results[1:]:
        assert np.array_equal(r, results[0])


@needs_onnx
def test_dynamic_batch(tmp_path):
    sym, args, aux = mx.model.load_checkpoint(os.path.join(BOOK, 'digits_cnn'), 0)
    x = np.random.RandomState(1).rand(1, 1, 8, 8).astype(np.float32)
    values = {**{k: v.asnumpy() for k, v in {**args, **aux}.items()}, 'data': x}
    check_graph(sym, values, ['data'], tmp_path, dynamic_batch=5)
    data = mx.sym.var('data')
    flat = mx.sym.reshape(mx.sym.transpose(data, axes=(0, 2, 1)), shape=(0, -1))
    check_graph(flat, {'data': np.random.RandomState(2).rand(1, 3, 4).astype(
        np.float32)}, ['data'], tmp_path, dynamic_batch=3)
    model = onnx.load(str(tmp_path / 'model.onnx'))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'


@needs_onnx
def test_operator_without_mapping_is_named(tmp_path):
    data = mx.sym.var('data')
    sym = mx.sym.topk(mx.sym.relu(data), k=2, name='best')
    with pytest.raises(MXNetError, match=r"operator 'topk' \(node 'best'\) has no ONNX "
                                         r"mapping in minimx.*get_operator_support"):
        mx.onnx.export_model(sym, {}, [(2, 5)], np.float32, str(tmp_path / 'x.onnx'))
    assert not os.path.exists(tmp_path / 'x.onnx')
    refused = [(mx.sym.BatchNorm(data, axis=2, name='bn'), "normalises axis 2"),
               (mx.sym.Dropout(data, p=0.5, mode='always', name='drop'),
                "mode='always'"),
               (mx.sym.Pooling(data, kernel=(1,), pool_type='sum', global_pool=True,
                               name='pool'), "sums globally")]
    for sym, message in refused:
        shape = (2, 3, 4)
        params = {n: np.ones(s, np.float32) for n, s in
                  zip(sym.list_inputs()[1:], [(shape[2],)] * 4)}
        with pytest.raises(MXNetError, match=rf"ONNX export: \w+ \(node '\w+'\) "
                                             rf".*{message}"):
            mx.onnx.export_model(sym, params, [shape], np.float32,
                                 str(tmp_path / 'x.onnx'))


@needs_onnx
def test_inputs_must_match_in_shapes(tmp_path):
    sym, params = digits_files()
    with pytest.raises(MXNetError, match=r"inputs .* are \['data'\]; give one shape"):
        mx.onnx.export_model(sym, params, [(1, 1, 8, 8), (1,)], np.float32,
                             str(tmp_path / 'x.onnx'))


def test_export_onnx_needs_in_shapes(tmp_path):
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(2))
    net.initialize()
    net.hybridize()
    net(nd.ones((1, 3)))
    with pytest.raises(MXNetError, match=r"onnx= needs in_shapes"):
        net.export(str(tmp_path / 'n'), onnx=str(tmp_path / 'n.onnx'))
    assert net.export(str(tmp_path / 'n'))[1].endswith('n-0000.params')


def test_without_onnx_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'onnx', None)
    sym, params = digits_files()
    with pytest.raises(ImportError, match=r"pip install onnx .*minimx\[onnx\]"):
        mx.onnx.export_model(sym, params, [(1, 1, 8, 8)], np.float32,
                             str(tmp_path / 'x.onnx'))
    assert 'Convolution' in mx.onnx.get_operator_support()
