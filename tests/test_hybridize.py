"""HybridBlock.hybridize: one trace with F = mx.sym, then the cached graph."""
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import nn

pytestmark = pytest.mark.ch10


def _lenet():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(4, 3, activation='relu'), nn.BatchNorm(), nn.MaxPool2D(),
                nn.Flatten(), nn.Dense(8, activation='tanh'), nn.Dropout(0.5),
                nn.Dense(3))
    return net


def _twins():
    """Two copies of one network with the same parameters."""
    mx.random.seed(0)
    a, b = _lenet(), _lenet()
    for net in (a, b):
        net.initialize(mx.init.Xavier())
        net(nd.ones((2, 1, 8, 8)))
    for p, q in zip(a.collect_params().values(), b.collect_params().values()):
        q.set_data(p.data())
    return a, b


def _step(net, x, seed):
    mx.random.seed(seed)                       # the same Dropout masks
    with autograd.record():
        loss = (net(x) ** 2).sum()
    loss.backward()
    return loss


def test_hybridized_equals_imperative_in_predict_and_train_mode():
    plain, hybrid = _twins()
    hybrid.hybridize()
    x = nd.random.uniform(shape=(5, 1, 8, 8))
    assert np.array_equal(plain(x).asnumpy(), hybrid(x).asnumpy())
    for seed in (1, 2):
        a, b = _step(plain, x, seed), _step(hybrid, x, seed)
        assert_allclose(b.asnumpy(), a.asnumpy(), rtol=1e-6)
        for p, q in zip(plain.collect_params().values(),
                        hybrid.collect_params().values()):
            assert_allclose(q.data().asnumpy(), p.data().asnumpy(), rtol=1e-6,
                            err_msg=p.name)      # BatchNorm's running statistics
            if p.grad_req != 'null':
                assert_allclose(q.grad().asnumpy(), p.grad().asnumpy(), rtol=1e-5,
                                atol=1e-6, err_msg=p.name)
    assert hybrid._last_graph is not None and plain.__dict__.get('_last_graph') is None


def test_trace_happens_once_and_shapes_may_change():
    calls = []

    class Scaled(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            calls.append(F.__name__)
            return F.relu(x) * 2

    blk = Scaled()
    blk.hybridize()
    for n in (1, 3, 2):                       # a new batch size reuses the graph
        assert_allclose(blk(nd.ones((n, 2)) * -1).asnumpy(), 0)
    assert calls == ['minimx.symbol']
    blk.hybridize()                           # hybridize again: trace anew
    blk(nd.ones((1, 2)))
    blk.hybridize(False)                      # back to Python, F = nd
    blk(nd.ones((1, 2)))
    assert calls == ['minimx.symbol', 'minimx.symbol', 'minimx.ndarray']


def test_deferred_shapes_are_inferred_through_the_graph():
    class Linear(gluon.HybridBlock):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.w = self.params.get('w', shape=(units, 0), allow_deferred_init=True)

        def hybrid_forward(self, F, x, w):
            return F.FullyConnected(x, w, no_bias=True, num_hidden=self.units)

    for hybridize in (False, True):
        blk = Linear(3)
        blk.initialize()
        if hybridize:
            blk.hybridize()
        assert blk(nd.ones((2, 5))).shape == (2, 3)
        assert blk.w.shape == (3, 5)

    class Odd(gluon.HybridBlock):             # an elementwise operator infers too
        def __init__(self):
            super().__init__()
            self.w = self.params.get('w', shape=(0,), allow_deferred_init=True)

        def hybrid_forward(self, F, x, w):
            return x * w

    blk = Odd()
    blk.initialize()
    blk(nd.ones((4,)))
    assert blk.w.shape == (4,)


def test_uninferable_shapes_fail_once_naming_the_block():
    class Dotty(gluon.HybridBlock):
        def __init__(self):
            super().__init__(prefix='dotty_')
            self.w = self.params.get('w', shape=(0, 3), allow_deferred_init=True)

        def hybrid_forward(self, F, x, w):
            return F.dot(x, w)

    blk = Dotty()
    blk.initialize()
    with pytest.raises(MXNetError) as info:
        blk(nd.ones((2, 5)))
    message = str(info.value)
    assert message.startswith('dotty: cannot infer the shapes of the parameters '
                              "['dotty_w']") and message.count('dotty') == 2
    assert 'infer_shape' in message


def _traced_error(hybrid_forward):
    blk = type('Pitfall', (gluon.HybridBlock,), {'hybrid_forward': hybrid_forward})(
        prefix='pit_')
    blk.hybridize()
    with pytest.raises(MXNetError) as info:
        blk(nd.ones((2, 3)))
    return str(info.value)


def test_pitfalls_name_the_block_the_line_and_the_fix():
    def uses_nd(self, F, x):
        y = x * 2
        return nd.relu(y)

    def reads_shape(self, F, x):
        return F.reshape(x, (x.shape[0], -1))

    def branches(self, F, x):
        if x.sum() > 0:
            return x
        return -x

    def reads_value(self, F, x):
        scale = x.max().asscalar()
        return x / scale

    cases = [(uses_nd, 'line 3: `return nd.relu(y)`', 'F.relu'),
             (reads_shape, 'line 2: `return F.reshape(x, (x.shape[0], -1))`',
              'reshape with the codes 0'),
             (branches, 'line 2: `if x.sum() > 0:`', 'F.where'),
             (reads_value, 'line 2: `scale = x.max().asscalar()`',
              'outside hybrid_forward')]
    for fn, where, fix in cases:
        message = _traced_error(fn)
        start = 'pit: hybridize: cannot trace Pitfall.hybrid_forward, '
        assert message.startswith(start + where), message
        assert fix in message and 'F = mx.sym' in message


def test_symbols_do_not_broadcast_with_plus():
    class AddBias(gluon.HybridBlock):
        def __init__(self):
            super().__init__(prefix='addbias_')
            self.b = self.params.get('b', shape=(3,), init='ones')

        def hybrid_forward(self, F, x, b):
            return x + b

    blk = AddBias()
    blk.initialize()
    assert_allclose(blk(nd.zeros((2, 3))).asnumpy(), 1)      # nd broadcasts
    blk.hybridize()
    with pytest.raises(MXNetError, match=r"elemwise_add: the shapes \(2, 3\) and "
                                         r"\(3,\) differ.*F.broadcast_add"):
        blk(nd.zeros((2, 3)))


def test_errors_inside_children_name_the_child():
    class Bad(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return x.asnumpy()

    net = nn.HybridSequential(prefix='outer_')
    with net.name_scope():
        net.add(nn.Dense(2), Bad(prefix='bad_'))
    net.initialize()
    net.hybridize()
    with pytest.raises(MXNetError, match=r"^outer: hybridize: cannot trace "
                                         r"Bad.hybrid_forward of 'outer_bad', line 2"):
        net(nd.ones((1, 3)))


def test_layers_name_their_nodes_like_their_parameters():
    mx.random.seed(0)
    net = _lenet()
    net.initialize()
    net.hybridize()
    net(nd.ones((1, 1, 8, 8)))
    graph = json.loads(net._last_graph.symbol.tojson())
    prefix = net.prefix
    ops = [(n['op'], n['name']) for n in graph['nodes'] if n['op'] != 'null']
    assert ops[0] == ('Convolution', prefix + 'conv0_fwd')
    assert ('BatchNorm', prefix + 'batchnorm0_fwd') in ops
    assert net._last_graph.symbol.list_auxiliary_states() == \
        [prefix + 'batchnorm0_running_mean', prefix + 'batchnorm0_running_var']


def test_export_and_symbol_block_round_trip(tmp_path):
    mx.random.seed(0)
    net = _lenet()
    net.initialize(mx.init.Xavier())
    with pytest.raises(MXNetError, match='no graph yet.*hybridize'):
        net.export(str(tmp_path / 'net'))
    net.hybridize()
    x = nd.random.uniform(shape=(2, 1, 8, 8))
    _step(net, x, 3)                             # running statistics move
    expected = net(x).asnumpy()
    files = net.export(str(tmp_path / 'net'), epoch=7)
    assert files == (str(tmp_path / 'net-symbol.json'),
                     str(tmp_path / 'net-0007.params'))
    saved = nd.load(files[1])
    assert sorted(k[:4] for k in saved) == ['arg:'] * 8 + ['aux:'] * 2
    block = gluon.SymbolBlock.imports(files[0], ['data'], files[1])
    assert_allclose(block(x).asnumpy(), expected, rtol=1e-6)
    sym, args, aux = mx.model.load_checkpoint(str(tmp_path / 'net'), 7)
    assert sorted(aux) == [net.prefix + 'batchnorm0_running_mean',
                           net.prefix + 'batchnorm0_running_var']
    # The imported block trains, and nests inside another hybridized network.
    outer = nn.HybridSequential()
    outer.add(block, nn.Dense(1))
    outer[1].initialize()
    outer.hybridize()
    with autograd.record():
        loss = outer(x).sum()
    loss.backward()
    weight = block.collect_params()[net.prefix + 'dense0_weight']
    assert weight.grad().abs().sum().asscalar() > 0
    with pytest.raises(MXNetError, match='lacks the parameters'):
        gluon.SymbolBlock.imports(files[0], ['data'], _partial(tmp_path, saved))


def _partial(tmp_path, saved):
    name = str(tmp_path / 'partial.params')
    mx.nd.mxnet_file.save(name, {k: v for k, v in list(saved.items())[1:]})
    return name


def test_symbol_block_from_symbols_infers_its_parameters():
    data = mx.sym.var('data')
    out = mx.sym.FullyConnected(data, num_hidden=4, name='fc')
    block = gluon.SymbolBlock(out, data)
    assert sorted(block.collect_params()) == ['fc_bias', 'fc_weight']
    block.initialize()
    assert block(nd.ones((2, 6))).shape == (2, 4)
    assert block.collect_params()['fc_weight'].shape == (4, 6)


def _same_hybridized(make, *inputs, rtol=1e-6, atol=1e-7):
    """A block and its hybridized twin (same parameters) agree on outputs and on the
    gradients of inputs and parameters."""
    blocks = []
    for hybrid in (False, True):
        mx.random.seed(0)
        blk = make()
        if blk.collect_params():
            blk.initialize(mx.init.Xavier())
        if hybrid:
            blk.hybridize()
        blocks.append(blk)
    blocks[0](*inputs)                              # finish deferred initialization
    for p, q in zip(blocks[0].collect_params().values(),
                    blocks[1].collect_params().values()):
        q.set_data(p.data())
    results = []
    for blk in blocks:
        xs = [None if x is None else x.copy() for x in inputs]
        xs[0].attach_grad()
        with autograd.record():
            out = blk(*xs)
        out.backward()
        results.append((out.asnumpy(), xs[0].grad.asnumpy(),
                        [p.grad().asnumpy() for p in blk.collect_params().values()
                         if p.grad_req != 'null']))
    (out_a, gx_a, gp_a), (out_b, gx_b, gp_b) = results
    assert out_a.shape == out_b.shape
    assert_allclose(out_b, out_a, rtol=rtol, atol=atol)
    assert_allclose(gx_b, gx_a, rtol=rtol, atol=atol)
    for a, b in zip(gp_a, gp_b):
        assert_allclose(b, a, rtol=rtol, atol=atol)
    assert blocks[1]._last_graph is not None


_RNG = np.random.default_rng(0)
_X3, _X4, _X5 = (nd.array(_RNG.normal(size=s)) for s in
                 [(2, 3, 5), (2, 3, 5, 5), (2, 3, 4, 4, 4)])


@pytest.mark.parametrize('make, x', [
    (lambda: nn.Conv1D(2, 3), _X3), (lambda: nn.Conv1D(2, 3, in_channels=3), _X3),
    (lambda: nn.Conv3D(2, 2, activation='relu'), _X5),
    (lambda: nn.Conv1DTranspose(2, 3), _X3),
    (lambda: nn.Conv2DTranspose(2, 3, strides=2), _X4),
    (lambda: nn.Conv3DTranspose(2, 2), _X5),
    (lambda: nn.PReLU(), _X4), (lambda: nn.PReLU(in_channels=3), _X4)],
    ids=['Conv1D', 'Conv1D-in', 'Conv3D', 'Conv1DT', 'Conv2DT', 'Conv3DT', 'PReLU',
         'PReLU-3'])
def test_layers_of_the_appendix_hybridize(make, x):
    _same_hybridized(make, x, rtol=1e-5, atol=1e-6)


_PRED = nd.array(_RNG.normal(size=(4, 3)))
_LABEL = nd.array(_RNG.normal(size=(4, 3)))
_CLASSES = nd.array([0, 2, 1, 2])
_SIGNS = nd.array(np.sign(_RNG.normal(size=(4, 3))))
_WEIGHTS = nd.array([[1.0], [0.5], [0.0], [2.0]])
L = gluon.loss
_LOSSES = {
    'L2': (L.L2Loss, (_PRED, _LABEL, _WEIGHTS)),
    'L2-flat-label': (L.L2Loss, (_PRED, _LABEL.reshape((12,)))),
    'L1': (L.L1Loss, (_PRED, _LABEL, _WEIGHTS)),
    'Huber': (lambda: L.HuberLoss(rho=0.5), (_PRED, _LABEL, _WEIGHTS)),
    'SoftmaxCE': (L.SoftmaxCrossEntropyLoss, (_PRED, _CLASSES)),
    'SoftmaxCE-weighted': (lambda: L.SoftmaxCrossEntropyLoss(weight=0.5),
                           (_PRED, _CLASSES, _WEIGHTS)),
    'SoftmaxCE-dense': (lambda: L.SoftmaxCrossEntropyLoss(sparse_label=False),
                        (_PRED, nd.softmax(_LABEL))),
    'SigmoidBCE': (L.SigmoidBinaryCrossEntropyLoss, (_PRED, (_SIGNS + 1) / 2, _WEIGHTS)),
    'SigmoidBCE-pos': (L.SigmoidBinaryCrossEntropyLoss,
                       (_PRED, (_SIGNS + 1) / 2, None, nd.array([1.0, 2.0, 3.0]))),
    'Logistic': (L.LogisticLoss, (_PRED, _SIGNS, _WEIGHTS)),
    'Hinge': (L.HingeLoss, (_PRED, _SIGNS, _WEIGHTS)),
    'SquaredHinge': (L.SquaredHingeLoss, (_PRED, _SIGNS, _WEIGHTS)),
    'KLDiv': (L.KLDivLoss, (nd.log_softmax(_PRED), nd.softmax(_LABEL), _WEIGHTS)),
    'CosineEmbedding': (L.CosineEmbeddingLoss,
                        (_PRED, _LABEL, nd.array([1, -1, 1, -1]), _WEIGHTS)),
    'Triplet': (L.TripletLoss, (_PRED, _LABEL, _LABEL * 2)),
    'PoissonNLL': (lambda: L.PoissonNLLLoss(compute_full=True),
                   (_PRED, nd.abs(_LABEL) * 3, _WEIGHTS)),
    'CTC': (L.CTCLoss, (nd.array(_RNG.normal(size=(2, 5, 4))),
                        nd.array([[1, 2], [1, -1]]), nd.array([5, 4]))),
    # label_lengths alone: the graph passes it as label_lengths=, not in the
    # data_lengths slot
    'CTC-label-lengths': (L.CTCLoss, (nd.array(_RNG.normal(size=(2, 5, 4))),
                                      nd.array([[1, 2], [1, 0]]), None,
                                      nd.array([2, 1]))),
    # MXNet's SDMLLoss reads x1.shape and does not hybridize; the appendix's does
    'SDML': (L.SDMLLoss, (_PRED, _LABEL)),
    'SDML-smoothing': (lambda: L.SDMLLoss(smoothing_parameter=0.1), (_PRED, _LABEL)),
    'CTC-both-lengths': (L.CTCLoss, (nd.array(_RNG.normal(size=(2, 5, 4))),
                                     nd.array([[1, 2], [1, 0]]), nd.array([5, 3]),
                                     nd.array([2, 1]))),
}


@pytest.mark.parametrize('name', sorted(_LOSSES))
def test_losses_hybridize(name):
    make, inputs = _LOSSES[name]
    _same_hybridized(make, *inputs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('make, x, weight', [
    (lambda: nn.Conv2DTranspose(2, 3), _X4, (3, 2, 3, 3)),
    (lambda: nn.Conv2DTranspose(6, 3, strides=2, groups=3, output_padding=1),
     _X4, (3, 2, 3, 3)),
    (lambda: nn.Conv1DTranspose(4, 2, strides=2), _X3, (3, 4, 2)),
    (lambda: nn.Conv3DTranspose(2, 2, use_bias=False), _X5, (3, 2, 2, 2, 2)),
    (lambda: nn.Conv1D(4, 3), _X3, (4, 3, 3)),
    (lambda: nn.Conv3D(3, 2, groups=3), _X5, (3, 1, 2, 2, 2))],
    ids=['Conv2DT', 'Conv2DT-grouped', 'Conv1DT', 'Conv3DT-nobias', 'Conv1D', 'Conv3D'])
def test_hybridized_convolutions_infer_their_weight(make, x, weight):
    """Deferred initialization through the graph (the shape rules of Convolution and
    Deconvolution, 1-D to 3-D), with the imperative block's numbers."""
    hybrid, plain = make(), make()
    for blk in (hybrid, plain):
        blk.initialize()
    hybrid.hybridize()
    out = hybrid(x)
    assert hybrid.weight.shape == weight
    plain(x)
    plain.weight.set_data(hybrid.weight.data())
    assert_allclose(out.asnumpy(), plain(x).asnumpy(), rtol=1e-5, atol=1e-6)
