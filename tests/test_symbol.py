"""mx.sym: graphs from the nd operators, their inspection, inference and executors."""
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, gluon, nd, sym
from minimx.base import MXNetError
from minimx.ndarray.tape import Node as TapeNode
from minimx.symbol.registry import FUNCTIONS, SPECS

pytestmark = pytest.mark.ch10

# ------------------------------------------------------------------- building graphs

def test_var_attributes_use_mxnet_spellings():
    x = sym.var('x', shape=(2, 3), dtype='float16', lr_mult=2.0, wd_mult=0.5,
                init=mx.init.Xavier())
    # As MXNet 1.9.1 prints them for the same call (lr/wd listed in both spellings).
    assert x.list_attr() == {
        '__shape__': '(2, 3)', '__dtype__': '2', '__lr_mult__': '2.0', 'lr_mult': '2.0',
        '__wd_mult__': '0.5', 'wd_mult': '0.5',
        '__init__': '["xavier", {"rnd_type": "uniform", "factor_type": "avg", '
                    '"magnitude": 3}]'}
    assert x.attr('__shape__') == '(2, 3)' and x.attr('missing') is None
    assert sym.Variable is sym.var
    with pytest.raises(ValueError, match='__foo__'):
        sym.var('y', foo=1)


def test_operators_make_mxnet_nodes_and_names():
    a, b = sym.var('a'), sym.var('b')
    with mx.name.NameManager():
        cases = [(a + b, 'elemwise_add', '_plus0'), (a - b, 'elemwise_sub', '_minus0'),
                 (a * b, 'elemwise_mul', '_mul0'), (a / b, 'elemwise_div', '_div0'),
                 (a ** b, '_power', '_power0'), (a > b, '_greater', '_greater0'),
                 (a + 1, '_plus_scalar', '_plusscalar0'),
                 (1 + a, '_plus_scalar', '_plusscalar1'),
                 (1 - a, '_rminus_scalar', '_rminusscalar0'),
                 (2 / a, '_rdiv_scalar', '_rdivscalar0'),
                 (-a, '_mul_scalar', '_mulscalar0'), (a < 1, '_lesser_scalar',
                                                       '_lesser_scalar0'),
                 (abs(a), 'abs', 'abs0'), (sym.maximum(a, 1), '_maximum_scalar',
                                           '_maximumscalar0'),
                 (sym.broadcast_add(a, b), 'broadcast_add', 'broadcast_add0')]
    for s, op, name in cases:
        node = json.loads(s.tojson())['nodes'][-1]
        assert (node['op'], node['name']) == (op, name)
    assert json.loads((a * 2).tojson())['nodes'][-1]['attrs'] == {'scalar': '2'}


def test_missing_inputs_become_variables_named_after_the_node():
    fc = sym.FullyConnected(sym.var('data'), num_hidden=10, name='fc1')
    assert fc.list_arguments() == ['data', 'fc1_weight', 'fc1_bias']
    assert sym.FullyConnected(sym.var('d'), num_hidden=2, no_bias=True,
                              name='nb').list_arguments() == ['d', 'nb_weight']
    bn = sym.BatchNorm(sym.var('x'), name='bn')
    assert bn.list_arguments() == ['x', 'bn_gamma', 'bn_beta']
    assert bn.list_auxiliary_states() == ['bn_moving_mean', 'bn_moving_var']
    assert bn.list_inputs() == ['x', 'bn_gamma', 'bn_beta', 'bn_moving_mean',
                                'bn_moving_var']
    assert bn.list_outputs() == ['bn_output']


def test_name_manager_and_prefix():
    with mx.name.NameManager():
        first = sym.relu(sym.var('x'))
        second = sym.relu(sym.var('x'))
        with mx.name.Prefix('net_'):
            inner = sym.FullyConnected(sym.var('data'), num_hidden=2, name='fc')
            auto = sym.exp(first)
    assert (first.name, second.name) == ('relu0', 'relu1')
    assert inner.list_arguments() == ['data', 'net_fc_weight', 'net_fc_bias']
    assert auto.name == 'net_exp0'


def test_every_nd_operator_is_a_symbol_function():
    missing = [name for name in FUNCTIONS if not callable(getattr(sym, name, None))]
    assert not missing
    for name in ('FullyConnected', 'Convolution', 'Pooling', 'Activation', 'Dropout',
                 'BatchNorm', 'softmax', 'log_softmax', 'reshape', 'transpose', 'sum',
                 'mean', 'dot', 'batch_dot', 'concat', 'stack', 'split', 'take', 'pick',
                 'where', 'one_hot', 'exp', 'log', 'relu', 'sigmoid', 'tanh', 'clip',
                 'broadcast_add', 'elemwise_add', 'zeros', 'ones', 'BlockGrad',
                 'make_loss', 'Embedding', 'LeakyReLU', 'Flatten', 'Cast'):
        assert callable(getattr(sym, name)), name
    assert callable(sym.random.uniform) and callable(sym.random.normal)


def test_group_internals_children_and_indexing():
    a, b, d = sym.var('a'), sym.var('b'), sym.var('d')
    with mx.name.NameManager():
        c = a + b
        e = d + c
    assert [s.name for s in e.get_children()] == ['d', '_plus0']
    assert a.get_children() is None
    assert e.get_internals().list_outputs() == ['d', 'a', 'b', '_plus0_output',
                                                '_plus1_output']
    assert e.get_internals()['_plus0_output'].name == '_plus0'
    g = sym.Group([c, e])
    assert len(g) == 2 and g.name is None and g[1].name == '_plus1'
    assert repr(g) == '<Symbol group [_plus0, _plus1]>'
    with mx.name.NameManager():
        parts = sym.split(sym.var('q'), num_outputs=3, axis=1)
    assert parts.list_outputs() == ['split0_output0', 'split0_output1',
                                    'split0_output2']
    assert [p.name for p in parts] == ['split0'] * 3
    with pytest.raises(IndexError):
        parts[3]


def test_attr_scope_and_attr_dict():
    with mx.name.NameManager(), mx.AttrScope(group='4'):
        y = sym.exp(sym.var('z'))
    assert y.list_attr() == {'group': '4'}
    assert y.attr_dict() == {'z': {'group': '4'}, 'exp0': {'group': '4'}}
    fc = sym.FullyConnected(sym.var('x'), num_hidden=3, name='fc')
    assert fc.attr('num_hidden') == '3'
    assert fc.attr_dict()['fc_weight'] == {'num_hidden': '3'}   # MXNet copies them


def test_compose_replaces_variables():
    with mx.name.NameManager():
        net1 = sym.FullyConnected(sym.var('data'), name='fc1', num_hidden=10)
        net2 = sym.FullyConnected(name='fc3', num_hidden=10)
    assert net2.list_arguments() == ['fc3_data', 'fc3_weight', 'fc3_bias']
    composed = net2(fc3_data=net1, name='composed')
    assert composed.name == 'composed'
    assert composed.list_arguments() == ['data', 'fc1_weight', 'fc1_bias',
                                         'fc3_weight', 'fc3_bias']
    assert net2.list_arguments()[0] == 'fc3_data'            # the original is untouched
    with pytest.raises(MXNetError, match='not inputs'):
        net2(nope=net1)


# ----------------------------------------------------------------------- inference

def test_infer_shape_fills_weights_from_the_data():
    fc = sym.FullyConnected(sym.var('a'), num_hidden=3, name='fc')
    assert fc.infer_shape(a=(2, 5)) == ([(2, 5), (3, 5), (3,)], [(2, 3)], [])
    conv = sym.Convolution(sym.var('x'), kernel=(3, 3), num_filter=4, num_group=2)
    args, outs, _ = conv.infer_shape(x=(1, 6, 8, 8))
    assert args[1:] == [(4, 3, 3, 3), (4,)] and outs == [(1, 4, 6, 6)]
    bn = sym.BatchNorm(sym.var('x'), axis=-1)
    assert bn.infer_shape(x=(2, 7))[2] == [(7,), (7,)]
    emb = sym.Embedding(sym.var('i'), input_dim=10, output_dim=4)
    assert emb.infer_shape(i=(2, 3)) == ([(2, 3), (10, 4)], [(2, 3, 4)], [])


def test_infer_shape_partial_and_unknown():
    a, b = sym.var('a'), sym.var('b')
    net = sym.FullyConnected(a + b, num_hidden=3, name='fc')
    assert net.infer_shape_partial() == ([(), (), (), ()], [()], [])
    assert net.infer_shape_partial(a=(2, 4))[0] == [(2, 4), (2, 4), (3, 4), (3,)]
    with pytest.warns(UserWarning, match='Cannot decide shape'):
        assert net.infer_shape() == (None, None, None)
    assert sym.var('v', shape=(0, 3)).infer_shape_partial()[0] == [(0, 3)]
    assert sym.var('v', shape=(2, 3)).infer_shape() == ([(2, 3)], [(2, 3)], [])


def test_infer_shape_errors_name_the_operator_and_the_fix():
    a, b = sym.var('a'), sym.var('b')
    with mx.name.NameManager():
        c = a + b
    with pytest.raises(MXNetError, match=r"'_plus0' \(elemwise_add\).*broadcast_add"):
        c.infer_shape(a=(2, 3), b=(3,))
    assert sym.broadcast_add(a, b).infer_shape(a=(2, 3), b=(3,))[1] == [(2, 3)]
    fc = sym.FullyConnected(sym.var('x'), sym.var('w'), num_hidden=3, no_bias=True)
    with pytest.raises(MXNetError, match='weight: shape'):
        fc.infer_shape(x=(2, 5), w=(3, 4))
    with pytest.raises(MXNetError, match="'nope' is not an input"):
        fc.infer_shape(nope=(1,))


def test_infer_type():
    fc = sym.FullyConnected(sym.var('a'), num_hidden=3, name='fc')
    assert fc.infer_type(a='float64') == ([np.float64] * 3, [np.float64], [])
    with pytest.warns(UserWarning, match='Cannot decide type'):
        assert fc.infer_type() == (None, None, None)
    arg, out, _ = sym.argmax(sym.var('x', dtype='float16'), axis=1).infer_type()
    assert arg == [np.float16] and out == [np.float32]
    cast = sym.Cast(sym.var('x'), dtype='int32')
    assert cast.infer_type(x='float32')[1] == [np.int32]
    assert sym.Embedding(sym.var('i'), sym.var('w'), input_dim=3, output_dim=2) \
        .infer_type(i='int32', w='float16')[1] == [np.float16]


# ------------------------------------------------------------------------- JSON

def test_tojson_is_mxnets_format_and_round_trips(tmp_path):
    with mx.name.NameManager():
        net = sym.FullyConnected(sym.var('data'), num_hidden=10, name='fc1')
        net = sym.Activation(net, act_type='relu')
        net = sym.Convolution(net, kernel=(3, 3), num_filter=4)
        net = sym.BatchNorm(net, name='bn')
    graph = json.loads(net.tojson())
    assert set(graph) == {'nodes', 'arg_nodes', 'node_row_ptr', 'heads', 'attrs'}
    ops = [(n['op'], n['name']) for n in graph['nodes']]
    assert ops[:5] == [('null', 'data'), ('null', 'fc1_weight'), ('null', 'fc1_bias'),
                       ('FullyConnected', 'fc1'), ('Activation', 'activation0')]
    conv = graph['nodes'][ops.index(('Convolution', 'convolution0'))]
    assert conv['attrs'] == {'kernel': '(3, 3)', 'num_filter': '4'}
    bn = graph['nodes'][-1]
    assert bn['inputs'][-2:] == [[10, 0, 1], [11, 0, 1]]     # aux inputs: version 1
    assert graph['arg_nodes'] == [i for i, n in enumerate(graph['nodes'])
                                  if n['op'] == 'null']
    assert graph['node_row_ptr'][-1] - graph['node_row_ptr'][-2] == 3   # as MXNet
    assert graph['heads'] == [[len(ops) - 1, 0, 0]]
    again = sym.load_json(net.tojson())
    assert again.tojson() == net.tojson()
    net.save(tmp_path / 'net-symbol.json')
    assert sym.load(str(tmp_path / 'net-symbol.json')).list_arguments() == \
        net.list_arguments()


def test_load_json_errors_name_the_node():
    with pytest.raises(MXNetError, match='not a symbol file'):
        sym.load_json('{"no": 1}')
    bad = {'nodes': [{'op': 'null', 'name': 'x', 'inputs': []},
                     {'op': 'NoSuchOp', 'name': 'y', 'inputs': [[0, 0, 0]]}],
           'heads': [[1, 0, 0]]}
    with pytest.raises(MXNetError, match=r"node 1 \('y'\).*'NoSuchOp'"):
        sym.load_json(json.dumps(bad))
    bad['nodes'][1] = {'op': 'relu', 'name': 'y', 'attrs': {'flavour': 'x'},
                       'inputs': [[0, 0, 0]]}
    with pytest.raises(MXNetError, match="no attribute 'flavour'"):
        sym.load_json(json.dumps(bad))
    bad['nodes'][1] = {'op': 'Convolution', 'name': 'c', 'inputs': [[0, 0, 0]],
                       'attrs': {'kernel': '(1, 1)', 'num_filter': '1',
                                 'cudnn_tune': 'off', 'workspace': '1024'}}
    assert sym.load_json(json.dumps(bad)).name == 'c'     # cuDNN's options are dropped
    old = {'nodes': [{'op': 'null', 'name': 'x', 'inputs': []},
                     {'op': 'Activation', 'name': 'a', 'param': {'act_type': 'tanh'},
                      'inputs': [[0, 0]]}], 'heads': [[1, 0]]}     # before MXNet 1.0
    out = sym.load_json(json.dumps(old)).eval(x=nd.array([0.5]))[0]
    assert_allclose(out.asnumpy(), np.tanh([0.5]), rtol=1e-6)


# ---------------------------------------------------------------------- executors

def test_eval_bind_and_simple_bind():
    a, b = sym.var('a'), sym.var('b')
    out = (a * b + 1).eval(a=nd.ones((2, 2)), b=nd.full((2, 2), 3))
    assert_allclose(out[0].asnumpy(), 4)
    exe = (a * b).bind(mx.cpu(), args=[nd.ones((2,)), nd.full((2,), 2)])
    assert_allclose(exe.forward()[0].asnumpy(), [2, 2])
    assert exe.grad_dict == {}
    with pytest.raises(MXNetError, match=r"lacks \['b'\]"):
        (a * b).bind(mx.cpu(), args={'a': nd.ones((2,))})
    exe = sym.FullyConnected(sym.var('data'), num_hidden=4, name='fc') \
        .simple_bind(mx.cpu(), data=(3, 5))
    assert {k: v.shape for k, v in exe.arg_dict.items()} == \
        {'data': (3, 5), 'fc_weight': (4, 5), 'fc_bias': (4,)}
    assert sorted(exe.grad_dict) == ['data', 'fc_bias', 'fc_weight']
    with pytest.raises(MXNetError, match='cannot infer the shapes'):
        sym.FullyConnected(sym.var('data'), num_hidden=4).simple_bind(mx.cpu())


def test_forward_backward_grad_req_and_head_gradients():
    a, b = sym.var('a'), sym.var('b')
    exe = (a * b).simple_bind(mx.cpu(), a=(2, 2), b=(2, 2))
    exe.forward(is_train=True, a=nd.ones((2, 2)), b=nd.full((2, 2), 3))
    with pytest.raises(MXNetError, match=r"'_mul\d+_output' is not a loss.*out_grads="
                                         r".*make_loss"):
        exe.backward()
    exe.backward(nd.full((2, 2), 2))
    assert_allclose(exe.grad_dict['a'].asnumpy(), 6)
    assert_allclose(exe.grad_dict['b'].asnumpy(), 2)
    loss = sym.make_loss(sym.sum(a * b))
    exe = loss.simple_bind(mx.cpu(), a=(2, 2), b=(2, 2), grad_req={'a': 'add'})
    assert exe.grad_req == {'a': 'add', 'b': 'null'} and 'b' not in exe.grad_dict
    for _ in range(2):                 # 'add' accumulates, as in MXNet
        exe.forward(is_train=True, a=nd.ones((2, 2)), b=nd.full((2, 2), 3))
        exe.backward()
    assert_allclose(exe.grad_dict['a'].asnumpy(), 6)
    exe.forward(is_train=False)
    with pytest.raises(MXNetError, match='forward\\(is_train=True\\) first'):
        exe.backward()
    with pytest.raises(MXNetError, match='exe.reshape'):
        exe.forward(a=nd.ones((3, 2)))


def test_copy_params_from_and_reshape():
    net = sym.FullyConnected(sym.var('data'), num_hidden=2, name='fc')
    exe = net.simple_bind(mx.cpu(), data=(3, 4))
    exe.copy_params_from({'fc_weight': nd.ones((2, 4)), 'fc_bias': nd.array([1, 2])})
    out = exe.forward(data=nd.ones((3, 4)))[0]
    assert_allclose(out.asnumpy(), [[5, 6]] * 3)
    with pytest.raises(MXNetError, match='allow_extra_params'):
        exe.copy_params_from({'other': nd.ones((1,))})
    exe.copy_params_from({'other': nd.ones((1,))}, allow_extra_params=True)
    small = exe.reshape(data=(1, 4))
    assert small.arg_dict['fc_weight'] is exe.arg_dict['fc_weight']    # shared
    assert_allclose(small.forward(data=nd.ones((1, 4)))[0].asnumpy(), [[5, 6]])
    with pytest.raises(MXNetError, match='allow_up_sizing'):
        exe.reshape(data=(5, 4))
    bigger = exe.reshape(allow_up_sizing=True, data=(5, 4))
    assert bigger.arg_dict['data'].shape == (5, 4)


def test_a_forward_does_not_corrupt_an_earlier_recording():
    x = sym.var('x')
    exe = sym.make_loss(sym.sum(sym.square(x))).simple_bind(mx.cpu(), x=(2,))
    exe.forward(is_train=True, x=nd.array([1, 2]))
    first = exe.outputs[0]
    exe.forward(is_train=True, x=nd.array([3, 4]))     # no error, new buffers
    assert_allclose(first.asnumpy(), [5])
    exe.backward()
    assert_allclose(exe.grad_dict['x'].asnumpy(), [6, 8])


def test_get_symbol_from_the_tape():
    u = nd.array([1.0, 2.0])
    u.attach_grad()
    with autograd.record():
        v = (u * 2 + 1).exp().sum()
    graph = autograd.get_symbol(v)
    assert graph.list_arguments() == ['var0']
    assert [n['op'] for n in json.loads(graph.tojson())['nodes']] == \
        ['null', '_mul_scalar', '_plus_scalar', 'exp', 'sum']
    assert_allclose(graph.eval(var0=nd.array([1.0, 2.0]))[0].asnumpy(), v.asnumpy())
    with pytest.raises(MXNetError, match='not computed inside autograd.record'):
        autograd.get_symbol(nd.ones((1,)))


# --------------------------------------------- every symbolic operator's gradient

_R = np.random.RandomState(0)


def _u(*shape, low=0.5, high=1.5):
    return _R.uniform(low, high, shape).astype(np.float32)


# Inputs and attributes for the operators that need more than one (2, 3) array.
SAMPLES = {
    'FullyConnected': ([_u(2, 3), _u(4, 3), _u(4)], {'num_hidden': 4}),
    'Convolution': ([_u(1, 2, 5, 5), _u(3, 2, 3, 3), _u(3)],
                    {'kernel': (3, 3), 'num_filter': 3, 'pad': (1, 1)}),
    'Pooling': ([_u(1, 2, 4, 4)], {'kernel': (2, 2), 'stride': (2, 2)}),
    'BatchNorm': ([_u(4, 3), _u(3), _u(3), _u(3), _u(3)], {'fix_gamma': False}),
    'Embedding': ([np.array([[0, 2], [1, 1]], np.float32), _u(3, 4)],
                  {'input_dim': 3, 'output_dim': 4}),
    'take': ([_u(4, 3), np.array([0, 3, 1], np.float32)], {}),
    'pick': ([_u(2, 3), np.array([2, 0], np.float32)], {'axis': 1}),
    'where': ([np.array([[1, 0, 1], [0, 0, 1]], np.float32), _u(2, 3), _u(2, 3)], {}),
    'one_hot': ([np.array([0, 2], np.float32)], {'depth': 3}),
    'dot': ([_u(2, 3), _u(3, 4)], {}),
    'batch_dot': ([_u(2, 2, 3), _u(2, 3, 4)], {}),
    'Reshape': ([_u(2, 3)], {'shape': (3, -1)}),
    'transpose': ([_u(2, 3, 4)], {'axes': (2, 0, 1)}),
    'split': ([_u(2, 4)], {'num_outputs': 2, 'axis': 1}),
    'SliceChannel': ([_u(2, 4)], {'num_outputs': 2, 'axis': 1}),
    'concat': ([_u(2, 3), _u(2, 1)], {'dim': 1}),
    'Concat': ([_u(2, 3), _u(2, 1)], {'dim': 1}),
    'stack': ([_u(2, 3), _u(2, 3)], {'axis': 1}),
    'sum': ([_u(2, 3)], {'axis': 1}),
    'expand_dims': ([_u(2, 3)], {'axis': 1}),
    'clip': ([_u(2, 3)], {'a_min': 0.7, 'a_max': 1.2}),
    'Activation': ([_u(2, 3, low=-1)], {'act_type': 'tanh'}),
    'LeakyReLU': ([_u(2, 3, low=-1)], {'slope': 0.1}),
    'Dropout': ([_u(2, 3)], {'p': 0.5}),
    'tile': ([_u(2, 3)], {'reps': (2, 1)}),
    'repeat': ([_u(2, 3)], {'repeats': 2, 'axis': 0}),
    'reverse': ([_u(2, 3)], {'axis': 1}),
    'swapaxes': ([_u(2, 3)], {'dim1': 0, 'dim2': 1}),
    'topk': ([_u(2, 3)], {'k': 2, 'ret_typ': 'value'}),
    'Cast': ([_u(2, 3)], {'dtype': 'float64'}),
    'make_loss': ([_u(2, 3)], {}),
    'slice': ([_u(2, 3)], {'begin': (0, 1), 'end': (2, 3)}),
    'slice_axis': ([_u(2, 3)], {'axis': 1, 'begin': 0, 'end': 2}),
    'broadcast_to': ([_u(1, 3)], {'shape': (2, 3)}),
    'LayerNorm': ([_u(2, 3), _u(3), _u(3)], {}),
    'softmax_cross_entropy': ([_u(2, 3), np.array([0, 2], np.float32)], {}),
    'Deconvolution': ([_u(1, 2, 4, 4), _u(2, 3, 3, 3), _u(3)],
                      {'kernel': (3, 3), 'num_filter': 3, 'stride': (2, 2),
                       'no_bias': False}),
    'CTCLoss': ([_u(4, 2, 3), np.array([[1, 2], [2, 0]], np.float32),
                 np.array([4, 3], np.float32), np.array([2, 1], np.float32)],
                {'use_data_lengths': True, 'use_label_lengths': True}),
    **{name: ([_u(3, 2, 2), np.array([1, 3], np.float32)],
              {'use_sequence_length': True})
       for name in ('SequenceMask', 'SequenceLast', 'SequenceReverse')},
}
# More operators with inputs of their own (a generator of their own, so that the draws
# above stay as they were).
_R2 = np.random.RandomState(1)


def _v(*shape, low=0.5, high=1.5):
    return _R2.uniform(low, high, shape).astype(np.float32)


def _spd(n):
    """A well-conditioned symmetric positive definite matrix."""
    a = _v(n, n, low=-0.5, high=0.5)
    return (a @ a.T + n * np.eye(n)).astype(np.float32)


def _lower(n):
    """A lower-triangular matrix with a diagonal away from zero."""
    return (np.tril(_v(n, n, low=-0.5, high=0.5)) + 2 * np.eye(n)).astype(np.float32)


SAMPLES.update({
    'Convolution_v1': ([_v(1, 2, 5, 5), _v(3, 2, 3, 3), _v(3)],
                       {'kernel': (3, 3), 'num_filter': 3, 'pad': (1, 1)}),
    'Pooling_v1': ([_v(1, 2, 4, 4)], {'kernel': (2, 2), 'stride': (2, 2)}),
    'InstanceNorm': ([_v(2, 3, 4), _v(3), _v(3)], {}),
    'LRN': ([_v(1, 4, 3, 3)], {'nsize': 3}),
    'Pad': ([_v(1, 2, 3, 3)], {'mode': 'constant', 'pad_width': (0, 0, 0, 0, 1, 1, 1, 1)}),
    'UpSampling': ([_v(1, 2, 3, 3)], {'scale': 2, 'sample_type': 'nearest',
                                      'num_args': 1}),
    'batch_take': ([_v(3, 4), np.array([0, 3, 1], np.float32)], {}),
    'depth_to_space': ([_v(1, 4, 2, 3)], {'block_size': 2}),
    'space_to_depth': ([_v(1, 1, 4, 6)], {'block_size': 2}),
    'im2col': ([_v(1, 2, 4, 4)], {'kernel': (2, 2)}),
    'col2im': ([_v(1, 8, 9)], {'output_size': (4, 4), 'kernel': (2, 2)}),
    'moments': ([_v(2, 3)], {'axes': (1,)}),
    '_linalg_gemm': ([_v(2, 3), _v(3, 4), _v(2, 4)], {}),
    '_linalg_gemm2': ([_v(2, 3), _v(3, 4)], {}),
    '_linalg_potrf': ([_spd(3)], {}),
    '_linalg_potri': ([_lower(3)], {}),
    '_linalg_trmm': ([_lower(3), _v(3, 2)], {}),
    '_linalg_trsm': ([_lower(3), _v(3, 2)], {}),
    '_linalg_sumlogdiag': ([_spd(3)], {}),
    '_linalg_det': ([_spd(3)], {}),
    '_linalg_slogdet': ([_spd(3)], {}),
    '_linalg_inverse': ([_spd(3)], {}),
    '_linalg_extracttrian': ([_v(3, 3)], {}),
    '_linalg_gelqf': ([_v(2, 3)], {}),
    '_split_v2': ([_v(2, 5)], {'indices': (0, 1, 3), 'axis': 1}),   # as sym.split_v2 below
    'GroupNorm': ([_v(2, 4, 3), _v(2), _v(2)], {'num_groups': 2}),
    'Crop': ([_v(1, 2, 5, 5)], {'h_w': (3, 2), 'offset': (1, 2), 'num_args': 1}),
    'fill_element_0index': ([_v(2, 3), _v(2), np.array([2, 0], np.float32)], {}),
    'scatter_nd': ([_v(2), np.array([[0, 2]], np.float32)], {'shape': (3,)}),
    '_ravel_multi_index': ([np.array([[1, 0], [2, 1]], np.float32)], {'shape': (3, 4)}),
    '_unravel_index': ([np.array([5, 2], np.float32)], {'shape': (3, 4)}),
    '_eye': ([], {'N': 3, 'M': 4, 'k': 1}),
    '_linspace': ([], {'start': 0.0, 'stop': 1.0, 'num': 5}),
    '_sample_uniform': ([_v(2), _v(2) + 1], {'shape': (3,)}),
    '_sample_normal': ([_v(2), _v(2)], {'shape': (3,)}),
    '_sample_gamma': ([_v(2), _v(2)], {'shape': (3,)}),
    '_sample_exponential': ([_v(2)], {'shape': (3,)}),
    '_sample_poisson': ([_v(2)], {'shape': (3,)}),
    '_sample_negative_binomial': ([np.array([3, 4], np.float32), _v(2) / 2], {'shape': (3,)}),
    '_sample_generalized_negative_binomial': ([_v(2), _v(2)], {'shape': (3,)}),
})
# Operators that only Python's operators make: how to make them on symbols.
BY_OPERATOR = {'_plus_scalar': lambda x: x + 1.5, '_minus_scalar': lambda x: x - 1.5,
               '_rminus_scalar': lambda x: 1.5 - x, '_mul_scalar': lambda x: x * 1.5,
               '_div_scalar': lambda x: x / 1.5, '_rdiv_scalar': lambda x: 1.5 / x,
               '_power_scalar': lambda x: x ** 1.5,
               '_rpower_scalar': lambda x: 1.5 ** x,
               '_mod_scalar': lambda x: x % 1.5, '_rmod_scalar': lambda x: 1.5 % x,
               '_maximum_scalar': lambda x: sym.maximum(x, 1.5),
               '_greater_scalar': lambda x: x > 1.5, '_power': lambda x, y: x ** y,
               '_mod': lambda x, y: x % y, '_maximum': sym.maximum,
               '_minimum': sym.minimum,
               '_equal': lambda x, y: x == y, '_greater': lambda x, y: x > y,
               '_split_v2': lambda x: sym.split_v2(x, (1, 3), axis=1)}
CORE = ['FullyConnected', 'Convolution', 'Pooling', 'BatchNorm', 'Embedding', 'take',
        'pick', 'where', 'dot', 'batch_dot', 'Reshape', 'transpose', 'split', 'concat',
        'stack', 'sum', 'mean', 'max', 'softmax', 'log_softmax', 'exp', 'log', 'sqrt',
        'tanh', 'sigmoid', 'relu', 'Activation', 'Dropout', 'elemwise_add',
        'elemwise_mul', 'broadcast_add', 'broadcast_div', '_plus_scalar',
        '_rminus_scalar', '_rdiv_scalar', '_power_scalar', 'clip', 'Flatten',
        'expand_dims', 'BlockGrad', 'make_loss']
_SKIP = ('_random_', '_zeros', '_ones', '_full', '_arange')    # no inputs to check


def _sample(name, spec):
    if name in SAMPLES:
        arrays, attrs = SAMPLES[name]
        return [a.copy() for a in arrays], dict(attrs)
    if 'scalar' in spec.attrs:
        return [_u(2, 3)], {'scalar': 1.5}
    count = len(spec.inputs) if spec.inputs is not None else 2
    return [_u(2, 3) for _ in range(count)], {}


def _gradients_both_ways(name):
    spec = SPECS[name]
    arrays, attrs = _sample(name, spec)
    names = [f'in{i}' for i in range(len(arrays))]
    head_seed = _R.randint(1 << 30)
    # imperative: nd's operator under autograd
    xs = [nd.array(a) for a in arrays]
    for x in xs:
        x.attach_grad()
    mx.random.seed(7)
    with autograd.record():
        out = spec.fn(*xs, **attrs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    heads = [nd.array(np.random.RandomState(head_seed).uniform(-1, 1, o.shape),
                      dtype=o.dtype) for o in outs]
    taped = [(o, h) for o, h in zip(outs, heads) if type(o._ag) is TapeNode]
    if taped:              # samplers, zeros_like, ...: no gradient, the values compared
        autograd.backward(*map(list, zip(*taped)))
    # symbolic: the same operator as a graph node, bound and run by an Executor
    variables = [sym.var(n) for n in names]
    if name in BY_OPERATOR:
        node = BY_OPERATOR[name](*variables)
    else:
        node = sym.Group(list(getattr(sym, _py_name(spec))(*variables, **attrs)))
    aux = set(node.list_auxiliary_states())
    exe = node.bind(mx.cpu(), args={n: nd.array(a) for n, a in zip(names, arrays)
                                    if n not in aux},
                    args_grad={n: nd.zeros(a.shape) for n, a in zip(names, arrays)
                               if n not in aux},
                    aux_states={n: nd.array(a) for n, a in zip(names, arrays)
                                if n in aux})
    for _ in range(2):     # the first call is checked by nd, the second runs the plan
        mx.random.seed(7)
        sym_outs = exe.forward(is_train=True)
        exe.backward(heads)
    return outs, sym_outs, xs, exe, names, aux


def _py_name(spec):
    return next(n for n, s in FUNCTIONS.items() if s is spec and n in sym.__dict__)


def _distinct_operators() -> list:
    """One name per operator: MXNet's own where an alias points to the same spec
    (`_sample_gamma`, not `sample_gamma`)."""
    seen, names = set(), []
    for n in sorted(SPECS, key=lambda n: (SPECS[n].name != n, n)):
        if id(SPECS[n]) not in seen and not n.startswith(_SKIP):
            seen.add(id(SPECS[n]))
            names.append(n)
    return sorted(names)


@pytest.mark.parametrize('name', _distinct_operators())
def test_symbolic_gradient_matches_imperative(name):
    reachable = name in BY_OPERATOR or any(s is SPECS[name] for s in FUNCTIONS.values())
    if not reachable and name in CORE:
        pytest.fail(f'{name} is not reachable from mx.sym')
    if not reachable:
        pytest.skip('made only by Symbol operators, with the same nd operator')
    try:
        outs, sym_outs, xs, exe, names, aux = _gradients_both_ways(name)
    except (MXNetError, TypeError, ValueError) as err:
        if name in CORE or name in SAMPLES:
            raise
        pytest.skip(f'no sample inputs for {name} ({type(err).__name__})')
    for o, s in zip(outs, sym_outs):
        assert_allclose(s.asnumpy(), o.asnumpy(), rtol=1e-6, atol=1e-6)
    for n, x in zip(names, xs):
        if n in aux or n not in exe.grad_dict:
            continue
        assert_allclose(exe.grad_dict[n].asnumpy(), x.grad.asnumpy(), rtol=1e-6,
                        atol=1e-6, err_msg=f'{name}: gradient of input {n}')


# ------------------------------------------------- inputs by keyword, optional inputs

def test_keyword_inputs_are_inputs():
    """As MXNet 1.9.1: an array input given by keyword is an input of the node (it was
    silently dropped), and the inputs a node has depend on its attributes."""
    x, g = sym.var('x'), sym.var('g')
    prelu = sym.LeakyReLU(x, act_type='prelu', gamma=g)
    assert prelu.list_arguments() == ['x', 'g']
    assert sym.LeakyReLU(x, g, act_type='prelu').list_arguments() == ['x', 'g']
    assert sym.LeakyReLU(x, act_type='prelu', name='p').list_arguments() == \
        ['x', 'p_gamma']
    assert sym.LeakyReLU(x, slope=0.1).list_arguments() == ['x']
    with pytest.raises(MXNetError, match="act_type='prelu' for gamma"):
        sym.LeakyReLU(x, gamma=g)
    xs, gs = _u(2, 3, low=-1), np.array([0.1, 0.2, 0.3], np.float32)
    got = prelu.eval(x=nd.array(xs), g=nd.array(gs))[0]
    want = nd.LeakyReLU(nd.array(xs), nd.array(gs), act_type='prelu')
    assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-6)
    # MXNet's shape rule: one slope per channel
    assert prelu.infer_shape(x=(2, 3, 4))[0] == [(2, 3, 4), (3,)]
    # the JSON lists gamma as an input, not as an attribute
    node = json.loads(prelu.tojson())['nodes'][-1]
    assert node['attrs'] == {'act_type': 'prelu'} and len(node['inputs']) == 2


def test_optional_inputs_follow_the_attributes():
    d, lab, ll = sym.var('d'), sym.var('l'), sym.var('ll')
    for made in (sym.CTCLoss(d, lab, label_lengths=ll, use_label_lengths=True),
                 sym.CTCLoss(d, lab, None, ll, use_label_lengths=True),
                 sym.ctc_loss(d, lab, ll, use_label_lengths=True)):
        assert made.list_arguments() == ['d', 'l', 'll']
    assert sym.CTCLoss(d, lab, use_label_lengths=True, name='c').list_arguments() == \
        ['d', 'l', 'c_label_lengths']
    assert sym.CTCLoss(d, lab).list_arguments() == ['d', 'l']
    x = sym.var('x')
    assert sym.Deconvolution(x, kernel=(3, 3), num_filter=2, name='dc') \
        .list_arguments() == ['x', 'dc_weight']               # no_bias: True by default
    assert sym.Deconvolution(x, kernel=(3, 3), num_filter=2, no_bias=False,
                             name='dc').list_arguments() == ['x', 'dc_weight', 'dc_bias']
    assert sym.SequenceMask(x, use_sequence_length=True, name='m').list_arguments() \
        == ['x', 'm_sequence_length']
    with pytest.raises(MXNetError, match='twice'):
        sym.LeakyReLU(x, sym.var('g'), gamma=sym.var('g'), act_type='prelu')


def test_ctc_loss_with_label_lengths_alone_runs_in_a_graph():
    """The node passes label_lengths by keyword: positionally it would land in
    ctc_loss's data_lengths slot."""
    data = _R.normal(size=(5, 2, 4)).astype(np.float32)
    label = np.array([[1, 2, 1], [3, 0, 0]], np.float32)
    lengths = np.array([3, 1], np.float32)
    d, lab, ll = sym.var('d'), sym.var('l'), sym.var('ll')
    loss = sym.ctc_loss(d, lab, label_lengths=ll, use_label_lengths=True)
    got = loss.eval(d=nd.array(data), l=nd.array(label), ll=nd.array(lengths))[0]
    want = nd.ctc_loss(nd.array(data), nd.array(label), label_lengths=nd.array(lengths),
                       use_label_lengths=True)
    assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-6)
    again = sym.load_json(loss.tojson())
    got = again.eval(d=nd.array(data), l=nd.array(label), ll=nd.array(lengths))[0]
    assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-6)


@pytest.mark.parametrize('make, data, want', [
    # MXNet 1.9.1's infer_shape on the same symbols
    (lambda x: sym.Deconvolution(x, kernel=(3, 3), num_filter=2, no_bias=False),
     (2, 3, 5, 5), ([(2, 3, 5, 5), (3, 2, 3, 3), (2,)], [(2, 2, 7, 7)])),
    (lambda x: sym.Deconvolution(x, kernel=(3,), num_filter=4, num_group=2, stride=2,
                                 adj=1), (2, 6, 5), ([(2, 6, 5), (6, 2, 3)], [(2, 4, 12)])),
    (lambda x: sym.Deconvolution(x, kernel=(3, 3), num_filter=4, stride=(2, 2),
                                 target_shape=(10, 10)),
     (2, 6, 5, 5), ([(2, 6, 5, 5), (6, 4, 3, 3)], [(2, 4, 10, 10)])),
    (lambda x: sym.Convolution(x, kernel=(3, 3, 3), num_filter=4, num_group=2),
     (2, 6, 5, 5, 5), ([(2, 6, 5, 5, 5), (4, 3, 3, 3, 3), (4,)], [(2, 4, 3, 3, 3)])),
    (lambda x: sym.Convolution(x, kernel=(3,), num_filter=4),
     (2, 6, 5), ([(2, 6, 5), (4, 6, 3), (4,)], [(2, 4, 3)])),
    (lambda x: sym.SequenceMask(x, use_sequence_length=True, axis=1),
     (5, 2, 4), ([(5, 2, 4), (5,)], [(5, 2, 4)])),
    (lambda x: sym.SequenceLast(x, use_sequence_length=True),
     (5, 2, 4), ([(5, 2, 4), (2,)], [(2, 4)]))],
    ids=['deconv', 'deconv-1d-grouped', 'deconv-target', 'conv-3d', 'conv-1d',
         'sequence-mask', 'sequence-last'])
def test_shape_rules_of_the_appendix_operators(make, data, want):
    args, outs, _ = make(sym.var('x')).infer_shape(x=data)
    assert (args, outs) == want


def test_symbol_reshape_takes_a_positional_shape():
    x = sym.var('x')
    for made in (x.reshape((-1, 1)), x.reshape(-1, 1), x.reshape(shape=(-1, 1)),
                 sym.reshape(x, (-1, 1)), sym.Reshape(x, shape=(-1, 1))):
        assert made.infer_shape(x=(2, 3))[1] == [(6, 1)]
        assert made.list_attr()['shape'] == '(-1, 1)'
    # the second positional argument is reverse, as in MXNet
    assert x.reshape((-1, 2), True).list_attr() == {'shape': '(-1, 2)',
                                                   'reverse': 'True'}
    assert x.reshape((0, -1), True).infer_shape(x=(2, 3, 4))[1] == [(3, 8)]   # MXNet too


def test_get_symbol_keeps_optional_inputs():
    """A recorded Deconvolution with a bias, or SequenceMask with lengths, becomes a node
    whose attributes give it those inputs (no_bias=False, use_sequence_length=True)."""
    x, w, b = nd.array(_u(1, 2, 4, 4)), nd.array(_u(2, 3, 3, 3)), nd.array(_u(3))
    d, lengths = nd.array(_u(3, 2, 2)), nd.array([1, 3])
    for a in (x, w, b, d, lengths):
        a.attach_grad()
    with autograd.record():
        made = [nd.Deconvolution(x, w, b, kernel=(3, 3), num_filter=3, no_bias=False),
                nd.SequenceMask(d, lengths, use_sequence_length=True, value=-1.0)]
    flags = [('no_bias', 'False'), ('use_sequence_length', 'True')]
    for out, inputs, (flag, value) in zip(made, [(x, w, b), (d, lengths)], flags):
        graph = autograd.get_symbol(out)
        names = graph.list_arguments()
        assert len(names) == len(inputs)
        assert json.loads(graph.tojson())['nodes'][-1]['attrs'][flag] == value  # MXNet
        again = sym.load_json(graph.tojson())
        got = again.eval(**dict(zip(names, inputs)))[0]
        assert_allclose(got.asnumpy(), out.asnumpy(), rtol=1e-6)


# Written by MXNet 1.9.1: mx.sym.Group([linalg.det(x), linalg.gemm2(x, x),
# linalg.slogdet(x)[1]]).tojson(); its outputs for A below, also from MXNet.
_MXNET_LINALG_JSON = (
    '{"nodes":[{"op":"null","name":"x","inputs":[]},{"op":"_linalg_det","name":"det0",'
    '"inputs":[[0,0,0]]},{"op":"_linalg_gemm2","name":"gemm20","inputs":[[0,0,0],'
    '[0,0,0]]},{"op":"_linalg_slogdet","name":"slogdet0","inputs":[[0,0,0]]}],'
    '"arg_nodes":[0],"node_row_ptr":[0,1,4,5,9],"heads":[[1,0,0],[2,0,0],[3,1,0]],'
    '"attrs":{"mxnet_version":["int",10901]}}')


def test_linalg_graphs_use_mxnets_op_names_both_ways():
    a = np.array([[2, 1, 0], [1, 3, 1], [0, 1, 4]], np.float32)
    loaded = sym.load_json(_MXNET_LINALG_JSON)
    det, gemm2, logdet = [o.asnumpy() for o in loaded.eval(x=nd.array(a))]
    assert_allclose(det, [18.0], rtol=1e-6)
    assert_allclose(gemm2, [[5, 5, 1], [5, 11, 7], [1, 7, 17]], rtol=1e-6)
    assert_allclose(logdet, [2.8904], rtol=1e-4)
    x = sym.var('x')
    ops = [n['op'] for n in json.loads(sym.Group(
        [sym.linalg.det(x), sym.linalg.gelqf(x)[0], sym.linalg_potrf(x)]).tojson())['nodes']]
    assert ops == ['null', '_linalg_det', '_linalg_gelqf', '_linalg_potrf']
    assert len(sym.linalg.slogdet(x).list_outputs()) == 2      # sign and log|det|
    assert len(sym.moments(x, axes=(1,)).list_outputs()) == 2   # mean and variance


# MXNet 1.9.1: sym.Group([sym.split_v2(x, 3, axis=1), sym.split_v2(x, (1, 3), axis=1)])
_SPLIT_V2_JSON = """{"nodes": [{"op": "null", "name": "x", "inputs": []},
 {"op": "_split_v2", "name": "_split_v20", "attrs": {"axis": "1", "indices": "[]",
  "sections": "3", "squeeze_axis": "False"}, "inputs": [[0, 0, 0]]},
 {"op": "_split_v2", "name": "_split_v21", "attrs": {"axis": "1",
  "indices": "[0, 1, 3]", "sections": "0", "squeeze_axis": "False"},
  "inputs": [[0, 0, 0]]}], "arg_nodes": [0], "node_row_ptr": [0, 1, 4, 7],
 "heads": [[1, 0, 0], [1, 1, 0], [1, 2, 0], [2, 0, 0], [2, 1, 0], [2, 2, 0]],
 "attrs": {"mxnet_version": ["int", 10901]}}"""


def test_split_v2_is_mxnets_op_with_its_attributes_both_ways():
    """sym.split_v2 makes a node of MXNet's op _split_v2 (indices with a leading 0, or
    sections), one output per part; MXNet's JSON of it loads and runs, and minimx's
    JSON (checked in MXNet 1.9.1) has MXNet's op, attributes and outputs."""
    x = nd.arange(12).reshape((2, 6))
    expected = [x.asnumpy()[:, a:b] for a, b in ((0, 2), (2, 4), (4, 6), (0, 1), (1, 3),
                                                   (3, 6))]
    loaded = sym.load_json(_SPLIT_V2_JSON)
    outs = loaded.bind(mx.cpu(), {'x': x}).forward()
    for o, e in zip(outs, expected):
        assert_array_equal(o.asnumpy(), e)
    v = sym.var('x')
    with mx.name.NameManager():
        made = sym.Group([sym.split_v2(v, 3, axis=1), sym.split_v2(v, (1, 3), axis=1)])
    graph = json.loads(made.tojson())
    assert [n['op'] for n in graph['nodes']] == ['null', '_split_v2', '_split_v2']
    assert graph['nodes'][2]['attrs']['indices'] == '(0, 1, 3)'
    assert made.list_outputs() == loaded.list_outputs()
    assert made.infer_shape(x=(2, 6))[1] == [(2, 2)] * 3 + [(2, 1), (2, 2), (2, 3)]
    assert [len(p) for p in (v.split_v2(2, axis=1), sym.split_v2(v, (2,), axis=1))] == \
        [2, 2]
    with pytest.raises(MXNetError, match='an int or a tuple'):
        sym.split_v2(v, 1.5)


# ------------------------------------- MXNet's op names, creation ops and mx.sym.random

# MXNet 1.9.1: sym.Group([concat(x, y), split(x, num_outputs=3, axis=1)[2],
# swapaxes(x, 0, 1), flip(x, axis=1), identity(x), broadcast_plus(x, y), cumsum(x),
# eye(2, 3, 1), linspace(0, 1, 5), arange(1, 4), zeros((2,)), full((2,), 3),
# ravel_multi_index(i, shape=(3, 4)), unravel_index(j, shape=(3, 4))]).tojson()
_MXNET_ALIASES_JSON = """
{"nodes": [{"op": "null", "name": "x", "inputs": []}, {"op": "null", "name": "y",
"inputs": []}, {"op": "Concat", "name": "concat0", "attrs": {"num_args": "2"},
"inputs": [[0, 0, 0], [1, 0, 0]]}, {"op": "SliceChannel", "name": "split0", "attrs":
{"axis": "1", "num_outputs": "3"}, "inputs": [[0, 0, 0]]}, {"op": "SwapAxis", "name":
"swapaxes0", "attrs": {"dim1": "0", "dim2": "1"}, "inputs": [[0, 0, 0]]}, {"op":
"reverse", "name": "flip0", "attrs": {"axis": "1"}, "inputs": [[0, 0, 0]]}, {"op":
"_copy", "name": "identity0", "inputs": [[0, 0, 0]]}, {"op": "broadcast_add", "name":
"broadcast_plus0", "inputs": [[0, 0, 0], [1, 0, 0]]}, {"op": "_np_cumsum", "name":
"cumsum0", "inputs": [[0, 0, 0]]}, {"op": "_eye", "name": "_eye0", "attrs": {"M": "3",
"N": "2", "dtype": "float32", "k": "1"}, "inputs": []}, {"op": "_linspace", "name":
"_linspace0", "attrs": {"dtype": "float32", "endpoint": "True", "num": "5", "start":
"0", "stop": "1"}, "inputs": []}, {"op": "_arange", "name": "_arange0", "attrs":
{"dtype": "float32", "infer_range": "False", "repeat": "1", "start": "1", "step":
"1.0", "stop": "4"}, "inputs": []}, {"op": "_zeros", "name": "_zeros0", "attrs":
{"dtype": "float32", "shape": "(2,)"}, "inputs": []}, {"op": "_full", "name":
"_full0", "attrs": {"dtype": "float32", "shape": "(2,)", "value": "3.0"}, "inputs":
[]}, {"op": "null", "name": "i", "inputs": []}, {"op": "_ravel_multi_index", "name":
"ravel_multi_index0", "attrs": {"shape": "(3, 4)"}, "inputs": [[14, 0, 0]]}, {"op":
"null", "name": "j", "inputs": []}, {"op": "_unravel_index", "name": "unravel_index0",
"attrs": {"shape": "(3, 4)"}, "inputs": [[16, 0, 0]]}], "arg_nodes": [0, 1, 14, 16],
"node_row_ptr": [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
"heads": [[2, 0, 0], [3, 2, 0], [4, 0, 0], [5, 0, 0], [6, 0, 0], [7, 0, 0], [8, 0, 0],
[9, 0, 0], [10, 0, 0], [11, 0, 0], [12, 0, 0], [13, 0, 0], [15, 0, 0], [17, 0, 0]],
"attrs": {"mxnet_version": ["int", 10901]}}"""

# MXNet 1.9.1: sym.Group([random.uniform(shape=(2,)), random.exponential(2, shape=(3,)),
# random.normal_like(x), random.gamma(2, 1, shape=(4,)), random.multinomial(p),
# random.shuffle(x), random.poisson(y, shape=(2,)), random.randint(0, 5, shape=(3,))])
_MXNET_RANDOM_JSON = """
{"nodes": [{"op": "_random_uniform", "name": "_random_uniform0", "attrs": {"high":
"1", "low": "0", "shape": "(2,)"}, "inputs": []}, {"op": "_random_exponential",
"name": "_random_exponential0", "attrs": {"lam": "0.5", "shape": "(3,)"}, "inputs":
[]}, {"op": "null", "name": "x", "inputs": []}, {"op": "_random_normal_like", "name":
"normal_like0", "inputs": [[2, 0, 0]]}, {"op": "_random_gamma", "name":
"_random_gamma0", "attrs": {"alpha": "2", "beta": "1", "shape": "(4,)"}, "inputs":
[]}, {"op": "null", "name": "p", "inputs": []}, {"op": "_sample_multinomial", "name":
"_sample_multinomial0", "attrs": {"dtype": "int32", "get_prob": "True"}, "inputs":
[[5, 0, 0]]}, {"op": "_shuffle", "name": "_shuffle0", "inputs": [[2, 0, 0]]}, {"op":
"null", "name": "y", "inputs": []}, {"op": "_sample_poisson", "name":
"_sample_poisson0", "attrs": {"shape": "(2,)"}, "inputs": [[8, 0, 0]]}, {"op":
"_random_randint", "name": "_random_randint0", "attrs": {"high": "5", "low": "0",
"shape": "(3,)"}, "inputs": []}], "arg_nodes": [2, 5, 8], "node_row_ptr": [0, 1, 2, 3,
4, 5, 6, 8, 9, 10, 11, 12], "heads": [[0, 0, 0], [1, 0, 0], [3, 0, 0], [4, 0, 0], [6,
0, 0], [6, 1, 0], [7, 0, 0], [9, 0, 0], [10, 0, 0]], "attrs": {"mxnet_version":
["int", 10901]}}"""


def _aliases_group():
    x, y, i, j = sym.var('x'), sym.var('y'), sym.var('i'), sym.var('j')
    with mx.name.NameManager():            # names counted from 0, as in a new process
        return sym.Group([sym.concat(x, y), sym.split(x, num_outputs=3, axis=1)[2],
                          sym.swapaxes(x, 0, 1), sym.flip(x, axis=1), sym.identity(x),
                          sym.broadcast_plus(x, y), sym.cumsum(x), sym.eye(2, 3, 1),
                          sym.linspace(0, 1, 5), sym.arange(1, 4), sym.zeros((2,)),
                          sym.full((2,), 3), sym.ravel_multi_index(i, shape=(3, 4)),
                          sym.unravel_index(j, shape=(3, 4))])


def _random_group():
    x, p, y = sym.var('x'), sym.var('p'), sym.var('y')
    with mx.name.NameManager():
        return sym.Group([sym.random.uniform(shape=(2,)), sym.random.exponential(2, shape=(3,)),
                          sym.random.normal_like(x), sym.random.gamma(2, 1, shape=(4,)),
                          sym.random.multinomial(p), sym.random.shuffle(x),
                          sym.random.poisson(y, shape=(2,)),
                          sym.random.randint(0, 5, shape=(3,))])


def _same_nodes(ours: str, theirs: str) -> None:
    """The same ops, node names and inputs; each attribute minimx writes has MXNet's
    value (MXNet also writes the defaults, minimx only what was given)."""
    ours, theirs = json.loads(ours), json.loads(theirs)
    assert [(n['op'], n['name'], n['inputs']) for n in ours['nodes']] == \
        [(n['op'], n['name'], n['inputs']) for n in theirs['nodes']]
    for a, b in zip(ours['nodes'], theirs['nodes']):
        for key, value in a.get('attrs', {}).items():
            assert b['attrs'][key] == value, (a['name'], key)
    assert ours['heads'] == theirs['heads']


def test_aliases_write_and_read_mxnets_op_names():
    """concat writes MXNet's op Concat, split SliceChannel, ... (before, minimx wrote the
    alias and could not read 16 of these ops from MXNet's JSON)."""
    _same_nodes(_aliases_group().tojson(), _MXNET_ALIASES_JSON)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = [np.concatenate([x, x + 1], axis=1), x[:, 2:], x.T, x[:, ::-1], x, x + x + 1,
            np.cumsum(x), np.eye(2, 3, 1), np.linspace(0, 1, 5), np.arange(1, 4),
            np.zeros(2), np.full(2, 3.0), [6, 1], [[1, 0], [1, 2]]]
    inputs = dict(x=nd.array(x), y=nd.array(x + 1), i=nd.array([[1, 0], [2, 1]]),
                  j=nd.array([5, 2]))
    for text in (_MXNET_ALIASES_JSON, _aliases_group().tojson()):
        got = sym.load_json(text).eval(**inputs)
        for g, w in zip(got, want):
            assert_allclose(g.asnumpy(), np.asarray(w, np.float32), rtol=1e-6)


def test_sym_random_is_mxnets():
    """Numbers make _random_* nodes, symbols _sample_* nodes; the *_like samplers,
    multinomial (two outputs: get_prob=True by default), shuffle and randint too."""
    _same_nodes(_random_group().tojson(), _MXNET_RANDOM_JSON)
    probs = np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]], np.float32)
    inputs = dict(x=nd.array(np.arange(6, dtype=np.float32).reshape(2, 3)),
                  p=nd.array(probs), y=nd.array([1.0, 4.0, 9.0]))
    for text in (_MXNET_RANDOM_JSON, _random_group().tojson()):
        mx.random.seed(5)
        u, e, n, g, idx, logp, s, pois, r = sym.load_json(text).eval(**inputs)
        shapes = [o.shape for o in (u, e, n, g, idx, logp, s, pois, r)]
        assert shapes == [(2,), (3,), (2, 3), (4,), (2,), (2,), (2, 3), (3, 2), (3,)]
        assert idx.asnumpy()[1] == 1 and logp.asnumpy()[1] == 0     # p = (0, 1, 0)
        assert_allclose(np.exp(logp.asnumpy()), probs[[0, 1], idx.asnumpy()], rtol=1e-6)
        assert sorted(s.asnumpy().tolist()) == [[0, 1, 2], [3, 4, 5]]
        assert ((u.asnumpy() >= 0) & (u.asnumpy() < 1)).all() and (e.asnumpy() > 0).all()
        assert r.dtype == np.int32 and set(r.asnumpy()) <= set(range(5))
    mx.random.seed(5)
    want = nd.random.exponential(scale=2, shape=(3,))       # lam = 1 / scale
    mx.random.seed(5)
    got = sym.random.exponential(2, shape=(3,)).eval()[0]
    assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-6)


def test_sym_random_refuses_mixed_parameters_as_mxnet():
    x = sym.var('x')
    with pytest.raises(AssertionError, match='must all have the same type'):
        sym.random.uniform(x, 1)
    with pytest.raises(ValueError, match='either Symbol or numbers'):
        sym.random.normal('a', 1)
    scale = sym.random.exponential(x)          # lam = 1 / x: a node, then the sampler
    assert [n['op'] for n in json.loads(scale.tojson())['nodes']] == \
        ['null', '_rdiv_scalar', '_sample_exponential']


def test_nd_only_functions_are_not_in_sym():
    """MXNet 1.9.1 has F.add, F.equal, F.concatenate, ... in mx.nd only: a
    hybrid_forward that calls them works until hybridized, in MXNet and in minimx."""
    for name in ('add', 'subtract', 'equal', 'logical_and', 'concatenate', 'moveaxis'):
        assert hasattr(nd, name) and not hasattr(sym, name)
    with pytest.raises(AttributeError, match=r'F\.broadcast_add\(a, b\)'):
        sym.add

    class Twice(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return F.add(x, x)

    block = Twice()
    assert_allclose(block(nd.ones((2,))).asnumpy(), [2, 2])
    block.hybridize()
    with pytest.raises(MXNetError, match="mx.sym has no 'add'"):
        block(nd.ones((2,)))


def test_full_and_arange_read_mxnets_attributes():
    """_full's attribute is `value`, and _arange's JSON carries infer_range."""
    node = json.loads(sym.full((2,), 7).tojson())['nodes'][-1]
    assert node['op'] == '_full' and node['attrs']['value'] == '7.0'
    text = sym.arange(3).tojson().replace('"start": "3"',
                                          '"start": "3", "infer_range": "True"')
    with pytest.raises(MXNetError, match='infer_range=True'):
        sym.load_json(text).eval()


def test_symbol_block_is_also_in_gluon_nn():
    """MXNet programs load exported models with gluon.nn.SymbolBlock.imports(...)."""
    assert gluon.nn.SymbolBlock is gluon.SymbolBlock


def test_mxnet_fluent_methods_on_arrays_and_symbols():
    """x.zeros_like(), x.ones_like(), x.pad(...), x.argmax_channel(): methods of MXNet's
    NDArray and Symbol (values by hand)."""
    x = nd.array([[1, 5, 2], [7, 0, 3]])
    assert_array_equal(x.argmax_channel().asnumpy(), [1, 0])
    assert_array_equal(x.zeros_like().asnumpy(), np.zeros((2, 3)))
    assert_array_equal(x.ones_like().asnumpy(), np.ones((2, 3)))
    padded = nd.ones((1, 1, 1, 2)).pad(mode='constant', pad_width=(0, 0, 0, 0, 1, 0, 0, 1))
    assert_array_equal(padded.asnumpy()[0, 0], [[0, 0, 0], [1, 1, 0]])
    s = sym.var('s')
    got = [o.asnumpy() for o in sym.Group([s.zeros_like(), s.argmax_channel()]).eval(s=x)]
    assert_array_equal(got[0], np.zeros((2, 3)))
    assert_array_equal(got[1], [1, 0])


def test_hybridized_sampler_matches_imperative(tmp_path):
    """F.random.normal_like in a hybrid_forward: the hybridized block draws what the
    imperative one draws under the same seed (a _random_normal_like node)."""
    class Noisy(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return x + F.random.normal_like(x, scale=0.1)

    block, x = Noisy(), nd.ones((2, 3))
    mx.random.seed(3)
    want = block(x).asnumpy()
    block.hybridize()
    for _ in range(2):                      # the checked first call, then the plan
        mx.random.seed(3)
        assert_allclose(block(x).asnumpy(), want, rtol=1e-6)
    block.export(str(tmp_path / 'noisy'))
    with open(tmp_path / 'noisy-symbol.json') as f:
        assert '_random_normal_like' in {n['op'] for n in json.load(f)['nodes']}
