"""Appendix "Layers and operators for images, sequences and shapes": the neural-network
operators (N-d convolution, deconvolution and pooling, UpSampling, Pad, normalisation,
output layers, the LeakyReLU family) and MXNet's capitalised legacy functions.

Values are checked against direct NumPy loops or against numbers printed by MXNet 1.9.1
(said so where used); gradients against central finite differences in float64.
"""

import inspect
import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from minimx import autograd, nd
from minimx.base import MXNetError
from minimx.ndarray import nn as chapter2_nn
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.appendix


def values(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def arr(v):
    return nd.array(v, dtype='float64')


# ----------------------------------------------------------------- NumPy loop references

def conv_ref(x, w, b=None, stride=1, pad=0, dilate=1, groups=1):
    d = x.ndim - 2
    stride, pad, dilate = ((v,) * d if isinstance(v, int) else v
                           for v in (stride, pad, dilate))
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    k = w.shape[2:]
    out_sp = [(xp.shape[2 + i] - dilate[i] * (k[i] - 1) - 1) // stride[i] + 1
              for i in range(d)]
    f, cg = w.shape[0], w.shape[1]
    y = np.zeros((x.shape[0], f, *out_sp))
    for o in itertools.product(*(range(n) for n in out_sp)):
        for j in range(f):
            g = j // (f // groups)
            win = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + tuple(
                slice(o[i] * stride[i], o[i] * stride[i] + dilate[i] * (k[i] - 1) + 1,
                      dilate[i]) for i in range(d))]
            y[(slice(None), j) + o] = (win * w[j]).reshape(x.shape[0], -1).sum(axis=1)
    if b is not None:
        y += b.reshape((1, -1) + (1,) * d)
    return y


def deconv_ref(x, w, stride=1, pad=0, dilate=1, adj=0, groups=1):
    d = x.ndim - 2
    stride, pad, dilate, adj = ((v,) * d if isinstance(v, int) else v
                                for v in (stride, pad, dilate, adj))
    k, sp = w.shape[2:], x.shape[2:]
    full = [(sp[i] - 1) * stride[i] + dilate[i] * (k[i] - 1) + 1 + adj[i] for i in range(d)]
    cin, fg = w.shape[0], w.shape[1]
    y = np.zeros((x.shape[0], fg * groups, *full))
    for c in range(cin):
        g = c // (cin // groups)
        for i in itertools.product(*(range(n) for n in sp)):
            for kk in itertools.product(*(range(n) for n in k)):
                pos = tuple(i[a] * stride[a] + kk[a] * dilate[a] for a in range(d))
                y[(slice(None), slice(g * fg, (g + 1) * fg)) + pos] += \
                    x[(slice(None), c) + i][:, None] * w[(c, slice(None)) + kk]
    return y[(slice(None), slice(None)) + tuple(slice(pad[a], full[a] - pad[a])
                                                for a in range(d))]


def pool_ref(x, kernel, stride, pad, kind, full=False, count_pad=True):
    d = x.ndim - 2
    sp = x.shape[2:]
    out_sp = []
    for i in range(d):
        span = sp[i] + 2 * pad[i] - kernel[i]
        out_sp.append((-(-span // stride[i]) if full else span // stride[i]) + 1)
    y = np.zeros(x.shape[:2] + tuple(out_sp))
    for o in itertools.product(*(range(n) for n in out_sp)):
        lo = [o[i] * stride[i] - pad[i] for i in range(d)]
        hi = [lo[i] + kernel[i] for i in range(d)]
        key = tuple(slice(max(lo[i], 0), min(hi[i], sp[i])) for i in range(d))
        win = x[(slice(None), slice(None)) + key].reshape(x.shape[:2] + (-1,))
        if kind == 'max':
            y[(slice(None), slice(None)) + o] = win.max(axis=-1)
        elif kind == 'sum':
            y[(slice(None), slice(None)) + o] = win.sum(axis=-1)
        else:
            if count_pad:   # padding counts, the 'full' overhang does not
                size = np.prod([min(hi[i], sp[i] + pad[i]) - lo[i] for i in range(d)])
            else:
                size = win.shape[-1]
            y[(slice(None), slice(None)) + o] = win.sum(axis=-1) / size
    return y


# ------------------------------------------------------- convolution and deconvolution

CONV_CASES = [
    dict(x=(2, 3, 9), w=(4, 3, 3), stride=2, pad=1, dilate=1, groups=1),
    dict(x=(2, 4, 7), w=(4, 2, 2), stride=1, pad=0, dilate=2, groups=2),
    dict(x=(1, 2, 4, 5, 3), w=(3, 2, 2, 3, 2), stride=(1, 2, 1), pad=(1, 0, 1), dilate=1,
         groups=1),
    dict(x=(1, 2, 5, 4, 4), w=(2, 1, 2, 2, 2), stride=1, pad=0, dilate=(1, 2, 1),
         groups=2),
]


@pytest.mark.parametrize('case', CONV_CASES)
def test_convolution_1d_3d_matches_numpy_loops(case):
    x, w, b = values(case['x'], 1), values(case['w'], 2), values(case['w'][0], 3)
    k = case['w'][2:]
    out = nd.Convolution(arr(x), arr(w), arr(b), kernel=k, stride=case['stride'],
                         pad=case['pad'], dilate=case['dilate'], num_filter=case['w'][0],
                         num_group=case['groups'])
    ref = conv_ref(x, w, b, case['stride'], case['pad'], case['dilate'], case['groups'])
    assert_allclose(out.asnumpy(), ref, rtol=1e-10, atol=1e-10)


def test_convolution_2d_still_uses_chapter_2s_operator():
    x, w = values((1, 2, 5, 5), 1), values((3, 2, 3, 3), 2)
    ours = nd.Convolution(arr(x), arr(w), kernel=(3, 3), num_filter=3, no_bias=True)
    theirs = chapter2_nn.Convolution(arr(x), arr(w), kernel=(3, 3), num_filter=3,
                                     no_bias=True)
    assert_array_equal(ours.asnumpy(), theirs.asnumpy())
    with pytest.raises(MXNetError, match='channel-first'):
        nd.Convolution(arr(values((1, 5, 2))), arr(values((3, 2, 3))), kernel=(3,),
                       num_filter=3, no_bias=True, layout='NWC')


DECONV_CASES = [
    dict(x=(2, 3, 5), w=(3, 2, 3), stride=2, pad=1, dilate=1, adj=1, groups=1),
    dict(x=(1, 3, 4), w=(3, 2, 2), stride=1, pad=0, dilate=2, adj=0, groups=1),
    dict(x=(2, 2, 3, 4), w=(2, 2, 3, 3), stride=(2, 1), pad=0, dilate=1, adj=0, groups=2),
    dict(x=(1, 2, 3, 3), w=(2, 3, 3, 3), stride=2, pad=1, dilate=1, adj=1, groups=1),
    dict(x=(1, 2, 2, 3, 2), w=(2, 2, 2, 2, 3), stride=(2, 1, 2), pad=0, dilate=1, adj=0,
         groups=1),
]


@pytest.mark.parametrize('case', DECONV_CASES)
def test_deconvolution_matches_numpy_loops(case):
    x, w = values(case['x'], 1), values(case['w'], 2)
    d = len(case['x']) - 2
    f = case['w'][1] * case['groups']
    out = nd.Deconvolution(arr(x), arr(w), kernel=case['w'][2:], stride=case['stride'],
                           pad=case['pad'], dilate=case['dilate'], adj=case['adj'] or
                           (0,) * d, num_filter=f, num_group=case['groups'])
    ref = deconv_ref(x, w, case['stride'], case['pad'], case['dilate'], case['adj'],
                     case['groups'])
    assert_allclose(out.asnumpy(), ref, rtol=1e-10, atol=1e-10)


def test_deconvolution_is_the_input_gradient_of_convolution():
    x, w, g = values((2, 3, 8, 6), 1), values((4, 3, 3, 2), 2), values((2, 4, 4, 3), 3)
    xa = arr(x)
    xa.attach_grad()
    with autograd.record():
        y = nd.Convolution(xa, arr(w), kernel=(3, 2), stride=(2, 2), pad=(1, 0),
                           num_filter=4, no_bias=True)
    y.backward(arr(g))
    up = nd.Deconvolution(arr(g), arr(w), kernel=(3, 2), stride=(2, 2), pad=(1, 0),
                          adj=(1, 0), num_filter=3)     # 8 rows: one is not reached
    assert_allclose(up.asnumpy(), xa.grad.asnumpy(), rtol=1e-10, atol=1e-10)


def test_deconvolution_bias_target_shape_and_errors():
    x, w = values((1, 2, 3, 3), 1), values((2, 3, 3, 3), 2)
    with pytest.raises(MXNetError, match='no_bias=False'):   # MXNet's default is True
        nd.Deconvolution(arr(x), arr(w), arr(np.ones(3)), kernel=(3, 3), num_filter=3)
    y = nd.Deconvolution(arr(x), arr(w), arr(np.arange(3.)), kernel=(3, 3),
                         num_filter=3, no_bias=False)
    assert_allclose(y.asnumpy(), deconv_ref(x, w) + np.arange(3.).reshape(1, 3, 1, 1))
    for target in (5, 6, 7):    # MXNet works out pad and adj from target_shape
        y = nd.Deconvolution(arr(x), arr(w), kernel=(3, 3), num_filter=3, stride=(2, 2),
                             target_shape=(target, target))
        assert y.shape == (1, 3, target, target)
    # MXNet 1.9.1 gives the same sum for target_shape=(7, 7) (no padding needed).
    assert_allclose(y.asnumpy(), deconv_ref(x, w, stride=2))
    with pytest.raises(MXNetError, match='needs a weight'):
        nd.Deconvolution(arr(x), arr(values((3, 3, 3, 3))), kernel=(3, 3), num_filter=3)


def test_im2col_and_col2im():
    x, w = values((2, 3, 5, 4), 1), values((4, 3, 2, 2), 2)
    cols = nd.im2col(arr(x), kernel=(2, 2), stride=(2, 1), pad=(1, 0))
    conv = conv_ref(x, w, stride=(2, 1), pad=(1, 0))
    assert cols.shape == (2, 12, conv.shape[2] * conv.shape[3])
    assert_allclose(np.matmul(w.reshape(4, -1), cols.asnumpy()).reshape(conv.shape), conv)
    c = values(cols.shape, 3)          # col2im is the adjoint of im2col
    back = nd.col2im(arr(c), output_size=(5, 4), kernel=(2, 2), stride=(2, 1), pad=(1, 0))
    assert_allclose((cols.asnumpy() * c).sum(), (x * back.asnumpy()).sum())
    # MXNet 1.9.1: col2im(im2col(arange(32).reshape(1, 2, 4, 4)), ...)[0, 0]
    im = nd.arange(32).reshape((1, 2, 4, 4))
    again = nd.col2im(nd.im2col(im, kernel=(2, 2), stride=(2, 1), pad=(1, 0)),
                      output_size=(4, 4), kernel=(2, 2), stride=(2, 1), pad=(1, 0))
    assert_array_equal(again.asnumpy()[0, 0], [[0, 2, 4, 3], [4, 10, 12, 7],
                                               [8, 18, 20, 11], [12, 26, 28, 15]])


# ----------------------------------------------------------------------------- pooling

POOL_CASES = [
    dict(x=(2, 3, 8), kernel=(3,), stride=(2,), pad=(1,), kind='max'),
    dict(x=(2, 3, 8), kernel=(3,), stride=(2,), pad=(0,), kind='avg', full=True),
    dict(x=(2, 3, 8), kernel=(3,), stride=(2,), pad=(1,), kind='avg', count_pad=False),
    dict(x=(2, 3, 8), kernel=(3,), stride=(2,), pad=(1,), kind='avg', full=True),
    dict(x=(1, 2, 4, 3, 4), kernel=(2, 2, 2), stride=(2, 1, 2), pad=(0, 0, 0), kind='max'),
    dict(x=(1, 2, 3, 3, 3), kernel=(2, 2, 2), stride=(1, 1, 1), pad=(1, 0, 1), kind='avg'),
    dict(x=(1, 2, 5, 3, 3), kernel=(2, 2, 2), stride=(2, 2, 2), pad=(0, 0, 0), kind='sum',
         full=True),
]


@pytest.mark.parametrize('case', POOL_CASES)
def test_pooling_1d_3d_matches_numpy_loops(case):
    x = values(case['x'], 4)
    full, count_pad = case.get('full', False), case.get('count_pad', True)
    out = nd.Pooling(arr(x), kernel=case['kernel'], stride=case['stride'],
                     pad=case['pad'], pool_type=case['kind'],
                     pooling_convention='full' if full else 'valid',
                     count_include_pad=count_pad)
    ref = pool_ref(x, case['kernel'], case['stride'], case['pad'], case['kind'], full,
                   count_pad)
    assert_allclose(out.asnumpy(), ref, rtol=1e-12, atol=1e-12)


def test_global_pooling_1d_3d():
    x = values((2, 3, 2, 2, 3), 5)
    axes = (2, 3, 4)
    for kind, ref in (('max', x.max(axis=axes, keepdims=True)),
                      ('avg', x.mean(axis=axes, keepdims=True)),
                      ('sum', x.sum(axis=axes, keepdims=True))):
        assert_allclose(nd.Pooling(arr(x), global_pool=True, pool_type=kind).asnumpy(),
                        ref, rtol=1e-12)
    seq = values((2, 3, 5), 6)
    assert_allclose(nd.Pooling(arr(seq), kernel=(1,), global_pool=True).asnumpy(),
                    seq.max(axis=2, keepdims=True))
    with pytest.raises(MXNetError, match="'lp' pooling"):
        nd.Pooling(arr(seq), kernel=(2,), pool_type='lp')


# ------------------------------------------------------------------ UpSampling and Pad

def test_upsampling_nearest_and_bilinear():
    img = nd.arange(4).reshape((1, 1, 2, 2))
    assert_array_equal(nd.UpSampling(img, scale=2, sample_type='nearest').asnumpy()[0, 0],
                       [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    big = nd.arange(16).reshape((1, 1, 4, 4))
    both = nd.UpSampling(img, big, scale=2, sample_type='nearest', num_args=2)
    assert both.shape == (1, 2, 4, 4)
    # MXNet 1.9.1, multi_input_mode='sum': the upsampled first input plus the second.
    summed = nd.UpSampling(img, big, scale=2, sample_type='nearest', num_args=2,
                           multi_input_mode='sum')
    assert_array_equal(summed.asnumpy()[0, 0], [[0, 1, 3, 4], [4, 5, 7, 8],
                                                [10, 11, 13, 14], [14, 15, 17, 18]])
    # MXNet 1.9.1: bilinear with a weight of ones (1, 1, 4, 4).
    bil = nd.UpSampling(img, nd.ones((1, 1, 4, 4)), scale=2, sample_type='bilinear',
                        num_filter=1)
    assert_array_equal(bil.asnumpy()[0, 0], [[0, 1, 1, 1], [2, 6, 6, 4], [2, 6, 6, 4],
                                             [2, 5, 5, 3]])
    with pytest.raises(MXNetError, match='scale up evenly'):
        nd.UpSampling(img, nd.zeros((1, 1, 3, 3)), scale=2, num_args=2)


@pytest.mark.parametrize('mode', ['constant', 'edge', 'reflect'])
def test_pad_matches_numpy(mode):
    x = values((1, 2, 3, 4), 7)
    widths = [(0, 0), (0, 0), (1, 2), (2, 1)]
    out = nd.Pad(arr(x), mode=mode, pad_width=(0, 0, 0, 0, 1, 2, 2, 1),
                 constant_value=0.5)
    ref = np.pad(x, widths, constant_values=0.5) if mode == 'constant' else \
        np.pad(x, widths, mode=mode)
    assert_allclose(out.asnumpy(), ref)
    x5 = values((1, 1, 3, 3, 4), 8)
    out5 = nd.pad(arr(x5), mode=mode, pad_width=(0, 0, 0, 0, 1, 1, 0, 2, 2, 1))
    assert out5.shape == (1, 1, 5, 5, 7)
    with pytest.raises(MXNetError, match='four zeros'):
        nd.Pad(arr(x), mode=mode, pad_width=(1, 1, 0, 0, 1, 1, 1, 1))


# ----------------------------------------------------------------------- normalisation

def standardize(x, axes, eps):
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(
        x.var(axis=axes, keepdims=True) + eps)


def test_layer_instance_group_norm_match_numpy():
    x, g, b = values((2, 3, 4), 1), values(4, 2), values(4, 3)
    assert_allclose(nd.LayerNorm(arr(x), gamma=arr(g), beta=arr(b)).asnumpy(),
                    standardize(x, -1, 1e-5) * g + b, rtol=1e-10)
    g3, b3 = values(3, 4), values(3, 5)
    assert_allclose(nd.LayerNorm(arr(x), arr(g3), arr(b3), 1, 1e-3).asnumpy(),
                    standardize(x, 1, 1e-3) * g3[:, None] + b3[:, None], rtol=1e-10)
    xi = values((2, 3, 2, 3), 6)
    assert_allclose(nd.InstanceNorm(arr(xi), arr(g3), arr(b3)).asnumpy(),
                    standardize(xi, (2, 3), 1e-3) * g3[:, None, None]
                    + b3[:, None, None], rtol=1e-10)          # eps defaults to 1e-3
    xg, gg, bg = values((2, 4, 3), 7), values(2, 8), values(2, 9)
    grouped = standardize(xg.reshape(2, 2, 6), 2, 1e-5) * gg[:, None] + bg[:, None]
    assert_allclose(nd.GroupNorm(arr(xg), arr(gg), arr(bg), num_groups=2).asnumpy(),
                    grouped.reshape(2, 4, 3), rtol=1e-10)
    with pytest.raises(MXNetError, match=r'one per group'):
        nd.GroupNorm(arr(xg), arr(values(4)), arr(values(4)), num_groups=2)


def test_norm_output_mean_var():
    x = values((2, 3, 4), 1)
    out, mean, std = nd.LayerNorm(arr(x), arr(np.ones(4)), arr(np.zeros(4)),
                                  output_mean_var=True)
    assert out.shape == x.shape and mean.shape == std.shape == (2, 3, 1)   # MXNet 1.9.1
    assert_allclose(mean.asnumpy(), x.mean(-1, keepdims=True))
    assert_allclose(std.asnumpy(), np.sqrt(x.var(-1, keepdims=True) + 1e-5))
    _, mean, std = nd.GroupNorm(arr(values((2, 4, 3))), arr(np.ones(2)),
                                arr(np.zeros(2)), num_groups=2, output_mean_var=True)
    assert mean.shape == std.shape == (2, 2)


def test_batchnorm_operator_training_and_inference():
    x = values((4, 3, 2, 2), 1)
    gamma, beta = arr([1.5, 2.0, 0.5]), arr([0.1, 0.2, 0.3])
    mm, mv = arr([0.1, -0.2, 0.3]), arr([1.5, 0.5, 2.0])
    infer = nd.BatchNorm(arr(x), gamma, beta, mm, mv, fix_gamma=False)
    ref = (x - mm.asnumpy()[:, None, None]) / np.sqrt(mv.asnumpy()[:, None, None] + 1e-3)
    assert_allclose(infer.asnumpy(), ref * gamma.asnumpy()[:, None, None]
                    + beta.asnumpy()[:, None, None], rtol=1e-10)
    with autograd.train_mode():
        out, mean, invstd = nd.BatchNorm(arr(x), gamma, beta, mm, mv,
                                         output_mean_var=True)    # fix_gamma=True
    m, v = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    assert_allclose(out.asnumpy(), standardize(x, (0, 2, 3), 1e-3)
                    + beta.asnumpy()[:, None, None], rtol=1e-10)
    assert_allclose(mean.asnumpy(), m)
    assert_allclose(invstd.asnumpy(), 1 / np.sqrt(v + 1e-3))   # MXNet's "var" output
    # The moving statistics are updated in place with momentum 0.9 (biased variance).
    assert_allclose(mm.asnumpy(), 0.9 * np.array([0.1, -0.2, 0.3]) + 0.1 * m)
    assert_allclose(mv.asnumpy(), 0.9 * np.array([1.5, 0.5, 2.0]) + 0.1 * v)
    gamma.attach_grad()
    with autograd.record():
        y = nd.BatchNorm(arr(x), gamma, beta, arr(np.zeros(3)), arr(np.ones(3)))
    y.backward(arr(values(y.shape, 2)))
    assert_array_equal(gamma.grad.asnumpy(), 0)          # fix_gamma: no gradient


def test_l2_normalization_and_lrn():
    x = values((2, 3, 2, 2), 1)
    for mode, axes in (('instance', (1, 2, 3)), ('channel', (1,)), ('spatial', (2, 3))):
        ref = x / np.sqrt((x * x).sum(axis=axes, keepdims=True) + 1e-10)
        assert_allclose(nd.L2Normalization(arr(x), mode=mode).asnumpy(), ref, rtol=1e-10)
    ones = nd.LRN(nd.ones((1, 3, 1, 1)), nsize=3, alpha=3, beta=1, knorm=1)
    assert_allclose(ones.asnumpy().ravel(), [1 / 3, 1 / 4, 1 / 3], rtol=1e-6)
    x5 = values((1, 5, 2, 2), 2)
    sq = np.pad(x5 ** 2, [(0, 0), (1, 1), (0, 0), (0, 0)])
    window = sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:]
    ref = x5 * (2 + 0.5 / 3 * window) ** -0.75
    assert_allclose(nd.LRN(arr(x5), nsize=3, alpha=0.5, beta=0.75, knorm=2).asnumpy(),
                    ref, rtol=1e-10)


# ------------------------------------------------------------------------ output layers

def _grad_of(fn, data, label, head=None):
    data = arr(data)
    data.attach_grad()
    with autograd.record():
        out = fn(data, arr(label))
    out.backward(None if head is None else arr(head))
    return out.asnumpy(), data.grad.asnumpy()


LOGITS = np.array([[1., 2., 3.], [1., 0., -1.]])
LABEL = np.array([2., 0.])
P = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)


def test_softmax_output_gradient_ignores_the_head_gradient():
    out, grad = _grad_of(nd.SoftmaxOutput, LOGITS, LABEL, head=np.full((2, 3), 5.))
    assert_allclose(out, P)
    assert_allclose(grad, P - np.eye(3)[[2, 0]])
    assert nd.Softmax is nd.SoftmaxOutput


def test_softmax_output_options_match_mxnet():
    # Gradients printed by MXNet 1.9.1 for the same calls (4 decimals).
    _, g = _grad_of(lambda d, l: nd.SoftmaxOutput(d, l, normalization='batch',
                                                  grad_scale=2), LOGITS, LABEL)
    assert_allclose(g, [[0.09, 0.2447, -0.3348], [-0.3348, 0.2447, 0.09]], atol=1e-4)
    _, g = _grad_of(lambda d, l: nd.SoftmaxOutput(d, l, normalization='valid',
                                                  use_ignore=True, ignore_label=0),
                    LOGITS, LABEL)
    assert_allclose(g, [[0.09, 0.2447, -0.3348], [0, 0, 0]], atol=1e-4)
    _, g = _grad_of(lambda d, l: nd.SoftmaxOutput(d, l, smooth_alpha=0.3), LOGITS, LABEL)
    assert_allclose(g, [[-0.06, 0.0947, -0.0348], [-0.0348, 0.0947, -0.06]], atol=1e-4)
    x4 = np.arange(24.).reshape(2, 3, 2, 2) / 10
    l4 = np.array([[[0, 1], [2, 1]], [[1, 1], [0, 2]]])
    out, g = _grad_of(lambda d, l: nd.SoftmaxOutput(d, l, multi_output=True,
                                                    normalization='batch'), x4, l4)
    assert_allclose(out.sum(axis=1), 1)
    assert_allclose(g[0, :, 0, 0], [-0.0985, 0.0395, 0.059], atol=1e-4)   # / 8 labels
    out, g = _grad_of(lambda d, l: nd.SoftmaxOutput(d, l, preserve_shape=True),
                      x4, np.zeros((2, 3, 2)))
    assert_allclose(out[0, 0, 0], [0.475, 0.525], atol=1e-3)
    assert_allclose(g[0, 0, 0], [-0.525, 0.525], atol=1e-3)


def test_regression_outputs_and_make_loss_match_mxnet():
    x = np.array([[1., 2., 3.], [1., 0., -1.]])
    out, g = _grad_of(lambda d, l: nd.LinearRegressionOutput(d, l, grad_scale=3), x,
                      np.ones((2, 3)), head=np.full((2, 3), 5.))
    assert_allclose(out, x)
    assert_allclose(g, x - 1)                    # grad_scale / 3 outputs per sample
    out, g = _grad_of(nd.LogisticRegressionOutput, x, np.ones((2, 3)))
    assert_allclose(out, 1 / (1 + np.exp(-x)))
    assert_allclose(g, (1 / (1 + np.exp(-x)) - 1) / 3)
    _, g = _grad_of(nd.MAERegressionOutput, x, np.ones((2, 3)))
    assert_allclose(g, np.sign(x - 1) / 3)
    _, g = _grad_of(lambda d, l: nd.LinearRegressionOutput(d, l),
                    np.array([[1.], [2.]]), np.array([0., 0.]))
    assert_allclose(g, [[1.], [2.]])             # a label of shape (N,) for data (N, 1)
    for kwargs, expected in (({'grad_scale': 2}, 2.), ({'normalization': 'batch'}, 0.5),
                             ({'normalization': 'valid', 'valid_thresh': 0.5}, 0.25)):
        _, g = _grad_of(lambda d, l, kw=kwargs: nd.MakeLoss(d, **kw), x, x,
                        head=np.full((2, 3), 5.))
        assert_allclose(g, expected)             # MXNet 1.9.1: 2, 0.5 and 1/4
    _, g = _grad_of(lambda d, l: nd.make_loss(d), x, x, head=np.full((2, 3), 5.))
    assert_allclose(g, 1)


def test_svm_output_matches_mxnet():
    x = np.array([[1., 2., 3.], [1., 0., -1.]])
    out, g = _grad_of(nd.SVMOutput, x, LABEL, head=np.full((2, 3), 5.))
    assert_allclose(out, x)
    assert_allclose(g, [[4, 6, 0], [0, 2, 0]])        # MXNet 1.9.1, squared hinge
    _, g = _grad_of(lambda d, l: nd.SVMOutput(d, l, margin=2, use_linear=True,
                                              regularization_coefficient=0.5), x, LABEL)
    assert_allclose(g, [[0.5, 0.5, 0], [-0.5, 0.5, 0.5]])     # MXNet 1.9.1, linear


def test_softmax_cross_entropy_value_and_gradient():
    out, g = _grad_of(nd.softmax_cross_entropy, LOGITS, LABEL, head=np.array([2.]))
    assert_allclose(out, [0.8152], atol=1e-4)     # MXNet 1.9.1
    assert_allclose(g, 2 * (P - np.eye(3)[[2, 0]]))


# ------------------------------------------------------------------ the LeakyReLU family

def test_leaky_relu_family_matches_mxnet():
    t = arr([-2., -0.5, 0., 0.5, 2.])
    # MXNet 1.9.1 values.
    assert_allclose(nd.LeakyReLU(t, act_type='selu').asnumpy(),
                    [-1.5202, -0.6918, 0, 0.5254, 2.1014], atol=1e-4)
    assert_allclose(nd.LeakyReLU(t, act_type='gelu').asnumpy(),
                    [-0.0455, -0.1543, 0, 0.3457, 1.9545], atol=1e-4)
    assert_allclose(nd.LeakyReLU(t, act_type='elu', slope=0.5).asnumpy(),
                    [-0.4323, -0.1967, 0, 0.5, 2], atol=1e-4)
    x = values((2, 3, 2), 1)
    prelu = nd.LeakyReLU(arr(x), arr([0.1, 0.2, 0.3]), act_type='prelu')
    assert_allclose(prelu.asnumpy(), np.where(x > 0, x, x * np.array([.1, .2, .3])[:, None]))
    t.attach_grad()
    with autograd.record():
        y = nd.LeakyReLU(t, act_type='leaky', slope=0.1)
    y.backward()
    assert_allclose(t.grad.asnumpy(), [0.1, 0.1, 0.1, 1, 1])     # as MXNet at 0
    with pytest.raises(MXNetError, match='needs the learned slopes'):
        nd.LeakyReLU(t, act_type='prelu')
    with pytest.raises(MXNetError, match="'rrelu' is not implemented"):
        nd.LeakyReLU(t, act_type='rrelu')


def test_leaky_relu_family_gradients_at_nan_and_infinity_as_mxnet():
    """MXNet 1.9.1's backward: leaky and elu give 1 at NaN (their rule asks x <= 0),
    prelu gives its slope (its rule asks x > 0); recorded from MXNet 1.9.1."""
    recorded = {'leaky': [1, 0.25, 0.25, 1, 1, 0.25],
                'elu': [1, 0.09196987, 0.25, 1, 1, 0],
                'prelu': [0.25, 0.25, 0.25, 1, 1, 0.25]}
    for act, expected in recorded.items():
        t = arr([np.nan, -1., 0., 1., np.inf, -np.inf])
        t.attach_grad()
        with autograd.record():
            y = nd.LeakyReLU(t, arr([0.25]), act_type=act) if act == 'prelu' else \
                nd.LeakyReLU(t, act_type=act, slope=0.25)
        y.backward()
        assert_allclose(t.grad.asnumpy(), expected, rtol=1e-6)


def test_batchnorm_backward_sets_a_fixed_gamma_to_one_as_mxnet():
    """MXNet 1.9.1: with fix_gamma=True the backward pass writes 1 into gamma (the
    forward pass and prediction leave it alone); with fix_gamma=False it is kept."""
    x = nd.array(np.arange(12.).reshape(3, 4))
    x.attach_grad()
    for fix, expected in ((True, [1, 1, 1, 1]), (False, [2, 3, 4, 5])):
        gamma = nd.array([2., 3., 4., 5.])
        stats = [nd.zeros(4), nd.zeros(4), nd.ones(4)]
        nd.BatchNorm(x, gamma, *stats, fix_gamma=fix)          # prediction
        assert_array_equal(gamma.asnumpy(), [2, 3, 4, 5])
        with autograd.record():
            y = nd.BatchNorm(x, gamma, *stats, fix_gamma=fix)
        assert_array_equal(gamma.asnumpy(), [2, 3, 4, 5])
        y.backward()
        assert_array_equal(gamma.asnumpy(), expected)


# ------------------------------------------------------------------- legacy functions

def test_legacy_capitalised_names_are_functions():
    x = nd.arange(24).reshape((2, 3, 4))
    for name in ('Reshape', 'Concat', 'Cast', 'SwapAxis', 'SliceChannel', 'Flatten',
                 'Activation', 'FullyConnected', 'Convolution', 'Pooling', 'Dropout',
                 'Embedding', 'BatchNorm', 'LayerNorm', 'SoftmaxOutput', 'Pad',
                 'UpSampling', 'Deconvolution', 'LeakyReLU', 'Softmax'):
        assert callable(getattr(nd, name)) and not inspect.isclass(getattr(nd, name))
    assert nd.Reshape(x, shape=(6, 4)).shape == (6, 4)
    assert nd.Reshape(x, (0, -1)).shape == (2, 12)
    assert nd.Reshape(x, shape=(-1, 0), reverse=True).shape == (6, 4)
    assert nd.Reshape(x, target_shape=(4, 6)).shape == (4, 6)
    a, b = nd.ones((2, 3)), nd.zeros((2, 2))
    assert_array_equal(nd.Concat(a, b, dim=1).asnumpy(), np.hstack([np.ones((2, 3)),
                                                                      np.zeros((2, 2))]))
    assert nd.Concat(a, a).shape == (2, 6)                  # dim=1 by default
    assert nd.Cast(x, dtype='float16').dtype == np.float16
    assert_array_equal(nd.SwapAxis(x, dim1=0, dim2=2).asnumpy(),
                       np.swapaxes(x.asnumpy(), 0, 2))
    parts = nd.SliceChannel(x, num_outputs=3, axis=1, squeeze_axis=True)
    assert [p.shape for p in parts] == [(2, 4)] * 3
    assert nd.Flatten(x).shape == (2, 12)
    a = nd.arange(2 * 3 * 5 * 5).reshape((2, 3, 5, 5))
    # MXNet 1.9.1: Crop(a, h_w=(2, 3), offset=(1, 1))[0, 0] and the centred crop agree.
    for kwargs in ({'offset': (1, 1)}, {'center_crop': True}):
        assert_array_equal(nd.Crop(a, h_w=(2, 3), **kwargs).asnumpy()[0, 0],
                           [[6, 7, 8], [11, 12, 13]])
    assert nd.Crop(a, nd.zeros((1, 1, 3, 2)), num_args=2).shape == (2, 3, 3, 2)
    with pytest.raises(MXNetError, match='does not fit'):
        nd.Crop(a, h_w=(4, 4), offset=(2, 2))
    assert nd.Convolution_v1 is nd.Convolution and nd.Pooling_v1 is nd.Pooling


def test_legacy_network_functions():
    x = values((2, 3), 1)
    assert_allclose(nd.Activation(arr(x), act_type='softrelu').asnumpy(),
                    np.log1p(np.exp(x)))
    w, b = values((4, 3), 2), values(4, 3)
    assert_allclose(nd.FullyConnected(arr(x), arr(w), arr(b), num_hidden=4).asnumpy(),
                    x @ w.T + b)
    out = nd.zeros((2, 4), dtype='float64')
    assert nd.FullyConnected(arr(x), arr(w), no_bias=True, num_hidden=4, out=out) is out
    assert_array_equal(nd.Dropout(arr(x), p=0.5).asnumpy(), x)    # predicting: identity
    emb = nd.Embedding(nd.array([[0, 3]]), arr(values((4, 2))), input_dim=4, output_dim=2)
    assert_allclose(emb.asnumpy()[0], values((4, 2))[[0, 3]])
    s = values((2, 3, 2), 4)
    e = np.exp(s)
    assert_allclose(nd.SoftmaxActivation(arr(s)).asnumpy(), e / e.sum(-1, keepdims=True))
    assert_allclose(nd.SoftmaxActivation(arr(s), mode='channel').asnumpy(),
                    e / e.sum(1, keepdims=True))


# --------------------------------------------------------------------------- gradients

def _bn_train(x, g, b):
    with autograd.train_mode():      # batch statistics, in the check's own passes too
        return nd.BatchNorm(x, g, b, arr(np.zeros(3)), arr(np.ones(3)), fix_gamma=False)


def _bn_infer(x, g, b):
    with autograd.predict_mode():    # the moving statistics, under record() too
        return nd.BatchNorm(x, g, b, arr([0.1, -0.2, 0.3]), arr([1.5, 0.5, 2.0]),
                            fix_gamma=False)


GRADIENTS = {
    'conv1d': (lambda x, w, b: nd.Convolution(x, w, b, kernel=(3,), stride=(2,), pad=(1,),
                                              num_filter=4), [(2, 3, 7), (4, 3, 3), (4,)]),
    'conv1d_groups': (lambda x, w: nd.Convolution(x, w, kernel=(2,), dilate=(2,),
                                                  num_filter=4, num_group=2, no_bias=True),
                      [(1, 4, 6), (4, 2, 2)]),
    'conv3d': (lambda x, w, b: nd.Convolution(x, w, b, kernel=(2, 2, 1),
                                              stride=(1, 2, 1), pad=(1, 0, 0),
                                              num_filter=2),
               [(1, 2, 3, 3, 2), (2, 2, 2, 2, 1), (2,)]),
    'deconv1d': (lambda x, w, b: nd.Deconvolution(x, w, b, kernel=(3,), stride=(2,),
                                                  pad=(1,), adj=(1,), num_filter=2,
                                                  no_bias=False),
                 [(2, 3, 4), (3, 2, 3), (2,)]),
    'deconv2d_groups': (lambda x, w: nd.Deconvolution(x, w, kernel=(2, 3), stride=(2, 1),
                                                      num_filter=4, num_group=2),
                        [(1, 2, 3, 2), (2, 2, 2, 3)]),
    'deconv3d': (lambda x, w: nd.Deconvolution(x, w, kernel=(2, 1, 2), stride=(1, 2, 2),
                                               dilate=(2, 1, 1), num_filter=2),
                 [(1, 2, 2, 2, 2), (2, 2, 2, 1, 2)]),
    'pool1d_max': (lambda x: nd.Pooling(x, kernel=(3,), stride=(2,), pad=(1,)),
                   [(2, 3, 8)]),
    'pool1d_avg_full': (lambda x: nd.Pooling(x, kernel=(3,), stride=(2,), pool_type='avg',
                                             pooling_convention='full'), [(2, 2, 8)]),
    'pool3d_avg_nopad': (lambda x: nd.Pooling(x, kernel=(2, 2, 2), pad=(1, 0, 1),
                                              pool_type='avg', count_include_pad=False),
                         [(1, 2, 3, 3, 3)]),
    'pool3d_sum': (lambda x: nd.Pooling(x, kernel=(1, 2, 2), pool_type='sum'),
                   [(1, 2, 2, 3, 3)]),
    'pool3d_global_max': (lambda x: nd.Pooling(x, global_pool=True, kernel=(1, 1, 1)),
                          [(2, 2, 2, 2, 2)]),
    'pool1d_global_avg': (lambda x: nd.Pooling(x, global_pool=True, pool_type='avg',
                                               kernel=(1,)), [(2, 2, 5)]),
    'upsampling': (lambda x, y: nd.UpSampling(x, y, scale=2, num_args=2,
                                              multi_input_mode='sum'),
                   [(1, 2, 2, 2), (1, 2, 4, 4)]),
    'upsampling_concat': (lambda x, y: nd.UpSampling(x, y, scale=2, num_args=2),
                          [(1, 2, 2, 3), (1, 1, 4, 6)]),
    'upsampling_bilinear': (lambda x, w: nd.UpSampling(x, w, scale=2, num_filter=2,
                                                       sample_type='bilinear'),
                            [(1, 2, 2, 2), (2, 1, 4, 4)]),
    'pad_constant': (lambda x: nd.Pad(x, mode='constant', pad_width=(0, 0, 0, 0, 1, 2, 0, 1),
                                      constant_value=1), [(1, 2, 3, 3)]),
    'pad_edge': (lambda x: nd.Pad(x, mode='edge', pad_width=(0, 0, 0, 0, 2, 1, 1, 2)),
                 [(1, 2, 3, 3)]),
    'pad_reflect': (lambda x: nd.Pad(x, mode='reflect',
                                     pad_width=(0, 0, 0, 0, 1, 1, 0, 2, 2, 1)),
                    [(1, 1, 3, 3, 4)]),
    'layer_norm': (lambda x, g, b: nd.LayerNorm(x, g, b), [(2, 3, 4), (4,), (4,)]),
    'layer_norm_axis1': (lambda x, g, b: nd.LayerNorm(x, g, b, axis=1),
                         [(2, 3, 4), (3,), (3,)]),
    'instance_norm': (lambda x, g, b: nd.InstanceNorm(x, g, b), [(2, 3, 2, 2), (3,), (3,)]),
    'group_norm': (lambda x, g, b: nd.GroupNorm(x, g, b, num_groups=2),
                   [(2, 4, 3), (2,), (2,)]),
    'batch_norm_train': (_bn_train, [(4, 3, 2), (3,), (3,)]),
    'batch_norm_infer': (_bn_infer, [(2, 3, 2), (3,), (3,)]),
    'l2_instance': (lambda x: nd.L2Normalization(x), [(2, 3, 2)]),
    'l2_channel': (lambda x: nd.L2Normalization(x, mode='channel'), [(2, 3, 2)]),
    'l2_spatial': (lambda x: nd.L2Normalization(x, mode='spatial'), [(2, 3, 2, 2)]),
    'lrn': (lambda x: nd.LRN(x, nsize=3, alpha=0.5, beta=0.75, knorm=2), [(1, 5, 2, 2)]),
    'lrn5': (lambda x: nd.LRN(x, nsize=5, alpha=0.1), [(2, 6, 2, 1)]),
    'softmax_cross_entropy': (lambda x: nd.softmax_cross_entropy(x, arr([1, 0, 3])),
                              [(3, 4)]),
    'elu': (lambda x: nd.LeakyReLU(x, act_type='elu', slope=0.7), [(3, 4)]),
    'selu': (lambda x: nd.LeakyReLU(x, act_type='selu'), [(3, 4)]),
    'gelu': (lambda x: nd.LeakyReLU(x, act_type='gelu'), [(3, 4)]),
    'prelu': (lambda x, g: nd.LeakyReLU(x, g, act_type='prelu'), [(2, 3, 4), (3,)]),
    'prelu_one_slope': (lambda x, g: nd.LeakyReLU(x, g, act_type='prelu'),
                        [(2, 3, 4), (1,)]),
    'SoftmaxActivation': (lambda x: nd.SoftmaxActivation(x), [(2, 3, 2)]),
    'im2col': (lambda x: nd.im2col(x, kernel=(2, 2), stride=(2, 1), pad=(1, 0)),
               [(2, 2, 4, 3)]),
    'im2col_1d': (lambda x: nd.im2col(x, kernel=(3,), dilate=(2,)), [(2, 2, 7)]),
    'col2im': (lambda x: nd.col2im(x, output_size=(4, 3), kernel=(2, 2), stride=(2, 1),
                                   pad=(1, 0)), [(2, 8, 6)]),
    'Crop': (lambda x: nd.Crop(x, h_w=(2, 3), offset=(1, 2)), [(2, 3, 5, 5)]),
    'legacy_conv1d': (lambda x, w: nd.Convolution(x, w, kernel=(3,), num_filter=2,
                                                  no_bias=True), [(1, 2, 5), (2, 2, 3)]),
}


@pytest.mark.parametrize('name', sorted(GRADIENTS))
def test_gradients_match_finite_differences(name):
    fn, shapes = GRADIENTS[name]
    inputs = [values(shape, seed) for seed, shape in enumerate(shapes)]
    # Keep the elementwise activations and pooling away from their kinks and ties.
    inputs[0] = np.where(np.abs(inputs[0]) < 0.05, 0.3, inputs[0])
    check_numeric_gradient(fn, inputs, rtol=1e-4, atol=1e-6)


# nd.Activation on [-2, -0.5, 0, 0.7, 3, NaN], outputs and gradients recorded from
# MXNet 1.9.1 (rounded to 4 places): relu gives 0 at NaN (nd.relu keeps the NaN), and
# softrelu's slope at 0 is sigmoid(0) = 0.5.
_ACTIVATION_MXNET = {
    'relu': ([0, 0, 0, 0.7, 3, 0], [0, 0, 0, 1, 1, 0]),
    'sigmoid': ([0.1192, 0.3775, 0.5, 0.6682, 0.9526, np.nan],
                [0.105, 0.235, 0.25, 0.2217, 0.0452, np.nan]),
    'tanh': ([-0.964, -0.4621, 0, 0.6044, 0.9951, np.nan],
             [0.0707, 0.7864, 1, 0.6347, 0.0099, np.nan]),
    'softrelu': ([0.1269, 0.4741, 0.6931, 1.1032, 3.0486, np.nan],
                 [0.1192, 0.3775, 0.5, 0.6682, 0.9526, np.nan]),
    'softsign': ([-0.6667, -0.3333, 0, 0.4118, 0.75, np.nan],
                 [0.1111, 0.4444, 1, 0.346, 0.0625, np.nan]),
}


@pytest.mark.filterwarnings('ignore:invalid value:RuntimeWarning')   # the NaN input
@pytest.mark.parametrize('hybrid', [False, True])
@pytest.mark.parametrize('act_type', sorted(_ACTIVATION_MXNET))
def test_activation_values_and_gradients_as_mxnet(act_type, hybrid):
    from minimx import gluon
    block = gluon.nn.Activation(act_type)
    if hybrid:
        block.hybridize()
    for _ in range(2 if hybrid else 1):      # the second call runs the compiled plan
        x = nd.array([-2.0, -0.5, 0.0, 0.7, 3.0, np.nan])
        x.attach_grad()
        with autograd.record():
            y = block(x)
        y.backward()
    want_y, want_g = _ACTIVATION_MXNET[act_type]
    np.testing.assert_allclose(y.asnumpy(), want_y, atol=6e-5)
    np.testing.assert_allclose(x.grad.asnumpy(), want_g, atol=6e-5)
