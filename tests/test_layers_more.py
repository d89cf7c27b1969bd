"""Appendix "Layers and operators for images, sequences and shapes": the Gluon layers
Conv1D/3D, the transposed convolutions, 1-D/3-D pooling, LayerNorm, InstanceNorm,
GroupNorm, ReflectionPad2D, PReLU, ELU, SELU, GELU, Swish, and `nn.Block`.

Parameter names, shapes, reprs and outputs are those MXNet 1.9.1 gives for the same
layers with the same fixed weights (printed by MXNet, said so where used); gradients are
checked against the operators and finite differences.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import nn

pytestmark = pytest.mark.appendix


def fixed(shape):
    """Weights every framework can reproduce: (i % 5 - 2) / 4."""
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float32).reshape(shape) % 5 - 2) / 4


def ramp(shape):
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float32).reshape(shape) % 7 - 3) / 2


# name -> (layer, input shape, output printed by MXNet 1.9.1 for ramp input and weights
# `fixed`, gammas and alphas |fixed| + 0.5)
MXNET_OUTPUTS = {
    'Conv1D': (lambda: nn.Conv1D(2, 3, strides=2, padding=1), (1, 2, 5),
               [[[-0.375, 0.25, -1.125], [-1.375, 1.75, -0.5]]]),
    'Conv3D': (lambda: nn.Conv3D(2, (2, 1, 2), padding=(0, 1, 0)), (1, 1, 2, 2, 3),
               [[[[[-0.5, -0.5], [0.125, -0.125], [-0.625, -0.875], [-0.5, -0.5]]],
                 [[[-0.25, -0.25], [-0.875, -0.125], [-0.375, -0.5], [-0.25, -0.25]]]]]),
    'Conv1DTranspose': (lambda: nn.Conv1DTranspose(2, 3, strides=2, padding=1,
                                                   output_padding=1), (1, 2, 3),
                        [[[-0.125, -0.125, -0.25, -0.375, -0.375, -0.25],
                          [-1.0, 0.5, -1.0, 0.5, -1.0, -0.25]]]),
    'Conv2DTranspose': (lambda: nn.Conv2DTranspose(1, 2, strides=2), (1, 2, 2, 2),
                        [[[[0.5, -0.375, 0.5, -0.75], [-0.625, -0.875, -0.75, -0.75],
                           [0.5, -1.125, -1.25, 0.25], [-0.875, -0.625, -0.125, -0.5]]]]),
    'Conv3DTranspose': (lambda: nn.Conv3DTranspose(1, (1, 2, 2), strides=(1, 2, 1)),
                        (1, 1, 1, 2, 2),
                        [[[[[0.25, 0.375, -0.25], [-0.5, -0.875, -0.75],
                            [-0.25, -0.375, -0.5], [-0.5, -0.625, -0.5]]]]]),
    'MaxPool1D': (lambda: nn.MaxPool1D(3, 2, 1), (1, 2, 5),
                  [[[-1.0, 0.0, 0.5], [1.5, 1.5, -0.5]]]),
    'AvgPool3D': (lambda: nn.AvgPool3D((2, 2, 2), ceil_mode=True), (1, 1, 3, 2, 3),
                  [[[[[-0.3125, 0.0]], [[0.25, -0.75]]]]]),
    'LayerNorm': (lambda: nn.LayerNorm(), (2, 3),
                  [[-1.724708, -0.25, 0.612354], [-1.724708, -0.25, 0.612354]]),
    'InstanceNorm': (lambda: nn.InstanceNorm(scale=True), (1, 2, 3),
                     [[[-1.724708, -0.5, 0.724708], [-1.168531, -0.25, 0.668531]]]),
    'GroupNorm': (lambda: nn.GroupNorm(num_groups=2), (1, 4, 2),
                  [[[-1.841619, -0.947206], [-0.052794, 0.841619],
                    [-0.167677, 0.161614], [0.490906, -1.484843]]]),
    'ReflectionPad2D': (lambda: nn.ReflectionPad2D(1), (1, 1, 2, 3),
                        [[[[0.5, 0.0, 0.5, 1.0, 0.5], [-1.0, -1.5, -1.0, -0.5, -1.0],
                           [0.5, 0.0, 0.5, 1.0, 0.5], [-1.0, -1.5, -1.0, -0.5, -1.0]]]]),
    'PReLU': (lambda: nn.PReLU(in_channels=2), (1, 2, 3),
              [[[-1.5, -1.0, -0.5], [0.0, 0.5, 1.0]]]),
    'ELU': (lambda: nn.ELU(alpha=0.5), (1, 5),
            [[-0.388435, -0.31606, -0.196735, 0.0, 0.5]]),
    'SELU': (lambda: nn.SELU(), (1, 5),
             [[-1.365814, -1.111331, -0.691758, 0.0, 0.52535]]),
    'GELU': (lambda: nn.GELU(), (1, 5),
             [[-0.100211, -0.158655, -0.154269, 0.0, 0.345731]]),
    'Swish': (lambda: nn.Swish(beta=2.0), (1, 5),
              [[-0.071139, -0.119203, -0.134471, 0.0, 0.365529]]),
}


@pytest.mark.parametrize('name', sorted(MXNET_OUTPUTS))
def test_outputs_match_mxnet(name):
    make, shape, expected = MXNET_OUTPUTS[name]
    layer = make()
    x = nd.array(ramp(shape))
    layer.initialize()
    layer(x)                                   # finishes deferred initialization
    for key, p in layer.collect_params().items():
        v = fixed(p.shape)
        p.set_data(nd.array(np.abs(v) + 0.5 if 'gamma' in key or 'alpha' in key else v))
    assert_allclose(layer(x).asnumpy(), expected, rtol=1e-5, atol=1e-6)


# The names, shapes and grad_req MXNet 1.9.1 gives these layers before their first
# forward, then their repr.
PARAMS = [
    (lambda: nn.Conv1D(4, 3), {'weight': (4, 0, 3), 'bias': (4,)},
     'Conv1D(None -> 4, kernel_size=(3,), stride=(1,))'),
    (lambda: nn.Conv3D(4, 3), {'weight': (4, 0, 3, 3, 3), 'bias': (4,)},
     'Conv3D(None -> 4, kernel_size=(3, 3, 3), stride=(1, 1, 1))'),
    (lambda: nn.Conv1DTranspose(4, 3), {'weight': (0, 4, 3), 'bias': (4,)},
     'Conv1DTranspose(4 -> 0, kernel_size=(3,), stride=(1,))'),
    (lambda: nn.Conv2DTranspose(4, 3, strides=2, output_padding=1),
     {'weight': (0, 4, 3, 3), 'bias': (4,)},
     'Conv2DTranspose(4 -> 0, kernel_size=(3, 3), stride=(2, 2))'),
    (lambda: nn.Conv3DTranspose(4, 3), {'weight': (0, 4, 3, 3, 3), 'bias': (4,)},
     'Conv3DTranspose(4 -> 0, kernel_size=(3, 3, 3), stride=(1, 1, 1))'),
    (lambda: nn.MaxPool1D(), {}, 'MaxPool1D(size=(2,), stride=(2,), padding=(0,), '
     'ceil_mode=False, global_pool=False, pool_type=max, layout=NCW)'),
    (lambda: nn.AvgPool3D(), {}, 'AvgPool3D(size=(2, 2, 2), stride=(2, 2, 2), padding=(0, '
     '0, 0), ceil_mode=False, global_pool=False, pool_type=avg, layout=NCDHW)'),
    (lambda: nn.GlobalMaxPool1D(), {}, 'GlobalMaxPool1D(size=(1,), stride=(1,), '
     'padding=(0,), ceil_mode=True, global_pool=True, pool_type=max, layout=NCW)'),
    (lambda: nn.GlobalAvgPool3D(), {}, 'GlobalAvgPool3D(size=(1, 1, 1), stride=(1, 1, 1), '
     'padding=(0, 0, 0), ceil_mode=True, global_pool=True, pool_type=avg, layout=NCDHW)'),
    (lambda: nn.LayerNorm(), {'gamma': (0,), 'beta': (0,)},
     'LayerNorm(eps=1e-05, axis=-1, center=True, scale=True, in_channels=0)'),
    (lambda: nn.InstanceNorm(), {'gamma': (0,), 'beta': (0,)},
     'InstanceNorm(eps=1e-05, axis=1, center=True, scale=False, in_channels=0)'),
    (lambda: nn.GroupNorm(), {'gamma': (1,), 'beta': (1,)},
     'GroupNorm(eps=1e-05, num_groups=1, center=True, scale=True)'),
    (lambda: nn.ReflectionPad2D(2), {}, 'ReflectionPad2D(\n\n)'),
    (lambda: nn.PReLU(), {'alpha': (1,)}, 'PReLU(\n\n)'),
    (lambda: nn.ELU(), {}, 'ELU(\n\n)'),
    (lambda: nn.Swish(), {}, 'Swish(\n\n)'),
]


@pytest.mark.parametrize('case', range(len(PARAMS)))
def test_parameter_names_shapes_and_repr_match_mxnet(case):
    make, shapes, text = PARAMS[case]
    layer = make()
    params = layer.collect_params()
    assert {k[len(layer.prefix):]: p.shape for k, p in params.items()} == shapes
    assert all(k.startswith(layer.prefix) for k in params)
    assert repr(layer) == text
    if 'Conv' in text:
        assert layer.prefix.startswith('conv')


def test_grad_req_of_the_norm_layers():
    # MXNet 1.9.1: InstanceNorm does not scale by default; LayerNorm(center=False).
    inorm = nn.InstanceNorm()
    assert (inorm.gamma.grad_req, inorm.beta.grad_req) == ('null', 'write')
    lnorm = nn.LayerNorm(center=False)
    assert (lnorm.gamma.grad_req, lnorm.beta.grad_req) == ('write', 'null')


def test_deferred_shapes_are_inferred_from_the_input():
    conv = nn.Conv1DTranspose(6, 3, groups=2)
    conv.initialize()
    assert conv(nd.ones((2, 4, 5))).shape == (2, 6, 7)
    assert conv.weight.shape == (4, 3, 3)
    assert repr(conv).startswith('Conv1DTranspose(3 -> 4')     # MXNet prints shape[1]
    norm = nn.InstanceNorm(axis=2, scale=True)
    norm.initialize()
    assert norm(nd.ones((2, 3, 5, 4))).shape == (2, 3, 5, 4)
    assert norm.gamma.shape == (5,)
    conv1d = nn.Conv1D(2, 3)
    conv1d.initialize()
    with pytest.raises(MXNetError, match='expects 3-D input'):
        conv1d(nd.ones((1, 2, 5, 5)))
    with pytest.raises(MXNetError, match='channel-first'):
        nn.Conv1D(2, 3, layout='NWC')


def test_layers_call_the_operators():
    x = nd.array(np.random.default_rng(0).standard_normal((2, 3, 8)))
    conv = nn.Conv1D(4, 3, strides=2, activation='relu')
    conv.initialize(mx.init.Normal(0.5))
    out = conv(x)
    ref = nd.relu(nd.Convolution(x, conv.weight.data(), conv.bias.data(), kernel=(3,),
                                 stride=(2,), num_filter=4))
    assert_allclose(out.asnumpy(), ref.asnumpy(), rtol=1e-6)
    pool = nn.AvgPool1D(3, 2, 1, count_include_pad=False)
    assert_allclose(pool(x).asnumpy(),
                    nd.Pooling(x, kernel=(3,), stride=(2,), pad=(1,), pool_type='avg',
                               count_include_pad=False).asnumpy())
    for layer, kwargs in ((nn.GlobalMaxPool1D(), {'pool_type': 'max'}),
                          (nn.GlobalAvgPool1D(), {'pool_type': 'avg'})):
        assert_allclose(layer(x).asnumpy(),
                        nd.Pooling(x, kernel=(1,), global_pool=True, **kwargs).asnumpy())
    vol = nd.ones((1, 2, 4, 4, 4))
    assert nn.MaxPool3D()(vol).shape == (1, 2, 2, 2, 2)
    assert nn.GlobalMaxPool3D()(vol).shape == (1, 2, 1, 1, 1)
    assert nn.GlobalAvgPool3D()(vol).shape == (1, 2, 1, 1, 1)


def test_layer_gradients_reach_the_parameters():
    x = nd.array(np.random.default_rng(1).standard_normal((2, 3, 4)))
    net = nn.HybridSequential()
    net.add(nn.Conv1D(4, 3, padding=1), nn.LayerNorm(), nn.PReLU(), nn.GELU(),
            nn.Conv1DTranspose(2, 2, strides=2), nn.GroupNorm(2), nn.Swish())
    net.initialize(mx.init.Normal(0.3))
    with autograd.record():
        loss = (net(x) ** 2).sum()
    loss.backward()
    for name, p in net.collect_params().items():
        assert np.abs(p.grad().asnumpy()).sum() > 0, name


def test_prelu_alpha_gradient_matches_the_operator():
    x = nd.array([[-2., 1., -0.5]])
    prelu = nn.PReLU()
    prelu.initialize()
    with autograd.record():
        y = prelu(x)
    y.backward()
    assert_allclose(y.asnumpy(), [[-0.5, 1., -0.125]])
    assert_allclose(prelu.alpha.grad().asnumpy(), [-2.5])     # sum of the negatives


def test_block_names_for_d2l_style_models():
    assert nn.Block is gluon.Block and nn.HybridBlock is gluon.HybridBlock

    class MLP(nn.Block):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = nn.Dense(8, activation='relu')
            self.out = nn.Dense(2)

        def forward(self, x):
            return self.out(self.hidden(x))

    net = MLP()
    net.initialize()
    assert net(nd.ones((3, 5))).shape == (3, 2)


def test_batchnorm_relu_is_batchnorm_then_relu():
    x = nd.array(np.random.default_rng(2).standard_normal((4, 3, 2)))
    fused, plain = nn.BatchNormReLU(), nn.BatchNorm()
    assert fused.name.startswith('batchnormrelu')          # MXNet 1.9.1's prefix
    fused.initialize()
    plain.initialize()
    with autograd.record():
        a, b = fused(x), plain(x)
    assert_allclose(a.asnumpy(), np.maximum(b.asnumpy(), 0), rtol=1e-6)


# MXNet 1.9.1's node names for each layer called on mx.sym.var('data') in a fresh
# mx.name.NameManager() (tests/fixtures/record_layer_node_names.py): a layer names its
# own operator node '<prefix>fwd', except LayerNorm, GroupNorm and ELU, which MXNet
# leaves to the operator's automatic name.
_FWD = ['data', 'conv0_weight', 'conv0_bias', 'conv0_fwd_output']
_POOL = ['data', 'pool0_fwd_output']


@pytest.mark.parametrize('make, names', [
    (lambda: nn.LayerNorm(),
     ['data', 'layernorm0_gamma', 'layernorm0_beta', 'layernorm0_layernorm0_output']),
    (lambda: nn.InstanceNorm(),
     ['data', 'instancenorm0_gamma', 'instancenorm0_beta', 'instancenorm0_fwd_output']),
    (lambda: nn.InstanceNorm(axis=2),
     ['data', 'instancenorm0_swapaxes0_output', 'instancenorm0_gamma',
      'instancenorm0_beta', 'instancenorm0_fwd_output',
      'instancenorm0_swapaxes1_output']),
    (lambda: nn.GroupNorm(),
     ['data', 'groupnorm0_gamma', 'groupnorm0_beta', 'groupnorm0_groupnorm0_output']),
    pytest.param(lambda: nn.BatchNormReLU(),
                 ['data', 'batchnormrelu0_gamma', 'batchnormrelu0_beta',
                  'batchnormrelu0_running_mean', 'batchnormrelu0_running_var',
                  'batchnormrelu0_fwd_output'],
                 marks=pytest.mark.xfail(strict=True, reason=(
                     "MXNet fuses BatchNorm and ReLU in one operator "
                     "(_contrib_BatchNormWithReLU); minimx runs two"))),
    (lambda: nn.PReLU(), ['data', 'prelu0_alpha', 'prelu0_fwd_output']),
    (lambda: nn.ELU(), ['data', 'elu0_leakyrelu0_output']),
    (lambda: nn.SELU(), ['data', 'selu0_fwd_output']),
    (lambda: nn.GELU(), ['data', 'gelu0_fwd_output']),
    (lambda: nn.Swish(), ['data', 'swish0__mulscalar0_output', 'swish0_fwd_output',
                          'swish0__mul0_output']),
    (lambda: nn.Conv1D(3, 3), _FWD),
    (lambda: nn.Conv3D(3, 3, activation='relu'), _FWD + ['conv0_relu_fwd_output']),
    (lambda: nn.Conv1DTranspose(3, 3), _FWD),
    (lambda: nn.Conv2DTranspose(3, 3), _FWD),
    (lambda: nn.Conv3DTranspose(3, 3), _FWD),
    (lambda: nn.MaxPool1D(), _POOL), (lambda: nn.MaxPool3D(), _POOL),
    (lambda: nn.AvgPool1D(), _POOL), (lambda: nn.AvgPool3D(), _POOL),
    (lambda: nn.GlobalMaxPool1D(), _POOL), (lambda: nn.GlobalMaxPool3D(), _POOL),
    (lambda: nn.GlobalAvgPool1D(), _POOL), (lambda: nn.GlobalAvgPool3D(), _POOL),
    (lambda: nn.ReflectionPad2D(1), ['data', 'reflectionpad2d0_pad0_output']),
])
def test_graph_node_names_are_mxnets(make, names):
    with mx.name.NameManager():
        layer = make()
        assert layer(mx.sym.var('data')).get_internals().list_outputs() == names
