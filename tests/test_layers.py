"""Chapter 3: every gluon.nn layer against a NumPy reference, gradient checks, reprs, errors.

Gradients are checked with `check_numeric_gradient` on the layer's own
`hybrid_forward(nd, x, **params)`, so the layer's parameters are inputs of the checked
function (float64). One test checks that `layer(x)` hands the same gradients to the
parameters.
"""

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError
from minimx.gluon import block as block_module
from minimx.gluon import nn
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.ch04


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


def rng(seed=0):
    return np.random.default_rng(seed)


def built(layer, x, init=None):
    """Initialize `layer`, run it once (inferring shapes), cast to float64."""
    layer.initialize(init or mx.init.Normal(0.5))
    layer(nd.array(x, dtype='float32'))
    layer.cast('float64')
    return layer


# ----------------------------------------------------------------------------- references

def np_conv(x, w, b, stride, pad, dilate, groups):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dilate[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilate[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, f, oh, ow))
    fg = f // groups
    for o in range(f):
        g = o // fg
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg,
                           i * stride[0]:i * stride[0] + dilate[0] * (kh - 1) + 1:dilate[0],
                           j * stride[1]:j * stride[1] + dilate[1] * (kw - 1) + 1:dilate[1]]
                out[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    return out + (0 if b is None else b.reshape(1, -1, 1, 1))


def np_pool(x, k, s, p, kind, ceil=False, count_include_pad=True):
    n, c, h, w = x.shape
    def out_size(size, kk, ss, pp):
        span = size + 2 * pp - kk
        return (-(-span // ss) if ceil else span // ss) + 1
    oh, ow = out_size(h, k[0], s[0], p[0]), out_size(w, k[1], s[1], p[1])
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s[0] - p[0], j * s[1] - p[1]
            r1, c1 = r0 + k[0], c0 + k[1]
            win = x[:, :, max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
            if kind == 'max':
                out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                if count_include_pad:   # padding counts, the ceil overhang does not
                    size = (min(r1, h + p[0]) - r0) * (min(c1, w + p[1]) - c0)
                else:
                    size = win.shape[2] * win.shape[3]
                out[:, :, i, j] = win.sum(axis=(2, 3)) / size
    return out


# ----------------------------------------------------------------------------- Dense

@pytest.mark.parametrize('act', [None, 'relu', 'sigmoid', 'tanh', 'softrelu', 'softsign'])
def test_dense_forward_and_gradient(act):
    x = rng().normal(size=(3, 2, 3))
    d = built(nn.Dense(4, activation=act), x)
    w, b = d.weight.data().asnumpy(), d.bias.data().asnumpy()
    pre = x.reshape(3, -1) @ w.T + b
    ref = {None: pre, 'relu': np.maximum(pre, 0), 'sigmoid': 1 / (1 + np.exp(-pre)),
           'tanh': np.tanh(pre), 'softrelu': np.log1p(np.exp(pre)),
           'softsign': pre / (1 + np.abs(pre))}[act]
    assert d.weight.shape == (4, 6)
    assert_allclose(d(nd.array(x, dtype='float64')).asnumpy(), ref, rtol=1e-10, atol=1e-12)
    check_numeric_gradient(lambda x, w, b: d.hybrid_forward(nd, x, w, b), [x, w, b])


def test_dense_no_flatten_and_no_bias():
    x = rng(1).normal(size=(2, 3, 5))
    d = built(nn.Dense(4, flatten=False, use_bias=False), x)
    w = d.weight.data().asnumpy()
    assert d.bias is None and list(d.collect_params()) == ['dense0_weight']
    assert_allclose(d(nd.array(x, dtype='float64')).asnumpy(), x @ w.T, rtol=1e-10)
    check_numeric_gradient(lambda x, w: d.hybrid_forward(nd, x, w), [x, w])


def test_layer_call_gives_parameters_the_same_gradients():
    x = rng(2).normal(size=(3, 4))
    d = built(nn.Dense(2, activation='tanh'), x)
    w, b = d.weight.data().asnumpy(), d.bias.data().asnumpy()
    expected = check_numeric_gradient(lambda x, w, b: d.hybrid_forward(nd, x, w, b), [x, w, b])
    proj = np.random.default_rng(0).uniform(0.5, 1.5, (3, 2))   # as check_numeric_gradient
    xa = nd.array(x, dtype='float64')
    xa.attach_grad()
    with autograd.record():
        y = d(xa)
    y.backward(nd.array(proj, dtype='float64'))
    for got, want in zip([xa.grad, d.weight.grad(), d.bias.grad()], expected):
        assert_allclose(got.asnumpy(), want, rtol=1e-10)


# ----------------------------------------------------------------------------- Conv2D, pools

@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=3),
    dict(kernel_size=(3, 2), strides=(2, 1), padding=(1, 0)),
    dict(kernel_size=2, dilation=2, padding=1, activation='relu'),
    dict(kernel_size=3, groups=2, use_bias=False),
])
def test_conv2d_forward_and_gradient(kwargs):
    x = rng(3).normal(size=(2, 4, 6, 5))
    conv = built(nn.Conv2D(4, **kwargs), x)
    w = conv.weight.data().asnumpy()
    b = None if conv.bias is None else conv.bias.data().asnumpy()
    k = conv._kwargs
    ref = np_conv(x, w, b, k['stride'], k['pad'], k['dilate'], k['num_group'])
    if kwargs.get('activation') == 'relu':
        ref = np.maximum(ref, 0)
    assert w.shape == (4, 4 // k['num_group']) + k['kernel']
    assert_allclose(conv(nd.array(x, dtype='float64')).asnumpy(), ref, rtol=1e-10, atol=1e-12)
    inputs = [x, w] + ([] if b is None else [b])
    check_numeric_gradient(lambda *a: conv.hybrid_forward(nd, *a), inputs)


@pytest.mark.parametrize('layer, kind, k, s, p, ceil, cip', [
    (nn.MaxPool2D(), 'max', (2, 2), (2, 2), (0, 0), False, True),
    (nn.MaxPool2D(3, 2, 1), 'max', (3, 3), (2, 2), (1, 1), False, True),
    (nn.MaxPool2D(2, 2, ceil_mode=True), 'max', (2, 2), (2, 2), (0, 0), True, True),
    (nn.AvgPool2D(3, 2, 1), 'avg', (3, 3), (2, 2), (1, 1), False, True),
    (nn.AvgPool2D(3, 2, 1, count_include_pad=False), 'avg', (3, 3), (2, 2), (1, 1), False, False),
    (nn.AvgPool2D((2, 3), (1, 2)), 'avg', (2, 3), (1, 2), (0, 0), False, True),
])
def test_pooling_forward_and_gradient(layer, kind, k, s, p, ceil, cip):
    x = rng(4).permutation(2 * 3 * 5 * 5).reshape(2, 3, 5, 5) / 7.0   # distinct: no max ties
    ref = np_pool(x, k, s, p, kind, ceil, cip)
    assert_allclose(layer(nd.array(x, dtype='float64')).asnumpy(), ref, rtol=1e-12)
    check_numeric_gradient(lambda x: layer(x), [x])


@pytest.mark.parametrize('layer, reduce', [(nn.GlobalMaxPool2D(), np.max),
                                           (nn.GlobalAvgPool2D(), np.mean)])
def test_global_pooling(layer, reduce):
    x = rng(5).permutation(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) / 5.0
    assert_allclose(layer(nd.array(x, dtype='float64')).asnumpy(),
                    reduce(x, axis=(2, 3), keepdims=True))
    check_numeric_gradient(lambda x: layer(x), [x])


# ----------------------------------------------------------------------------- BatchNorm

def test_batchnorm_training_prediction_and_running_stats():
    x = rng(6).normal(2.0, 3.0, size=(4, 3, 2, 2))
    bn = nn.BatchNorm(momentum=0.8)
    bn.initialize()
    assert bn.gamma.shape == (0,)                           # deferred until the forward
    with autograd.record():
        y = bn(nd.array(x))
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    ref = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
    assert_allclose(y.asnumpy(), ref, rtol=1e-4, atol=1e-5)
    assert_allclose(bn.running_mean.data().asnumpy(), 0.2 * mean, rtol=1e-5)
    assert_allclose(bn.running_var.data().asnumpy(), 0.8 + 0.2 * var, rtol=1e-5)
    del y                                                   # frees the graph pinning gamma
    bn.gamma.set_data(nd.array([1.0, 2.0, 3.0]))
    bn.beta.set_data(nd.array([0.5, 0.0, -1.0]))
    rm, rv = bn.running_mean.data().asnumpy(), bn.running_var.data().asnumpy()
    pred = bn(nd.array(x)).asnumpy()                        # prediction: running stats
    ref = ((x - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + 1e-5)
           * np.array([1, 2, 3.]).reshape(1, 3, 1, 1) + np.array([.5, 0, -1]).reshape(1, 3, 1, 1))
    assert_allclose(pred, ref, rtol=1e-5)
    assert_allclose(bn.running_mean.data().asnumpy(), rm)   # unchanged by prediction
    assert bn.running_mean.grad_req == 'null' and bn.gamma.grad_req == 'write'


def test_batchnorm_gradient_training_mode():
    x = rng(7).normal(size=(4, 2, 2, 3))
    bn = built(nn.BatchNorm(), x)
    g = rng(8).uniform(0.5, 2, size=2)
    beta = rng(9).normal(size=2)
    rm, rv = bn.running_mean.data(), bn.running_var.data()

    def fn(x, gamma, beta):
        with autograd.train_mode():
            return bn.hybrid_forward(nd, x, gamma, beta, rm, rv)

    grads = check_numeric_gradient(fn, [x, g, beta], rtol=1e-4, atol=1e-6)
    assert_allclose(grads[0].sum(axis=(0, 2, 3)), 0, atol=1e-8)   # mean is subtracted


def test_batchnorm_gradient_prediction_mode_and_axis():
    x = rng(10).normal(size=(3, 4, 2))
    bn = built(nn.BatchNorm(axis=-1, center=False), x)
    assert bn.gamma.shape == (2,) and bn.beta.grad_req == 'null'
    rm, rv, beta = bn.running_mean.data(), bn.running_var.data(), bn.beta.data()

    def fn(x, gamma):
        with autograd.predict_mode():                     # record() would mean training
            return bn.hybrid_forward(nd, x, gamma, beta, rm, rv)

    check_numeric_gradient(fn, [x, rng(11).uniform(0.5, 2, size=2)])


# ----------------------------------------------------------------------------- small layers

def test_embedding():
    emb = nn.Embedding(6, 3)
    emb.initialize(mx.init.Normal(1.0))
    idx = np.array([[0, 5], [2, 2]])
    w = emb.weight.data().asnumpy()
    assert_allclose(emb(nd.array(idx)).asnumpy(), w[idx])
    emb.cast('float64')
    check_numeric_gradient(lambda w: emb.hybrid_forward(nd, nd.array(idx), w),
                           [emb.weight.data().asnumpy()])


@pytest.mark.parametrize('alpha', [0.0, 0.1, 0.3])
def test_leaky_relu(alpha):
    x = rng(12).normal(size=(3, 4))
    x[np.abs(x) < 0.05] = 0.5                              # away from the kink
    layer = nn.LeakyReLU(alpha)
    assert_allclose(layer(nd.array(x, dtype='float64')).asnumpy(), np.where(x > 0, x, alpha * x))
    check_numeric_gradient(lambda x: layer(x), [x])


@pytest.mark.parametrize('act', ['relu', 'sigmoid', 'tanh', 'softrelu', 'softsign'])
def test_activation_layer(act):
    x = rng(13).normal(size=(2, 5)) * 3
    x[np.abs(x) < 0.05] = 0.5
    layer = nn.Activation(act)
    assert repr(layer) == f'Activation({act})' and layer.name == f'{act}0'
    ref = {'relu': np.maximum(x, 0), 'sigmoid': 1 / (1 + np.exp(-x)), 'tanh': np.tanh(x),
           'softrelu': np.log1p(np.exp(x)), 'softsign': x / (1 + np.abs(x))}[act]
    assert_allclose(layer(nd.array(x, dtype='float64')).asnumpy(), ref, rtol=1e-12)
    check_numeric_gradient(lambda x: layer(x), [x])


def test_softrelu_does_not_overflow():
    out = nd.Activation(nd.array([-1000.0, 0.0, 1000.0]), act_type='softrelu').asnumpy()
    assert_allclose(out, [0.0, np.log(2), 1000.0], rtol=1e-6)


def test_dropout():
    drop = nn.Dropout(0.5)
    x = nd.ones((4, 50))
    assert_allclose(drop(x).asnumpy(), 1.0)                 # prediction: identity
    mx.random.seed(0)
    with autograd.record():
        y = drop(x).asnumpy()
    assert set(np.unique(y)) == {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    shared = nn.Dropout(0.5, axes=(1,))
    with autograd.record():
        z = shared(x).asnumpy()
    assert (z == z[:, :1]).all()                            # one mask value per row
    xs = rng(14).normal(size=(3, 4))

    def fn(x):
        mx.random.seed(3)                                  # the same mask every call
        with autograd.train_mode():
            return drop(x)

    check_numeric_gradient(fn, [xs])


def test_flatten_and_lambdas():
    x = rng(15).normal(size=(2, 3, 4))
    assert nn.Flatten()(nd.array(x)).shape == (2, 12)
    check_numeric_gradient(lambda x: nn.Flatten()(x), [x])
    assert_allclose(nn.Lambda('tanh')(nd.array(x)).asnumpy(), np.tanh(x), rtol=1e-6)
    assert_allclose(nn.Lambda(lambda a: a * 2)(nd.array(x)).asnumpy(), 2 * x, rtol=1e-6)
    hl = nn.HybridLambda(lambda F, a: F.relu(a) + 1)
    assert_allclose(hl(nd.array(x)).asnumpy(), np.maximum(x, 0) + 1, rtol=1e-6)
    assert_allclose(nn.HybridLambda('sigmoid')(nd.array(x)).asnumpy(), 1 / (1 + np.exp(-x)),
                    rtol=1e-6)
    with pytest.raises(MXNetError, match="Lambda: minimx.nd has no function 'nope'"):
        nn.Lambda('nope')


# ----------------------------------------------------------------------------- reprs

def test_reprs_match_mxnet():
    assert repr(nn.Dense(4, in_units=3)) == 'Dense(3 -> 4, linear)'
    assert repr(nn.Dense(3, activation='relu', in_units=5)) == 'Dense(5 -> 3, Activation(relu))'
    assert repr(nn.Conv2D(6, kernel_size=5, padding=2, in_channels=1)) == \
        'Conv2D(1 -> 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))'
    assert repr(nn.Conv2D(8, 3, dilation=2, groups=2, use_bias=False, activation='relu')) == \
        ('Conv2D(None -> 8, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2), groups=2, '
         'bias=False, Activation(relu))')
    assert repr(nn.MaxPool2D()) == ('MaxPool2D(size=(2, 2), stride=(2, 2), padding=(0, 0), '
                                    'ceil_mode=False, global_pool=False, pool_type=max, '
                                    'layout=NCHW)')
    assert repr(nn.AvgPool2D(3, 1, 1, ceil_mode=True)) == (
        'AvgPool2D(size=(3, 3), stride=(1, 1), padding=(1, 1), ceil_mode=True, '
        'global_pool=False, pool_type=avg, layout=NCHW)')
    assert repr(nn.GlobalAvgPool2D()).startswith('GlobalAvgPool2D(size=(1, 1), stride=(1, 1)')
    assert repr(nn.BatchNorm()) == ('BatchNorm(axis=1, eps=1e-05, momentum=0.9, '
                                    'fix_gamma=False, use_global_stats=False, in_channels=None)')
    assert repr(nn.BatchNorm(in_channels=3, scale=False)).endswith(
        'fix_gamma=True, use_global_stats=False, in_channels=3)')
    assert repr(nn.Dropout(0.5)) == 'Dropout(p = 0.5, axes=())'
    assert repr(nn.Embedding(10, 4)) == 'Embedding(10 -> 4, float32)'
    assert repr(nn.Flatten()) == 'Flatten'
    assert repr(nn.LeakyReLU(0.1)) == 'LeakyReLU(0.1)'
    assert repr(nn.Lambda('tanh')) == 'Lambda(tanh)'


# ----------------------------------------------------------------------------- bad input

def test_dense_wrong_width_names_layer_and_shapes():
    d = nn.Dense(4)
    d.initialize()
    d(nd.ones((2, 3)))
    with pytest.raises(MXNetError) as info:
        d(nd.ones((2, 5)))
    msg = str(info.value)
    assert msg.startswith('dense0: Dense(3 -> 4, linear)')
    assert '(2, 5)' in msg and '(4, 3)' in msg and 'in_units=3' in msg


def test_conv_wrong_channels_names_layer_and_shapes():
    c = nn.Conv2D(2, 3)
    c.initialize()
    c(nd.ones((1, 3, 5, 5)))
    with pytest.raises(MXNetError) as info:
        c(nd.ones((1, 4, 5, 5)))
    msg = str(info.value)
    assert msg.startswith('conv0: Conv2D(3 -> 2') and '(1, 4, 5, 5)' in msg
    assert '(2, 3, 3, 3)' in msg and '3 channels' in msg


def test_batchnorm_wrong_channels():
    bn = nn.BatchNorm(in_channels=3)
    bn.initialize()
    with pytest.raises(MXNetError, match=r'batchnorm0: BatchNorm\(.*\(2, 4\) with 4 channels'):
        bn(nd.ones((2, 4)))


def test_unsupported_layout_and_activation():
    with pytest.raises(MXNetError, match="Conv2D: layout='NHWC' is not implemented"):
        nn.Conv2D(2, 3, layout='NHWC')
    with pytest.raises(AssertionError, match="Conv2D: only the layouts"):
        nn.Conv2D(2, 3, layout='CHWN')              # MXNet asserts the layout
    with pytest.raises(ValueError, match="Activation: activation must be one of"):
        nn.Activation('swish')                      # refused where it is written


def test_inference_relu_in_place_matches_recorded_relu():
    """Outside record(), Dense/Conv2D apply ReLU in place on their own output: same values,
    the input untouched, and a hooked Activation block still sees its input."""
    mx.random.seed(3)
    dense = nn.Dense(4, activation='relu', in_units=3)
    conv = nn.Conv2D(2, kernel_size=3, activation='relu', in_channels=1)
    for layer in (dense, conv):
        layer.initialize(mx.init.Normal(1.0))
    for layer, x in ((dense, nd.array([[1.0, -2.0, 0.5], [-1.0, 2.0, -0.5]])),
                     (conv, nd.array(np.random.default_rng(0).standard_normal((1, 1, 4, 4))))):
        before = x.asnumpy().copy()
        plain = layer(x).asnumpy()
        with autograd.record():
            recorded = layer(x).asnumpy()
        np.testing.assert_array_equal(plain, recorded)
        np.testing.assert_array_equal(x.asnumpy(), before)
        assert (plain >= 0).all() and (plain == 0).any()
        seen = []
        handle = layer.act.register_forward_pre_hook(lambda block, args: seen.append(args[0]))
        layer(x)
        handle.detach()
        assert len(seen) == 1 and (seen[0].asnumpy() < 0).any()   # pre-activation values


@pytest.mark.parametrize('make, in_shape', [
    (lambda: nn.Dense(2), (2, 3)), (lambda: nn.Conv2D(2, 3), (1, 3, 5, 5)),
    (lambda: nn.BatchNorm(), (2, 3)), (lambda: nn.Conv1D(2, 3), (1, 3, 5)),
    (lambda: nn.Conv2DTranspose(2, 3), (1, 3, 5, 5)), (lambda: nn.LayerNorm(), (2, 3)),
    (lambda: nn.InstanceNorm(), (2, 3, 4))])
def test_a_list_where_a_layer_infers_its_shapes_is_mxnets_value_error(make, in_shape):
    # MXNet 1.9.1: ValueError "Deferred initialization failed because shape cannot be
    # inferred", not an AttributeError from reading the list's shape
    layer = make()
    layer.initialize()
    parts = [nd.ones(in_shape), nd.ones(in_shape)]
    with pytest.raises(ValueError, match=r'deferred initialization failed.*takes one '
                                         r'NDArray, got a list of 2 items.*per part'):
        layer(parts)


@pytest.mark.parametrize('make', [lambda: nn.Dense(2, in_units=3),
                                  lambda: nn.Conv1D(2, 3, in_channels=3),
                                  lambda: nn.Conv2D(2, 3, in_channels=3),
                                  lambda: nn.Dropout(0.5), lambda: nn.Activation('relu')])
def test_a_list_given_to_an_initialized_layer_is_mxnets_assertion_error(make):
    # MXNet 1.9.1: AssertionError "Argument data must have NDArray type" from the operator
    layer = make()
    layer.initialize()
    with pytest.raises(AssertionError, match='NDArray type'):
        layer([nd.ones((1, 3, 5)), nd.ones((1, 3, 5))])


# --- node names in a graph ------------------------------------------------------------
# MXNet 1.9.1's `layer(mx.sym.var('data')).get_internals().list_outputs()` in a fresh
# mx.name.NameManager(), recorded by tests/fixtures/record_layer_node_names.py. A layer
# names its own operator node '<prefix>fwd'; these names are what -symbol.json files
# hold, so a graph minimx exports reads in MXNet under the same node names.
MXNET_NODE_NAMES = {
    'Dense': ['data', 'dense0_weight', 'dense0_bias', 'dense0_fwd_output'],
    'Dense_relu': ['data', 'dense0_weight', 'dense0_bias', 'dense0_fwd_output',
                   'dense0_relu_fwd_output'],
    'Dense_nobias': ['data', 'dense0_weight', 'dense0_fwd_output'],
    'Activation': ['data', 'tanh0_fwd_output'],
    'Dropout': ['data', 'dropout0_fwd_output'],
    'Dropout_0': ['data', 'dropout0_identity0_output'],
    'Flatten': ['data', 'flatten0_flatten0_output'],
    'Embedding': ['data', 'embedding0_weight', 'embedding0_fwd_output'],
    'LeakyReLU': ['data', 'leakyrelu0_fwd_output'],
    'BatchNorm': ['data', 'batchnorm0_gamma', 'batchnorm0_beta', 'batchnorm0_running_mean',
                  'batchnorm0_running_var', 'batchnorm0_fwd_output'],
    'HybridLambda_str': ['data', 'hybridlambda0_tanh0_output'],
    'HybridLambda_fn': ['data', 'hybridlambda0_relu0_output'],
    'Conv2D': ['data', 'conv0_weight', 'conv0_bias', 'conv0_fwd_output'],
    'Conv2D_relu': ['data', 'conv0_weight', 'conv0_bias', 'conv0_fwd_output',
                    'conv0_relu_fwd_output'],
    'MaxPool2D': ['data', 'pool0_fwd_output'],
    'AvgPool2D': ['data', 'pool0_fwd_output'],
    'GlobalMaxPool2D': ['data', 'pool0_fwd_output'],
    'GlobalAvgPool2D': ['data', 'pool0_fwd_output'],
    'HybridSequential': [
        'data', 'hybridsequential0_dense0_weight', 'hybridsequential0_dense0_bias',
        'hybridsequential0_dense0_fwd_output', 'hybridsequential0_dense0_relu_fwd_output',
        'hybridsequential0_conv0_weight', 'hybridsequential0_conv0_bias',
        'hybridsequential0_conv0_fwd_output', 'hybridsequential0_batchnorm0_gamma',
        'hybridsequential0_batchnorm0_beta', 'hybridsequential0_batchnorm0_running_mean',
        'hybridsequential0_batchnorm0_running_var', 'hybridsequential0_batchnorm0_fwd_output'],
}


def _node_names(make):
    with mx.name.NameManager():
        return make()(mx.sym.var('data')).get_internals().list_outputs()


def _scoped_net():
    seq = nn.HybridSequential()
    with seq.name_scope():
        seq.add(nn.Dense(4, activation='relu'), nn.Conv2D(3, 3), nn.BatchNorm())
    return seq


@pytest.mark.parametrize('key, make', [
    ('Dense', lambda: nn.Dense(4)),
    ('Dense_relu', lambda: nn.Dense(4, activation='relu')),
    ('Dense_nobias', lambda: nn.Dense(4, use_bias=False, flatten=False)),
    ('Activation', lambda: nn.Activation('tanh')),
    ('Dropout', lambda: nn.Dropout(0.5)),
    ('Dropout_0', lambda: nn.Dropout(0)),
    ('Flatten', lambda: nn.Flatten()),
    ('Embedding', lambda: nn.Embedding(10, 4)),
    ('LeakyReLU', lambda: nn.LeakyReLU(0.1)),
    ('BatchNorm', lambda: nn.BatchNorm()),
    ('HybridLambda_str', lambda: nn.HybridLambda('tanh')),
    ('HybridLambda_fn', lambda: nn.HybridLambda(lambda F, x: F.relu(x))),
    ('Conv2D', lambda: nn.Conv2D(3, 3)),
    ('Conv2D_relu', lambda: nn.Conv2D(3, 3, activation='relu')),
    ('MaxPool2D', lambda: nn.MaxPool2D()),
    ('AvgPool2D', lambda: nn.AvgPool2D()),
    ('GlobalMaxPool2D', lambda: nn.GlobalMaxPool2D()),
    ('GlobalAvgPool2D', lambda: nn.GlobalAvgPool2D()),
    ('HybridSequential', _scoped_net),
])
def test_graph_node_names_are_mxnets(key, make):
    assert _node_names(make) == MXNET_NODE_NAMES[key]


def test_the_fwd_names_reach_the_exported_json():
    # the activation of Dense is its own block: its node is '<dense prefix>relu_fwd'
    with mx.name.NameManager():
        layer = nn.Dense(4, activation='relu', prefix='d_')
        names = [node['name'] for node in
                 json.loads(layer(mx.sym.var('data')).tojson())['nodes']]
    assert names[-1] == 'd_relu_fwd'


def test_a_dropout_of_rate_zero_copies_as_mxnets_identity():
    x = nd.array([1.0, -2.0])
    y = nn.Dropout(0)(x)
    assert y is not x
    assert_allclose(y.asnumpy(), [1.0, -2.0])
