"""Appendix (more training pieces): the extra optimizers, `register`, the
multi-precision protocol and PolyScheduler.

The step-by-step weights marked "MXNet 1.9.1" were computed by mxnet==1.9.1's optimizers
(`opt.update` three times on the same weight and gradients); minimx must agree to 1e-6.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import block as block_module

pytestmark = pytest.mark.appendix

OPT = mx.optimizer


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


W0 = np.array([[0.5, -1.2, 0.3], [2.0, -0.1, 0.0]], dtype=np.float32)
GRADS = [np.array([[0.1, -0.4, 2.5], [-1.0, 0.05, 0.3]], dtype=np.float32),
         np.array([[0.3, 0.2, -1.5], [0.7, -0.2, 0.0]], dtype=np.float32),
         np.array([[-0.2, 0.6, 0.4], [0.1, 0.3, -0.8]], dtype=np.float32)]

# (optimizer, arguments, weights after steps 1, 2, 3): MXNet 1.9.1
MXNET_STEPS = [
    ('AdaDelta', dict(),
     [[0.49004963, -1.1900032, 0.29000008, 2.0099995, -0.10980581, -0.0099944491],
      [0.47660583, -1.1965941, 0.29755929, 2.0016034, -0.096194439, -0.0099944491],
      [0.48730645, -1.2092361, 0.2952235, 2.0001662, -0.11235526, 0.0030614808]]),
    ('AdaDelta',
     dict(rho=0.8, epsilon=0.0001, wd=0.1, rescale_grad=0.5, clip_gradient=1.0),
     [[0.4295876, -1.0577779, 0.24764492, 1.8223383, -0.10666667, -0.022116294],
      [0.35790601, -0.96729195, 0.24319272, 1.6206397, -0.069409207, -0.019904666],
      [0.34558755, -0.89917576, 0.21205907, 1.4550768, -0.094471022, 0.010640534]]),
    ('Adamax', dict(),
     [[0.498, -1.1980001, 0.29800001, 2.0020001, -0.102, -0.0020000001],
      [0.49663156, -1.1975785, 0.29768389, 2.0022109, -0.10118421, -0.0029483167],
      [0.49625972, -1.1981394, 0.2973659, 2.00227, -0.10157905, -0.0024344791]]),
    ('Adamax',
     dict(learning_rate=0.1, wd=0.05, rescale_grad=2.0, clip_gradient=0.8, beta1=0.8),
     [[0.40000001, -1.1, 0.2, 2.0999999, -0.2, -0.1],
      [0.32831541, -1.0794934, 0.21111111, 2.0888889, -0.15474254, -0.1440255],
      [0.31134868, -1.1083869, 0.17668489, 2.0667129, -0.17723635, -0.12250911]]),
    ('Nadam', dict(),
     [[0.49894354, -1.1989436, 0.29894355, 2.0010564, -0.10105646, -0.0010564518],
      [0.4979322, -1.1993548, 0.2994273, 2.0005085, -0.10005794, -0.0011195228],
      [0.4984594, -1.2002443, 0.2992551, 2.0004282, -0.10095708, -8.5782493e-05]]),
    ('Nadam', dict(learning_rate=0.05, wd=0.05, clip_gradient=1.0, schedule_decay=0.01),
     [[0.4471755, -1.1471756, 0.24717551, 2.0528245, -0.15282449, -0.052824497],
      [0.39732376, -1.1596408, 0.28189388, 2.0203986, -0.10243512, -0.055520553],
      [0.41931307, -1.2004561, 0.26627976, 2.0111384, -0.14652671, -0.0038158894]]),
    ('FTML', dict(),
     [[0.49000001, -1.1900001, 0.29000002, 2.01, -0.10999999, -0.0099999998],
      [0.48161647, -1.1939535, 0.29454809, 2.004931, -0.10142699, -0.0099999998],
      [0.48633954, -1.2010375, 0.29334649, 2.004209, -0.10870774, -0.0017287566]]),
    ('FTML',
     dict(learning_rate=0.1, wd=0.05, rescale_grad=0.5, clip_gradient=0.3, beta1=0.5),
     [[0.40000004, -1.1000001, 0.2, 2.1000001, -0.19999994, -0.099999987],
      [0.3137556, -1.1160827, 0.26666644, 2.0333338, -0.10726184, -0.096858263],
      [0.35465202, -1.1833104, 0.22219907, 2.0000114, -0.18554485, -0.0083690546]]),
    ('Signum', dict(),
     [[0.49000001, -1.1900001, 0.29000002, 2.01, -0.11, -0.0099999998],
      [0.48000002, -1.1800001, 0.28000003, 2.02, -0.1, -0.02],
      [0.47000003, -1.1900001, 0.27000004, 2.03, -0.11, -0.0099999998]]),
    ('Signum',
     dict(learning_rate=0.1, momentum=0.5, wd=0.1, wd_lh=0.2, clip_gradient=0.5,
          rescale_grad=2.0),
     [[0.39000002, -1.0760001, 0.19400004, 2.0599999, -0.19800001, -0.1],
      [0.28220004, -0.95448005, 0.29012004, 1.9188, -0.094040014, -0.19800001],
      [0.37655604, -1.0353905, 0.18431765, 1.780424, -0.19215922, -0.094040014]]),
    ('Signum', dict(momentum=0.0, wd=0.1, learning_rate=0.05),
     [[0.44749999, -1.1440001, 0.2485, 2.04, -0.1495, -0.050000001],
      [0.39526248, -1.18828, 0.29725751, 1.9798, -0.098752499, -0.04975],
      [0.44328618, -1.2323385, 0.24577124, 1.919901, -0.14825873, 0.00049874932]]),
    ('Ftrl', dict(),
     [[0.035454545, -0.31357142, 0.14257142, 1.0495, -0.0085714301, -0.022307696],
      [0.012662136, -0.32739106, 0.18088095, 1.0179778, 0.0063520223, -0.022307696],
      [0.027216423, -0.36170951, 0.17073584, 1.0134829, -0.014175753, 0.019754419]]),
    ('Ftrl',
     dict(lamda1=0.05, learning_rate=0.5, beta=0.5, wd=0.1, clip_gradient=1.0,
          rescale_grad=0.5),
     [[0, -0.15333335, -0.11290321, 1.1666667, 0, -0.071428582],
      [-0.070610113, -0.21796566, 0.067652337, 1.0158473, 0.015312114, -0.071428582],
      [-0.0027751378, -0.38027421, 0.012583189, 0.9943397, -0.01884076, 0.082071185]]),
    ('LAMB', dict(),
     [[0.49901766, -1.1990176, 0.29901767, 2.0009823, -0.10098233, -0.00098234694],
      [0.49733707, -1.19853, 0.29866701, 2.0012057, -0.099957801, -0.0022093202],
      [0.49648261, -1.19982, 0.2978932, 2.001344, -0.10089117, -0.00082937547]]),
    ('LAMB', dict(learning_rate=0.1, wd=0.01, clip_gradient=1.0, rescale_grad=0.5),
     [[0.40126345, -1.1005743, 0.2014581, 2.0962822, -0.19814509, -0.098246619],
      [0.23058245, -1.0492208, 0.18454537, 2.114984, -0.094180033, -0.22213382],
      [0.14214316, -1.178, 0.12641487, 2.1219895, -0.1896095, -0.079817206]]),
    ('LAMB',
     dict(learning_rate=0.1, bias_correction=False, lower_bound=2.0, upper_bound=3.0),
     [[0.40177739, -1.1017542, 0.20174757, 2.0982506, -0.19819158, -0.098243318],
      [0.23259804, -1.0526575, 0.1664446, 2.1207347, -0.095060915, -0.22175793],
      [0.14746609, -1.1811973, 0.089343503, 2.1345208, -0.18805362, -0.084266111]]),
    ('LAMB', dict(learning_rate=0.1, upper_bound=1.0),
     [[0.45917532, -1.159175, 0.25917494, 2.0408251, -0.14082427, -0.040824946],
      [0.38933361, -1.1389072, 0.24460219, 2.0501065, -0.098247036, -0.091815323],
      [0.35381642, -1.1925321, 0.21243772, 2.0558577, -0.13704383, -0.034456085]]),
    ('DCASGD', dict(),
     [[0.49900001, -1.1960001, 0.27500001, 2.01, -0.1005, -0.003],
      [0.49600005, -1.1980002, 0.29002249, 2.0029981, -0.098499991, -0.003],
      [0.49800009, -1.2039999, 0.28602153, 2.0019982, -0.10150006, 0.0050000004]]),
    ('DCASGD',
     dict(learning_rate=0.1, lamda=0.5, wd=0.1, clip_gradient=1.0, rescale_grad=0.5),
     [[0.49000001, -1.1680001, 0.19700001, 2.03, -0.1015, -0.015000001],
      [0.47011125, -1.1663361, 0.2729269, 1.9745163, -0.090484254, -0.014850001],
      [0.47542009, -1.1846802, 0.25004578, 1.9497781, -0.1045918, 0.025297299]]),
]


@pytest.mark.parametrize('name, kwargs, expected', MXNET_STEPS,
                         ids=[f'{n}-{i}' for i, (n, _, _) in enumerate(MXNET_STEPS)])
def test_three_steps_match_mxnet(name, kwargs, expected):
    opt = getattr(OPT, name)(**kwargs)
    w = nd.array(W0)
    state = opt.create_state(0, w)
    for g, want in zip(GRADS, expected):
        opt.update(0, w, nd.array(g), state)
        assert_allclose(w.asnumpy().ravel(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('name', ['adadelta', 'adamax', 'nadam', 'ftml', 'signum',
                                  'sgld', 'ftrl', 'lamb', 'dcasgd'])
def test_created_by_name(name):
    opt = OPT.create(name)
    assert type(opt).__name__.lower() == name
    assert OPT.Optimizer.create_optimizer(name.upper()).__class__ is type(opt)


def test_default_hyperparameters_as_mxnet():
    assert OPT.Adamax().lr == 0.002 and OPT.Nadam().schedule_decay == 0.004
    assert OPT.Ftrl().lr == 0.1 and OPT.Ftrl().lamda1 == 0.01 and OPT.Ftrl().beta == 1
    assert (OPT.AdaDelta().rho, OPT.AdaDelta().epsilon) == (0.9, 1e-5)
    ftml = OPT.FTML()
    assert (ftml.beta1, ftml.beta2, ftml.epsilon) == (0.6, 0.999, 1e-8)
    assert (OPT.Signum().momentum, OPT.Signum().wd_lh) == (0.9, 0.0)
    assert (OPT.LAMB().epsilon, OPT.LAMB().bias_correction) == (1e-6, True)
    assert (OPT.DCASGD().momentum, OPT.DCASGD().lamda) == (0.0, 0.04)


def test_sgld_is_half_a_step_plus_seeded_noise():
    opt = OPT.SGLD(learning_rate=0.04, wd=0.5)
    w, g = nd.array(W0), nd.array(GRADS[0])
    mx.random.seed(7)
    opt.update(0, w, g, opt.create_state(0, w))
    mx.random.seed(7)
    noise = nd.random.normal(0, 0.2, W0.shape).asnumpy()
    assert_allclose(w.asnumpy(), W0 - 0.02 * (GRADS[0] + 0.5 * W0) + noise, rtol=1e-6)


def test_dcasgd_momentum_by_hand():
    # MXNet 1.9.1's momentum branch tests an array's truth value and fails; by hand:
    # step = -lr (g + wd w + lamda g^2 (w - w_prev)); mom = mu mom + step; w += mom
    opt = OPT.DCASGD(learning_rate=0.1, momentum=0.5, lamda=0.2, wd=0.1)
    w = nd.array(W0)
    state = opt.create_state(0, w)
    ref_w, ref_prev, ref_mom = W0.astype(np.float64), W0.astype(np.float64), 0.0
    for g in GRADS:
        opt.update(0, w, nd.array(g), state)
        step = -0.1 * (g + 0.1 * ref_w + 0.2 * g * g * (ref_w - ref_prev))
        ref_mom = 0.5 * ref_mom + step
        ref_prev = ref_w.copy()
        ref_w = ref_w + ref_mom
        assert_allclose(w.asnumpy(), ref_w, rtol=1e-5, atol=1e-6)


def test_adamax_first_step_moves_by_lr():
    opt = OPT.Adamax(learning_rate=0.01)
    w = nd.array([1.0, -2.0, 0.5])
    opt.update(0, w, nd.array([0.3, -4.0, 1e-4]), opt.create_state(0, w))
    assert_allclose(w.asnumpy(), [0.99, -1.99, 0.49], rtol=1e-6)


# ------------------------------------------------------------------------ register

def test_register_makes_a_user_optimizer_creatable():
    class HalfStep(OPT.Optimizer):
        def update(self, index, weight, grad, state):
            self._update_count(index)
            weight[:] = weight - 0.5 * self._get_lr(index) * grad

    try:
        assert OPT.register(HalfStep) is HalfStep
        assert isinstance(OPT.create('halfstep', learning_rate=0.2), HalfStep)
        net = gluon.nn.Dense(1, in_units=2)
        net.initialize(mx.init.One())
        trainer = gluon.Trainer(net.collect_params(), 'HalfStep',
                                {'learning_rate': 0.2})
        with autograd.record():
            out = net(nd.array([[1.0, 2.0]])).sum()
        out.backward()
        trainer.step(1)
        assert_allclose(net.weight.data().asnumpy(), [[0.9, 0.8]], rtol=1e-6)
    finally:
        OPT._REGISTRY.pop('halfstep', None)


def test_register_warns_on_override_and_checks_its_argument():
    class Adamax(OPT.Optimizer):
        pass

    original = OPT._REGISTRY['adamax']
    try:
        with pytest.warns(UserWarning, match='replaces'):
            OPT.Optimizer.register(Adamax)
        assert OPT._REGISTRY['adamax'] is Adamax
    finally:
        OPT._REGISTRY['adamax'] = original
    with pytest.raises(MXNetError, match='subclass of Optimizer'):
        OPT.register(int)


# ------------------------------------------------------------------ multi-precision

def test_multi_precision_keeps_a_float32_master_copy():
    # MXNet 1.9.1: Adamax(learning_rate=0.01, multi_precision=True), 3 steps on float16
    opt = OPT.Adamax(learning_rate=0.01)
    opt.multi_precision = True
    w = nd.array([1.0, 2.0], dtype='float16')
    state = opt.create_state_multi_precision(0, w)
    assert state[0].dtype == np.float32 and state[1][0].dtype == np.float32
    for _ in range(3):
        opt.update_multi_precision(0, w, nd.array([0.001, 0.3], dtype='float16'), state)
    assert w.dtype == np.float16
    assert_allclose(w.asnumpy(), [0.97021484375, 1.9697265625])
    assert_allclose(state[0].asnumpy(), [0.97000003, 1.97000003], rtol=1e-7)


def test_without_multi_precision_float16_accumulates_and_warns():
    opt = OPT.Adamax(learning_rate=0.01)
    w = nd.array([1.0, 2.0], dtype='float16')
    with pytest.warns(UserWarning, match='multi_precision'):
        state = opt.create_state_multi_precision(0, w)
    for _ in range(3):
        opt.update_multi_precision(0, w, nd.array([0.001, 0.3], dtype='float16'), state)
    assert_allclose(w.asnumpy(), [0.970703125, 1.970703125])     # MXNet 1.9.1


def test_multi_precision_leaves_float32_weights_alone():
    opt = OPT.SGD(learning_rate=0.1)
    opt.multi_precision = True
    w = nd.array([1.0])
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        state = opt.create_state_multi_precision(0, w)
    opt.update_multi_precision(0, w, nd.array([1.0]), state)
    assert_allclose(w.asnumpy(), [0.9], rtol=1e-6)


def test_multi_precision_constructor_argument():
    opt = OPT.SGD(learning_rate=0.1, multi_precision=True)
    assert opt.multi_precision is True


def test_multi_precision_update_is_allowed_but_a_later_backward_is_refused():
    # as every update: the write is noted, and a graph that saved the weight refuses
    opt = OPT.SGD(learning_rate=0.1, multi_precision=True)
    w = nd.array([1.0, 2.0], dtype='float16')
    x = nd.array([3.0, 4.0], dtype='float16')
    x.attach_grad()
    with autograd.record():
        y = (w * x).sum()
    state = opt.create_state_multi_precision(0, w)
    opt.update_multi_precision(0, w, nd.array([1.0, 1.0], dtype='float16'), state)
    assert_allclose(w.asnumpy(), [0.8999, 1.9], rtol=1e-3)
    with pytest.raises(MXNetError, match='changed in place'):
        y.backward()


# ------------------------------------------------------------------- PolyScheduler

def test_poly_scheduler_matches_mxnet():
    # MXNet 1.9.1
    sched = mx.lr_scheduler.PolyScheduler(max_update=10, base_lr=0.5, pwr=3,
                                          final_lr=0.1, warmup_steps=4,
                                          warmup_begin_lr=0.1)
    assert_allclose([sched(n) for n in [0, 1, 2, 3, 4, 5, 7, 10, 12]],
                    [0.1, 0.2, 0.3, 0.4, 0.5, 0.33148148148148154, 0.15, 0.1, 0.1])
    sched = mx.lr_scheduler.PolyScheduler(100, 0.1)
    assert_allclose([sched(n) for n in [0, 25, 50, 100, 150]],
                    [0.1, 0.05625, 0.025, 0.0, 0.0], atol=1e-15)


def test_poly_scheduler_drives_an_optimizer():
    sched = mx.lr_scheduler.PolyScheduler(max_update=4, base_lr=1.0, pwr=1)
    opt = OPT.SGD(learning_rate=1.0, lr_scheduler=sched)
    w = nd.array([0.0])
    for _ in range(4):
        opt.update(0, w, nd.array([1.0]), None)
    # rates at update counts 1..4: 0.75, 0.5, 0.25, 0
    assert_allclose(w.asnumpy(), [-1.5], rtol=1e-6)


def test_poly_scheduler_checks_max_update():
    with pytest.raises(MXNetError, match='max_update'):
        mx.lr_scheduler.PolyScheduler(0)
    with pytest.raises(MXNetError, match='warmup_steps'):
        mx.lr_scheduler.PolyScheduler(5, warmup_steps=5)


def test_scheduler_base_lr_is_the_rate_when_none_is_given():
    # MXNet 1.9.1: 1024 (the scheduler's base_lr), and an explicit learning_rate wins
    sched = mx.lr_scheduler.FactorScheduler(step=1, base_lr=1024)
    assert OPT.Optimizer(lr_scheduler=sched).learning_rate == 1024
    assert OPT.AdaDelta(lr_scheduler=sched).learning_rate == 1024
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')        # MXNet says it overrides the scheduler
        opt = OPT.Adamax(learning_rate=0.5, lr_scheduler=sched)
    assert opt.learning_rate == 0.5
