"""Chapter 5: optimizers and learning-rate schedules against MXNet 1.x's update formulas.

The NumPy reference updates below transcribe MXNet 1.x's kernels
(src/operator/optimizer_op-inl.h: SGDKernel, SGDMomKernel, NAGMomKernel, AdamUpdateKernel,
RMSPropUpdateKernel) and python/mxnet/optimizer/optimizer.py (AdaGrad, Adam's bias
correction, _update_count, _get_lr/_get_wd with param_dict).
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from minimx import autograd, nd
from minimx import lr_scheduler as lrs
from minimx import optimizer as opt
from minimx.base import MXNetError
from minimx.gluon import Parameter

pytestmark = pytest.mark.ch07


def f64(a, ctx=None):
    return nd.array(np.asarray(a, dtype=np.float64), ctx=ctx, dtype=np.float64)


def _clip(g, c):
    return g if c is None else np.clip(g, -c, c)


# ------------------------------------------------------------------ NumPy references

def ref_sgd(w, g, state, lr, wd, t, momentum=0.0, rescale=1.0, clip=None):
    g = _clip(rescale * g, clip)
    if momentum == 0:
        return (1 - lr * wd) * w - lr * g, state
    state = momentum * state - lr * wd * w - lr * g
    return w + state, state


def ref_nag(w, g, state, lr, wd, t, momentum=0.0, rescale=1.0, clip=None):
    g = _clip(rescale * g, clip) + wd * w
    if momentum == 0:
        return w - lr * g, state
    state = momentum * state + g
    return w - lr * (g + momentum * state), state


def ref_adam(w, g, state, lr, wd, t, beta1=0.9, beta2=0.999, epsilon=1e-8, rescale=1.0,
             clip=None):
    mean, var = state
    lr_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    g = _clip(rescale * g + wd * w, clip)          # MXNet adds wd *before* clipping here
    mean = beta1 * mean + (1 - beta1) * g
    var = beta2 * var + (1 - beta2) * g * g
    return w - lr_t * mean / (np.sqrt(var) + epsilon), (mean, var)


def ref_rmsprop(w, g, state, lr, wd, t, gamma1=0.9, epsilon=1e-8, rescale=1.0, clip=None):
    g = _clip(rescale * g + wd * w, clip)          # likewise
    state = (1 - gamma1) * g * g + gamma1 * state
    return w - lr * g / np.sqrt(state + epsilon), state


def ref_adagrad(w, g, state, lr, wd, t, eps=1e-7, rescale=1.0, clip=None):
    g = _clip(rescale * g, clip)
    state = state + g * g
    return w - lr * (g / np.sqrt(state + eps) + wd * w), state


def zeros_state(kind, shape):
    z = np.zeros(shape)
    if kind == 'adam':
        return (z, z.copy())
    return z


REFS = {'sgd': ref_sgd, 'nag': ref_nag, 'adam': ref_adam, 'rmsprop': ref_rmsprop,
        'adagrad': ref_adagrad}

# name, optimizer kwargs, extra kwargs of the reference
CASES = [
    ('sgd', dict(learning_rate=0.1), {}),
    ('sgd', dict(learning_rate=0.1, wd=0.05), {}),
    ('sgd', dict(learning_rate=0.1, momentum=0.9), dict(momentum=0.9)),
    ('sgd', dict(learning_rate=0.1, momentum=0.9, wd=0.05, clip_gradient=0.5,
                 rescale_grad=0.25), dict(momentum=0.9, rescale=0.25, clip=0.5)),
    ('sgd', dict(learning_rate=0.05, clip_gradient=0.3, wd=0.1, rescale_grad=2.0),
     dict(rescale=2.0, clip=0.3)),
    ('nag', dict(learning_rate=0.1), {}),
    ('nag', dict(learning_rate=0.1, momentum=0.9), dict(momentum=0.9)),
    ('nag', dict(learning_rate=0.1, momentum=0.8, wd=0.05, clip_gradient=0.5,
                 rescale_grad=0.5), dict(momentum=0.8, rescale=0.5, clip=0.5)),
    ('adam', dict(learning_rate=0.01), {}),
    ('adam', dict(learning_rate=0.01, beta1=0.8, beta2=0.99, epsilon=1e-6, wd=0.1,
                  rescale_grad=0.5), dict(beta1=0.8, beta2=0.99, epsilon=1e-6, rescale=0.5)),
    ('adam', dict(learning_rate=0.01, clip_gradient=0.5), dict(clip=0.5)),
    pytest.param('adam', dict(learning_rate=0.01, clip_gradient=0.5, wd=0.5),
                 dict(clip=0.5), id='adam-clip+wd'),
    ('rmsprop', dict(learning_rate=0.01), {}),
    ('rmsprop', dict(learning_rate=0.01, gamma1=0.95, epsilon=1e-6, wd=0.1, rescale_grad=0.5),
     dict(gamma1=0.95, epsilon=1e-6, rescale=0.5)),
    ('rmsprop', dict(learning_rate=0.01, clip_gradient=0.5), dict(clip=0.5)),
    pytest.param('rmsprop', dict(learning_rate=0.01, clip_gradient=0.5, wd=0.5),
                 dict(clip=0.5), id='rmsprop-clip+wd'),
    ('adagrad', dict(learning_rate=0.1), {}),
    ('adagrad', dict(learning_rate=0.1, eps=1e-5, wd=0.1, clip_gradient=0.5,
                     rescale_grad=0.5), dict(eps=1e-5, rescale=0.5, clip=0.5)),
]


@pytest.mark.parametrize('name, kwargs, ref_kwargs', CASES)
def test_update_matches_mxnet_formula_over_several_steps(name, kwargs, ref_kwargs):
    r = np.random.default_rng(0)
    w0 = r.normal(size=(3, 4))
    grads = [r.normal(scale=2.0, size=(3, 4)) for _ in range(5)]
    o = opt.create(name, **kwargs)
    weight = f64(w0)
    state = o.create_state(0, weight)
    w_ref, s_ref = w0.copy(), zeros_state(name, (3, 4))
    lr, wd = kwargs['learning_rate'], kwargs.get('wd', 0.0)
    for t, g in enumerate(grads, start=1):
        o.update(0, weight, f64(g), state)
        w_ref, s_ref = REFS[name](w_ref, g, s_ref, lr, wd, t, **ref_kwargs)
        assert_allclose(weight.asnumpy(), w_ref, rtol=1e-12, atol=1e-14,
                        err_msg=f'{name} step {t}')
    assert o.num_update == 5


@pytest.mark.parametrize('name', ['adam', 'rmsprop'])
def test_clipping_applies_after_weight_decay_for_adam_and_rmsprop(name):
    o = opt.create(name, learning_rate=0.01, wd=0.5, clip_gradient=0.5)
    w = f64([1.0])
    o.update(0, w, f64([-2.0]), o.create_state(0, w))
    # effective gradient clip(-2 + 0.5 * 1, 0.5) = -0.5; the first Adam step is lr * sign,
    # the first RMSProp step lr * g / sqrt(0.1 g^2) = lr * sqrt(10) * sign
    step = 0.01 if name == 'adam' else 0.01 * math.sqrt(10)
    assert_allclose(w.asnumpy(), [1.0 + step], rtol=1e-6)


def test_updates_are_in_place_and_keep_float32():
    o = opt.SGD(learning_rate=0.5, momentum=0.9)
    w = nd.array([[1.0, 2.0]])
    before = w
    state = o.create_state(0, w)
    o.update(0, w, nd.array([[2.0, -2.0]]), state)
    assert w is before and w.dtype == np.float32 and state.dtype == np.float32
    assert_allclose(w.asnumpy(), [[0.0, 3.0]])
    assert_allclose(state.asnumpy(), [[-1.0, 1.0]])


def test_sgd_without_momentum_has_no_state_and_with_momentum_a_zero_one():
    w = nd.ones((2, 2))
    assert opt.SGD().create_state(0, w) is None
    s = opt.SGD(momentum=0.9).create_state(0, w)
    assert s.shape == (2, 2) and s.context == w.context
    assert_array_equal(s.asnumpy(), np.zeros((2, 2)))
    mean, var = opt.Adam().create_state(0, w)
    assert_array_equal(mean.asnumpy(), 0) and var.shape == (2, 2)


def test_adam_first_step_moves_each_weight_by_about_lr():
    """Bias correction: after one step, m_hat/sqrt(v_hat) = sign(g), so w moves by ~lr."""
    o = opt.Adam(learning_rate=0.01)
    w = f64([1.0, 1.0, 1.0])
    state = o.create_state(0, w)
    o.update(0, w, f64([0.5, -5.0, 300.0]), state)
    assert_allclose(w.asnumpy(), [0.99, 1.01, 0.99], rtol=0, atol=1e-7)


def test_adam_constant_gradient_steps_by_lr_every_time():
    o = opt.Adam(learning_rate=0.01)
    w0 = f64([0.0])
    s0 = o.create_state(0, w0)
    for k in range(1, 4):
        o.update(0, w0, f64([1.0]), s0)
        # a constant gradient keeps m_hat / sqrt(v_hat) = 1: every step is ~lr
        assert_allclose(w0.asnumpy(), [-0.01 * k], atol=1e-7)
    assert o.num_update == 3


def test_adam_bias_correction_counts_updates_per_index():
    o = opt.Adam(learning_rate=0.01)
    w0, w1 = f64([0.0]), f64([0.0])
    s0, s1 = o.create_state(0, w0), o.create_state(1, w1)
    for _ in range(3):
        o.update(0, w0, f64([1.0]), s0)
    o.update(1, w1, f64([1.0]), s1)        # index 1's first update: t = 1, a full lr step
    assert o.num_update == 3               # the maximum over indices
    assert_allclose(w1.asnumpy(), [-0.01], atol=1e-8)


def test_begin_num_update_offsets_the_adam_count():
    o = opt.Adam(learning_rate=0.1, begin_num_update=10)
    w = f64([0.0])
    s = o.create_state(0, w)
    g = 2.0
    o.update(0, w, f64([g]), s)
    t = 11
    mean, var = 0.1 * g, 0.001 * g * g
    want = -0.1 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * mean / (math.sqrt(var) + 1e-8)
    assert_allclose(w.asnumpy(), [want], rtol=1e-12)
    assert o.num_update == 11


# ------------------------------------------------------------- lr_mult and wd_mult

def test_lr_mult_and_wd_mult_from_param_dict():
    p_frozen_wd = Parameter('a_bias', shape=(2,), lr_mult=0.5, wd_mult=0.0)
    p_plain = Parameter('a_weight', shape=(2,))
    p_double = Parameter('b_weight', shape=(2,), lr_mult=2.0, wd_mult=3.0)
    o = opt.SGD(learning_rate=0.1, wd=0.2,
                param_dict={0: p_frozen_wd, 1: p_plain, 2: p_double})
    ws = [f64([1.0, -1.0]) for _ in range(3)]
    g = np.array([0.5, 0.5])
    for i, w in enumerate(ws):
        o.update(i, w, f64(g), None)
    w0 = np.array([1.0, -1.0])
    assert_allclose(ws[0].asnumpy(), w0 - 0.05 * g, rtol=1e-12)                  # lr .05, wd 0
    assert_allclose(ws[1].asnumpy(), w0 - 0.1 * (g + 0.2 * w0), rtol=1e-12)
    assert_allclose(ws[2].asnumpy(), w0 - 0.2 * (g + 0.6 * w0), rtol=1e-12)      # lr .2, wd .6


def test_param_dict_is_read_at_update_time():
    p = Parameter('w', shape=(1,))
    o = opt.SGD(learning_rate=1.0, param_dict={0: p})
    w = f64([0.0])
    p.lr_mult = 0.25          # changing the Parameter after creating the optimizer counts
    o.update(0, w, f64([1.0]), None)
    assert_allclose(w.asnumpy(), [-0.25])


def test_lr_mult_scales_adam_too():
    p = Parameter('w', shape=(1,), lr_mult=0.5)
    o = opt.Adam(learning_rate=0.01, param_dict={0: p})
    w = f64([0.0])
    o.update(0, w, f64([3.0]), o.create_state(0, w))
    assert_allclose(w.asnumpy(), [-0.005], atol=1e-8)


# ---------------------------------------------------------------------- create

@pytest.mark.parametrize('name, cls', [('sgd', opt.SGD), ('SGD', opt.SGD), ('nag', opt.NAG),
                                       ('Adam', opt.Adam), ('rmsprop', opt.RMSProp),
                                       ('adagrad', opt.AdaGrad)])
def test_create_by_name_case_insensitive(name, cls):
    o = opt.create(name, learning_rate=0.25, wd=0.5)
    assert type(o) is cls
    assert o.learning_rate == 0.25 and o.wd == 0.5


def test_create_passes_optimizer_specific_arguments():
    o = opt.create('adam', beta1=0.5, epsilon=1e-3)
    assert (o.beta1, o.beta2, o.epsilon, o.learning_rate) == (0.5, 0.999, 1e-3, 0.001)
    assert opt.create('sgd', momentum=0.9).momentum == 0.9
    assert opt.create('sgd').learning_rate == 0.01         # MXNet's defaults
    assert opt.create('rmsprop').learning_rate == 0.001


def test_create_unknown_name_lists_the_choices():
    with pytest.raises(MXNetError, match=r"'adamw'.*adam.*sgd"):
        opt.create('adamw')


def test_create_unknown_argument_is_named():
    with pytest.raises(MXNetError, match=r"momentun"):
        opt.create('sgd', momentun=0.9)
    with pytest.raises(MXNetError, match=r"betas"):
        opt.Adam(betas=(0.9, 0.99))


def test_create_accepts_an_optimizer_instance_but_not_extra_arguments():
    o = opt.SGD(learning_rate=0.3)
    assert opt.create(o) is o
    with pytest.raises(MXNetError, match=r'optimizer_params'):
        opt.create(o, learning_rate=0.1)


# ------------------------------------------------------- learning rate and schedulers

def test_learning_rate_with_a_scheduler_drives_the_updates():
    sched = lrs.FactorScheduler(step=2, factor=0.5)
    with pytest.warns(UserWarning, match='overwritten by ``learning_rate``'):   # as MXNet
        o = opt.SGD(learning_rate=0.1, lr_scheduler=sched)
    assert sched.base_lr == 0.1          # the optimizer's learning_rate overrides base_lr
    w = f64([0.0])
    steps = []
    for _ in range(5):
        before = w.asnumpy()[0]
        o.update(0, w, f64([1.0]), None)
        steps.append(before - w.asnumpy()[0])
    # num_update 1..5 -> lr 0.1, 0.1, 0.05, 0.05, 0.025 (MXNet: decay once num_update > count+step)
    assert_allclose(steps, [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-12)
    assert o.learning_rate == pytest.approx(0.025)


def test_set_learning_rate_without_and_with_a_scheduler():
    o = opt.SGD(learning_rate=0.1)
    o.set_learning_rate(0.02)
    assert o.learning_rate == 0.02
    w = f64([1.0])
    o.update(0, w, f64([1.0]), None)
    assert_allclose(w.asnumpy(), [0.98])
    o2 = opt.SGD(lr_scheduler=lrs.FactorScheduler(step=10, base_lr=0.1))
    assert o2.learning_rate == 0.1        # no learning_rate: the scheduler's base_lr
    # MXNet raises a UserWarning (raises, not warns); minimx's error is both
    with pytest.raises(UserWarning, match=r'LRScheduler of the optimizer has already been '
                                          r'defined'):
        o2.set_learning_rate(0.5)
    with pytest.raises(MXNetError):
        o2.set_learning_rate(0.5)
    assert o2.learning_rate == 0.1


def test_repr_names_the_optimizer_and_rate():
    assert repr(opt.SGD(learning_rate=0.5, wd=0.1)) == 'SGD(learning_rate=0.5, wd=0.1)'


# ------------------------------------------------- updating a weight a graph still needs

def test_update_with_a_retained_graph_alive_then_its_backward_is_refused():
    w = nd.array([1.0, 2.0])
    w.attach_grad()
    with autograd.record():
        y = (w * w).sum()
    y.backward(retain_graph=True)
    o = opt.SGD(learning_rate=0.1)
    o.update(0, w, w.grad, None)                          # allowed, as in MXNet
    assert_allclose(w.asnumpy(), [0.8, 1.6], rtol=1e-6)
    with pytest.raises(MXNetError, match=r'changed in place'):
        y.backward()                                      # would read the new weight
    assert_allclose(w.grad.asnumpy(), [2.0, 4.0])          # the refused pass wrote nothing


def test_update_allowed_after_plain_backward():
    w = nd.array([3.0])
    w.attach_grad()
    with autograd.record():
        y = w * w * w
    y.backward()
    o = opt.Adam(learning_rate=0.1)
    o.update(0, w, w.grad, o.create_state(0, w))
    assert_allclose(w.asnumpy(), [2.9], atol=1e-6)


# ---------------------------------------------------------------- LR schedulers

def test_factor_scheduler_values_by_hand():
    s = lrs.FactorScheduler(step=3, factor=0.5, base_lr=1.0)
    got = [s(k) for k in range(1, 11)]
    assert_allclose(got, [1, 1, 1, .5, .5, .5, .25, .25, .25, .125])


def test_factor_scheduler_jumps_and_stops_at_stop_factor_lr():
    s = lrs.FactorScheduler(step=3, factor=0.5, base_lr=1.0)
    assert s(10) == pytest.approx(0.125)                  # several decays at once
    s = lrs.FactorScheduler(step=1, factor=0.1, stop_factor_lr=1e-3, base_lr=1.0)
    assert_allclose([s(k) for k in range(1, 7)], [1, .1, .01, 1e-3, 1e-3, 1e-3])


def test_factor_scheduler_with_linear_and_constant_warmup():
    s = lrs.FactorScheduler(step=5, factor=0.5, base_lr=1.0, warmup_steps=4,
                            warmup_begin_lr=0.2)
    # 0.2 + (1.0 - 0.2) * k / 4 for k < 4; then the factor schedule (count from 0)
    assert_allclose([s(k) for k in range(0, 7)], [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.5])
    c = lrs.FactorScheduler(step=5, factor=0.5, base_lr=1.0, warmup_steps=3,
                            warmup_begin_lr=0.1, warmup_mode='constant')
    assert_allclose([c(k) for k in range(0, 4)], [0.1, 0.1, 0.1, 1.0])


def test_multifactor_scheduler_values_by_hand():
    s = lrs.MultiFactorScheduler(step=[2, 5], factor=0.1, base_lr=1.0)
    got = [s(k) for k in range(1, 8)]
    assert_allclose(got, [1, 1, .1, .1, .1, .01, .01])
    s = lrs.MultiFactorScheduler(step=[2, 5], factor=0.1, base_lr=1.0)
    assert s(100) == pytest.approx(0.01)                  # both decays at once
    w = lrs.MultiFactorScheduler(step=[4], factor=0.5, base_lr=1.0, warmup_steps=2,
                                 warmup_begin_lr=0.5)
    assert_allclose([w(k) for k in range(0, 6)], [0.5, 0.75, 1.0, 1.0, 1.0, 0.5])


def test_cosine_scheduler_values_by_hand():
    s = lrs.CosineScheduler(max_update=10, base_lr=1.0, final_lr=0.1)
    want = [0.1 + 0.9 * (1 + math.cos(math.pi * k / 10)) / 2 for k in range(0, 11)]
    assert_allclose([s(k) for k in range(0, 11)], want, rtol=1e-12)
    assert s(12) == pytest.approx(0.1)                    # stays at final_lr afterwards
    fresh = lrs.CosineScheduler(max_update=10, base_lr=1.0, final_lr=0.1)
    assert fresh(5) == pytest.approx(0.55)
    # past max_update MXNet returns the last computed value (here that of update 5)
    assert fresh(12) == pytest.approx(0.55)


def test_cosine_scheduler_with_linear_and_constant_warmup():
    s = lrs.CosineScheduler(max_update=12, base_lr=1.0, final_lr=0.0, warmup_steps=2,
                            warmup_begin_lr=0.5)
    assert_allclose([s(0), s(1)], [0.5, 0.75])            # linear warm-up
    assert s(2) == pytest.approx(1.0)                     # cosine starts after warm-up
    assert s(7) == pytest.approx(0.5)                     # (7-2)/(12-2) = half way
    assert s(12) == pytest.approx(0.0, abs=1e-15)
    c = lrs.CosineScheduler(max_update=12, base_lr=1.0, warmup_steps=2, warmup_begin_lr=0.5,
                            warmup_mode='constant')
    assert_allclose([c(0), c(1)], [0.5, 0.5])


def test_schedule_through_an_optimizer_counts_updates_from_one():
    sched = lrs.CosineScheduler(max_update=4, base_lr=1.0, final_lr=0.0)
    o = opt.SGD(learning_rate=1.0, lr_scheduler=sched)
    w = f64([0.0])
    for _ in range(4):
        o.update(0, w, f64([1.0]), None)
    # lr at num_update 1..4: (1 + cos(pi k / 4)) / 2
    want = -sum((1 + math.cos(math.pi * k / 4)) / 2 for k in range(1, 5))
    assert_allclose(w.asnumpy(), [want], rtol=1e-12)


@pytest.mark.parametrize('make, pattern', [
    (lambda: lrs.FactorScheduler(step=0), r'step'),
    (lambda: lrs.FactorScheduler(step=2, factor=1.5), r'factor'),
    (lambda: lrs.MultiFactorScheduler(step=[5, 3]), r'increasing'),
    (lambda: lrs.MultiFactorScheduler(step=[3, 3]), r'increasing'),
    (lambda: lrs.MultiFactorScheduler(step=[0, 3]), r'step'),
    (lambda: lrs.FactorScheduler(step=2, warmup_mode='exp'), r"'linear', 'constant'"),
    (lambda: lrs.CosineScheduler(max_update=5, warmup_steps=5), r'max_update'),
], ids=['factor-step0', 'factor>1', 'multi-decreasing', 'multi-repeated', 'multi-zero',
        'warmup-mode', 'cosine-max-update'])
def test_scheduler_argument_validation(make, pattern):
    with pytest.raises(MXNetError, match=pattern):
        make()


def test_multifactor_scheduler_refuses_a_growing_factor():
    with pytest.raises((MXNetError, ValueError), match=r'factor'):
        lrs.MultiFactorScheduler(step=[2, 4], factor=2.0)


@pytest.mark.parametrize('kwargs', [dict(warmup_steps=3, warmup_begin_lr=2.0),
                                    dict(warmup_steps=-1)], ids=['begin>base', 'negative'])
def test_warmup_arguments_are_validated(kwargs):
    with pytest.raises((MXNetError, ValueError)):
        lrs.FactorScheduler(step=2, base_lr=1.0, **kwargs)
