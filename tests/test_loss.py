"""Chapter 5: gluon.loss against NumPy formulas (MXNet 1.x semantics), gradients, label errors."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import block as block_module
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.ch07

L = gluon.loss
RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


def rng(seed=0):
    return np.random.default_rng(seed)


def f32(a):
    return nd.array(np.asarray(a, dtype=np.float32))


def f64(a):
    return nd.array(np.asarray(a, dtype=np.float64), dtype=np.float64)


# ------------------------------------------------------------- NumPy references (float64)

def np_log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_log_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return -np.logaddexp(0.0, -x)


def per_example(loss, batch_axis=0):
    axes = tuple(a for a in range(loss.ndim) if a != batch_axis)
    return loss.mean(axis=axes) if axes else loss


def np_bce_logits(x, z, pos_weight=None):
    pw = 1.0 if pos_weight is None else pos_weight
    return -(pw * z * np_log_sigmoid(x) + (1 - z) * np_log_sigmoid(-x))


# ------------------------------------------------------------------ regression losses

def test_l2loss_hand_values_include_the_half_factor():
    loss = L.L2Loss()(f32([[1.0, 2.0], [0.0, -4.0]]), f32([[0.0, 0.0], [1.0, 0.0]]))
    # example 0: (1 + 4) / 2 / 2 = 1.25 ; example 1: (1 + 16) / 2 / 2 = 4.25
    assert loss.shape == (2,)
    assert_allclose(loss.asnumpy(), [1.25, 4.25], rtol=RTOL)


def test_l2loss_weight_and_sample_weight_against_numpy():
    r = rng(1)
    p, y = r.normal(size=(4, 3, 5)), r.normal(size=(4, 3, 5))
    sw = r.uniform(0.5, 2.0, size=(4, 1, 1))
    got = L.L2Loss(weight=3.0)(f32(p), f32(y), f32(sw)).asnumpy()
    want = per_example(3.0 / 2 * (p - y) ** 2 * sw)
    assert got.shape == (4,)
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_l1loss_hand_values_and_weight():
    loss = L.L1Loss()(f32([[1.0, -3.0], [0.5, 0.5]]), f32([[0.0, 0.0], [0.0, 1.0]]))
    assert_allclose(loss.asnumpy(), [2.0, 0.5], rtol=RTOL)
    weighted = L.L1Loss(weight=0.5)(f32([[1.0, -3.0]]), f32([[0.0, 0.0]]))
    assert_allclose(weighted.asnumpy(), [1.0], rtol=RTOL)


@pytest.mark.parametrize('rho, err, want', [
    (1.0, 0.5, 0.125),      # quadratic regime: 0.5 / rho * err^2
    (1.0, -2.0, 1.5),       # linear regime: |err| - rho / 2
    (2.0, 1.0, 0.25),
    (2.0, 3.0, 2.0),
    (2.0, 2.0, 1.0),        # at the boundary both branches agree: 0.5/2*4 = 2 - 1
])
def test_huberloss_both_regimes_by_hand(rho, err, want):
    loss = L.HuberLoss(rho=rho)(f32([[err]]), f32([[0.0]]))
    assert_allclose(loss.asnumpy(), [want], rtol=RTOL)


def test_huberloss_against_numpy_with_sample_weight():
    r = rng(2)
    p, y = r.normal(scale=2, size=(4, 6)), r.normal(scale=2, size=(4, 6))
    sw = r.uniform(size=(4, 1))
    err = np.abs(p - y)
    want = per_example(np.where(err > 1.5, err - 0.75, 0.5 / 1.5 * err ** 2) * sw * 2.0)
    got = L.HuberLoss(rho=1.5, weight=2.0)(f32(p), f32(y), f32(sw)).asnumpy()
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ softmax cross-entropy

def test_softmax_ce_hand_value_is_log_of_class_count():
    loss = L.SoftmaxCrossEntropyLoss()(f32([[0.0, 0.0], [0.0, 0.0]]), f32([0, 1]))
    assert_allclose(loss.asnumpy(), [np.log(2)] * 2, rtol=RTOL)
    loss = L.SoftmaxCrossEntropyLoss()(f32([[2.0, 0.0, 0.0]]), f32([0]))
    assert_allclose(loss.asnumpy(), [np.log(np.exp(2) + 2) - 2], rtol=RTOL)


def test_softmax_ce_sparse_against_numpy():
    r = rng(3)
    p = r.normal(size=(5, 4))
    y = np.array([0, 3, 1, 2, 3])
    want = -np_log_softmax(p)[np.arange(5), y]
    got = L.SoftmaxCrossEntropyLoss()(f32(p), f32(y)).asnumpy()
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    # an extra trailing axis of 1 on the label is accepted (MXNet's pick)
    got2 = L.SoftmaxCrossEntropyLoss()(f32(p), f32(y[:, None])).asnumpy()
    assert_allclose(got2, want, rtol=RTOL, atol=ATOL)


def test_softmax_ce_dense_labels_against_numpy():
    r = rng(4)
    p = r.normal(size=(3, 4))
    q = r.uniform(size=(3, 4))
    q /= q.sum(axis=1, keepdims=True)
    want = -(np_log_softmax(p) * q).sum(axis=1)
    got = L.SoftmaxCrossEntropyLoss(sparse_label=False)(f32(p), f32(q)).asnumpy()
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_softmax_ce_from_logits_uses_pred_as_log_probabilities():
    logp = np.log(np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]))
    got = L.SoftmaxCrossEntropyLoss(from_logits=True)(f32(logp), f32([1, 2])).asnumpy()
    assert_allclose(got, [-np.log(0.5), -np.log(0.3)], rtol=RTOL)
    # without from_logits it would renormalise: same here because rows sum to 1,
    # but not for unnormalised scores
    scores = np.array([[1.0, 2.0, 3.0]])
    got = L.SoftmaxCrossEntropyLoss(from_logits=True)(f32(scores), f32([2])).asnumpy()
    assert_allclose(got, [-3.0], rtol=RTOL)


def test_softmax_ce_axis_1_and_mean_over_the_rest():
    r = rng(5)
    p = r.normal(size=(2, 3, 4))           # classes on axis 1
    y = r.integers(0, 3, size=(2, 4))
    logp = np_log_softmax(p, axis=1)
    picked = np.take_along_axis(logp, y[:, None, :], axis=1)[:, 0, :]
    want = (-picked).mean(axis=1)
    got = L.SoftmaxCrossEntropyLoss(axis=1)(f32(p), f32(y)).asnumpy()
    assert got.shape == (2,)
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_softmax_ce_sample_weight_weight_and_batch_axis():
    r = rng(6)
    p = r.normal(size=(4, 3))
    y = np.array([2, 0, 1, 1])
    sw = np.array([[1.0], [0.0], [2.0], [0.5]])
    base = -np_log_softmax(p)[np.arange(4), y]
    got = L.SoftmaxCrossEntropyLoss(weight=0.5)(f32(p), f32(y), f32(sw)).asnumpy()
    assert_allclose(got, base * sw[:, 0] * 0.5, rtol=RTOL, atol=ATOL)
    # batch_axis=1: pred (T=5, N=4, C=3); the loss averages over T and keeps N
    p3 = r.normal(size=(5, 4, 3))
    y3 = r.integers(0, 3, size=(5, 4))
    per = -np.take_along_axis(np_log_softmax(p3), y3[..., None], axis=-1)[..., 0]
    got = L.SoftmaxCrossEntropyLoss(batch_axis=1)(f32(p3), f32(y3)).asnumpy()
    assert got.shape == (4,)
    assert_allclose(got, per.mean(axis=0), rtol=RTOL, atol=ATOL)


# -------------------------------------------------------------- sigmoid / logistic / hinge

def test_sigmoid_bce_logits_against_numpy_without_and_with_pos_weight():
    r = rng(7)
    x = r.normal(scale=3, size=(4, 3))
    z = r.integers(0, 2, size=(4, 3)).astype(float)
    pw = np.array([1.0, 2.0, 0.5])
    loss = L.SigmoidBinaryCrossEntropyLoss()
    assert_allclose(loss(f32(x), f32(z)).asnumpy(), per_example(np_bce_logits(x, z)),
                    rtol=RTOL, atol=ATOL)
    got = loss(f32(x), f32(z), None, f32(pw)).asnumpy()          # pos_weight positional
    assert_allclose(got, per_example(np_bce_logits(x, z, pw)), rtol=RTOL, atol=ATOL)
    # pos_weight of all ones is the plain loss
    ones = loss(f32(x), f32(z), None, f32(np.ones(3))).asnumpy()
    assert_allclose(ones, loss(f32(x), f32(z)).asnumpy(), rtol=RTOL, atol=ATOL)


def test_sigmoid_bce_hand_values():
    loss = L.SigmoidBCELoss()
    # x = 0: log 2 whatever the label
    assert_allclose(loss(f32([[0.0]]), f32([[1.0]])).asnumpy(), [np.log(2)], rtol=RTOL)
    # pos_weight 3 on a positive at x = 0 -> 3 log 2 ; on a negative -> log 2
    got = loss(f32([[0.0, 0.0]]), f32([[1.0, 0.0]]), None, f32([3.0, 3.0])).asnumpy()
    assert_allclose(got, [(3 * np.log(2) + np.log(2)) / 2], rtol=RTOL)


def test_sigmoid_bce_from_sigmoid_against_numpy():
    r = rng(8)
    prob = r.uniform(0.05, 0.95, size=(4, 3))
    z = r.integers(0, 2, size=(4, 3)).astype(float)
    pw = np.array([[2.0, 1.0, 4.0]])
    eps = 1e-12
    plain = -(np.log(prob + eps) * z + np.log(1 - prob + eps) * (1 - z))
    weighted = -(np.log(prob + eps) * z * pw + np.log(1 - prob + eps) * (1 - z))
    loss = L.SigmoidBCELoss(from_sigmoid=True)
    assert_allclose(loss(f32(prob), f32(z)).asnumpy(), per_example(plain), rtol=RTOL, atol=ATOL)
    assert_allclose(loss(f32(prob), f32(z), None, f32(pw)).asnumpy(), per_example(weighted),
                    rtol=RTOL, atol=ATOL)
    # from_sigmoid on probabilities equals the logits version on their logits
    logits = np.log(prob / (1 - prob))
    assert_allclose(loss(f32(prob), f32(z)).asnumpy(),
                    L.SigmoidBCELoss()(f32(logits), f32(z)).asnumpy(), rtol=1e-4, atol=1e-5)


def test_logistic_loss_signed_and_binary():
    r = rng(9)
    x = r.normal(scale=2, size=(4, 5))
    s = r.choice([-1.0, 1.0], size=(4, 5))
    want = per_example(np.logaddexp(0.0, -s * x))        # log(1 + exp(-y x))
    got = L.LogisticLoss()(f32(x), f32(s)).asnumpy()
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    b = (s + 1) / 2
    got = L.LogisticLoss(label_format='binary')(f32(x), f32(b)).asnumpy()
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    assert_allclose(L.LogisticLoss()(f32([[0.0]]), f32([[-1.0]])).asnumpy(), [np.log(2)],
                    rtol=RTOL)


def test_logistic_loss_rejects_unknown_label_format():
    with pytest.raises(MXNetError,
                       match=r"label_format must be one of 'signed', 'binary'; got 'onehot'"):
        L.LogisticLoss(label_format='onehot')


def test_hinge_loss_hand_values_and_margin():
    pred = f32([[2.0, 0.5, -0.5, -3.0]])
    label = f32([[1.0, 1.0, 1.0, -1.0]])
    # max(0, 1 - p y): 0, 0.5, 1.5, 0 -> mean 0.5
    assert_allclose(L.HingeLoss()(pred, label).asnumpy(), [0.5], rtol=RTOL)
    # margin 3: 1, 2.5, 3.5, 0 -> mean 1.75
    assert_allclose(L.HingeLoss(margin=3.0)(pred, label).asnumpy(), [1.75], rtol=RTOL)


def test_kldiv_loss_from_logits_true_and_false():
    r = rng(10)
    q = r.uniform(0.1, 1.0, size=(3, 4))
    q /= q.sum(axis=1, keepdims=True)
    scores = r.normal(size=(3, 4))
    logp = np_log_softmax(scores)
    want = (q * (np.log(q + 1e-12) - logp)).sum(axis=1)  # summed, as MXNet 1.9.1 does
    got = L.KLDivLoss()(f32(logp), f32(q)).asnumpy()     # from_logits=True: log-probs in
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    got = L.KLDivLoss(from_logits=False)(f32(scores), f32(q)).asnumpy()
    assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    # KL(q || q) = 0
    same = L.KLDivLoss()(f32(np.log(q)), f32(q)).asnumpy()
    assert_allclose(same, np.zeros(3), atol=1e-6)


# ---------------------------------------------------------------- shapes and averaging

def _inputs_for(name, shape, r):
    x = r.normal(size=shape)
    if name == 'SoftmaxCrossEntropyLoss':
        return x, r.integers(0, shape[-1], size=shape[:-1]).astype(float)
    if name in ('HingeLoss', 'LogisticLoss'):
        return x, r.choice([-1.0, 1.0], size=shape)
    if name == 'SigmoidBinaryCrossEntropyLoss':
        return x, r.integers(0, 2, size=shape).astype(float)
    if name == 'KLDivLoss':
        q = r.uniform(0.1, 1, size=shape)
        return np_log_softmax(x), q / q.sum(axis=-1, keepdims=True)
    return x, r.normal(size=shape)


ALL_LOSSES = ['L2Loss', 'L1Loss', 'HuberLoss', 'SoftmaxCrossEntropyLoss',
              'SigmoidBinaryCrossEntropyLoss', 'LogisticLoss', 'HingeLoss', 'KLDivLoss']


@pytest.mark.parametrize('name', ALL_LOSSES)
def test_every_loss_returns_one_value_per_example_averaging_the_other_axes(name):
    r = rng(11)
    x, y = _inputs_for(name, (4, 3, 5), r)
    loss = getattr(L, name)()
    out = loss(f32(x), f32(y))
    assert out.shape == (4,)
    # the per-example value is the mean of the per-example losses of the flattened rows
    # (a (4, 3, 5) batch is 4 examples; each example averages its 3 rows)
    rows = [loss(f32(x[:, i]), f32(y[:, i])).asnumpy() for i in range(3)]
    combine = np.sum if name == 'KLDivLoss' else np.mean   # MXNet's KLDivLoss sums
    assert_allclose(out.asnumpy(), combine(rows, axis=0), rtol=1e-5, atol=1e-6)


def test_sample_weight_zero_silences_an_example():
    x = f32(rng(12).normal(size=(3, 4)))
    y = f32(rng(13).normal(size=(3, 4)))
    out = L.L1Loss()(x, y, f32([[1.0], [0.0], [1.0]])).asnumpy()
    assert out[1] == 0.0 and out[0] > 0 and out[2] > 0


# ------------------------------------------------------------------ numerical stability

@pytest.mark.parametrize('make', [
    lambda: (L.SoftmaxCrossEntropyLoss(), [[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], [1.0, 1.0]),
    lambda: (L.SigmoidBCELoss(), [[1e4, -1e4], [-1e4, 1e4]], [[0.0, 1.0], [0.0, 1.0]]),
    lambda: (L.LogisticLoss(), [[1e4, -1e4], [-1e4, 1e4]], [[-1.0, 1.0], [-1.0, 1.0]]),
    lambda: (L.LogisticLoss(label_format='binary'), [[1e4, -1e4]], [[0.0, 1.0]]),
    lambda: (L.KLDivLoss(from_logits=False), [[1e4, -1e4]], [[0.5, 0.5]]),
], ids=['softmax_ce', 'sigmoid_bce', 'logistic_signed', 'logistic_binary', 'kldiv_logits'])
def test_extreme_logits_give_finite_values_and_gradients(make):
    loss, x, y = make()
    pred = f32(x)
    pred.attach_grad()
    with autograd.record():
        out = loss(pred, f32(y))
    out.backward()
    assert np.all(np.isfinite(out.asnumpy()))
    assert np.all(np.isfinite(pred.grad.asnumpy()))


def test_extreme_logits_exact_values():
    # softmax CE: wrong class by 2e4 -> 2e4 ; right class -> 0
    out = L.SoftmaxCrossEntropyLoss()(f32([[1e4, -1e4], [1e4, -1e4]]), f32([1, 0])).asnumpy()
    assert_allclose(out, [2e4, 0.0], rtol=1e-6, atol=1e-6)
    # BCE on logits: confidently wrong by 1e4 -> 1e4, confidently right -> 0
    out = L.SigmoidBCELoss()(f32([[1e4], [1e4]]), f32([[0.0], [1.0]])).asnumpy()
    assert_allclose(out, [1e4, 0.0], rtol=1e-6, atol=1e-6)
    # with pos_weight on a confidently wrong positive: pos_weight * 1e4
    out = L.SigmoidBCELoss()(f32([[-1e4]]), f32([[1.0]]), None, f32([2.0])).asnumpy()
    assert_allclose(out, [2e4], rtol=1e-6)
    pred = f32([[-1e4, 1e4]])
    pred.attach_grad()
    with autograd.record():
        out = L.SigmoidBCELoss()(pred, f32([[1.0, 1.0]]), None, f32([2.0, 2.0]))
    out.backward()
    # d/dx of the mean over 2 entries: (sigmoid(x)(1 + (pw-1) z) - pw z) / 2
    assert_allclose(pred.grad.asnumpy(), [[-1.0, 0.0]], atol=1e-6)


# --------------------------------------------------------------------- gradients

def _label64(a):
    return f64(a)


GRADIENT_CASES = {
    'L2Loss': lambda r: (L.L2Loss(weight=2.0), r.normal(size=(3, 4)), r.normal(size=(3, 4)), {}),
    'L1Loss': lambda r: (L.L1Loss(), r.normal(size=(3, 4)) + 3.0, r.normal(size=(3, 4)) - 3.0,
                         {}),
    'HuberLoss_quadratic': lambda r: (L.HuberLoss(rho=10.0), r.normal(size=(3, 4)),
                                      r.normal(size=(3, 4)), {}),
    'HuberLoss_linear': lambda r: (L.HuberLoss(rho=0.5), r.normal(size=(3, 4)) + 5.0,
                                   r.normal(size=(3, 4)) - 5.0, {}),
    'SoftmaxCE_sparse': lambda r: (L.SoftmaxCrossEntropyLoss(), r.normal(size=(3, 4)),
                                   np.array([0.0, 3.0, 1.0]), {}),
    'SoftmaxCE_dense': lambda r: (L.SoftmaxCrossEntropyLoss(sparse_label=False),
                                  r.normal(size=(3, 4)), np.full((3, 4), 0.25), {}),
    'SoftmaxCE_axis1': lambda r: (L.SoftmaxCrossEntropyLoss(axis=1), r.normal(size=(2, 3, 2)),
                                  np.array([[0.0, 2.0], [1.0, 1.0]]), {}),
    'SoftmaxCE_from_logits': lambda r: (L.SoftmaxCrossEntropyLoss(from_logits=True),
                                        r.normal(size=(3, 4)), np.array([1.0, 2.0, 0.0]), {}),
    'SigmoidBCE': lambda r: (L.SigmoidBCELoss(), r.normal(size=(3, 4)),
                             r.integers(0, 2, size=(3, 4)).astype(float), {}),
    'SigmoidBCE_pos_weight': lambda r: (L.SigmoidBCELoss(), r.normal(size=(3, 4)),
                                        r.integers(0, 2, size=(3, 4)).astype(float),
                                        {'pos_weight': np.array([0.5, 1.0, 2.0, 3.0])}),
    'SigmoidBCE_from_sigmoid': lambda r: (L.SigmoidBCELoss(from_sigmoid=True),
                                          r.uniform(0.1, 0.9, size=(3, 4)),
                                          r.integers(0, 2, size=(3, 4)).astype(float), {}),
    'SigmoidBCE_from_sigmoid_pos_weight': lambda r: (
        L.SigmoidBCELoss(from_sigmoid=True), r.uniform(0.1, 0.9, size=(3, 4)),
        r.integers(0, 2, size=(3, 4)).astype(float),
        {'pos_weight': np.array([0.5, 1.0, 2.0, 3.0])}),
    'LogisticLoss': lambda r: (L.LogisticLoss(), r.normal(size=(3, 4)),
                               r.choice([-1.0, 1.0], size=(3, 4)), {}),
    'LogisticLoss_binary': lambda r: (L.LogisticLoss(label_format='binary'),
                                      r.normal(size=(3, 4)),
                                      r.integers(0, 2, size=(3, 4)).astype(float), {}),
    # keep every margin away from the kink at p*y = margin
    'HingeLoss': lambda r: (L.HingeLoss(), np.array([[0.3, -2.0, 0.1], [2.5, -0.4, 0.6]]),
                            np.array([[1.0, 1.0, -1.0], [1.0, -1.0, -1.0]]), {}),
    'KLDivLoss': lambda r: (L.KLDivLoss(), r.normal(size=(3, 4)),
                            np.full((3, 4), 0.25), {}),
    'KLDivLoss_logits': lambda r: (L.KLDivLoss(from_logits=False), r.normal(size=(3, 4)),
                                   np.full((3, 4), 0.25), {}),
}


@pytest.mark.parametrize('case', sorted(GRADIENT_CASES))
def test_gradient_wrt_pred_matches_finite_differences(case):
    loss, pred, label, extra = GRADIENT_CASES[case](rng(20))
    label_nd = _label64(label)
    if 'pos_weight' in extra:
        pw = _label64(extra['pos_weight'])
        fn = lambda p: loss(p, label_nd, None, pw)   # noqa: E731
    else:
        fn = lambda p: loss(p, label_nd)             # noqa: E731
    (grad,) = check_numeric_gradient(fn, [pred], dtype=np.float64)
    assert np.any(grad != 0)


def test_softmax_ce_gradient_is_softmax_minus_onehot_over_batch():
    """One hand-checked gradient: d(sum of losses)/dx = softmax(x) - onehot(y)."""
    x = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    pred = f32(x)
    pred.attach_grad()
    with autograd.record():
        out = L.SoftmaxCrossEntropyLoss()(pred, f32([1, 2]))
    out.backward()
    want = np.exp(np_log_softmax(x)) - np.eye(3)[[1, 2]]
    assert_allclose(pred.grad.asnumpy(), want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------ label errors

def test_onehot_labels_with_sparse_label_true_explain_the_fix():
    onehot = f32(np.eye(3)[[0, 2, 1, 1]])
    with pytest.raises(MXNetError, match=r'sparse_label=False'):
        L.SoftmaxCrossEntropyLoss()(f32(np.zeros((4, 3))), onehot)


@pytest.mark.parametrize('bad', [3.0, -1.0, 1.5])
def test_label_out_of_range_names_the_valid_range(bad):
    with pytest.raises(MXNetError, match=r'\[0, 3\)'):
        L.SoftmaxCrossEntropyLoss()(f32(np.zeros((4, 3))), f32([0.0, 1.0, bad, 2.0]))


def test_label_range_follows_the_class_axis():
    # classes on axis 1 (3 of them), 5 positions on axis 2: label 3 is out of range
    with pytest.raises(MXNetError, match=r'\[0, 3\)'):
        L.SoftmaxCrossEntropyLoss(axis=1)(f32(np.zeros((2, 3, 5))), f32(np.full((2, 5), 3.0)))
    # ... and label 4 is fine if the classes were the last axis (size 5)
    out = L.SoftmaxCrossEntropyLoss()(f32(np.zeros((2, 3, 5))), f32(np.full((2, 3), 4.0)))
    assert_allclose(out.asnumpy(), [np.log(5)] * 2, rtol=RTOL)


def test_wrong_sparse_label_shape_names_both_shapes():
    with pytest.raises(MXNetError, match=r'\(4, 3\).*\(5,\)'):
        L.SoftmaxCrossEntropyLoss()(f32(np.zeros((4, 3))), f32(np.zeros(5)))


@pytest.mark.parametrize('name', ['L2Loss', 'L1Loss', 'HuberLoss', 'SigmoidBCELoss',
                                  'LogisticLoss', 'HingeLoss', 'KLDivLoss'])
def test_elementwise_losses_name_both_shapes_on_mismatch(name):
    with pytest.raises(MXNetError, match=r'\(4, 2\).*\(4, 3\)|\(4, 3\).*\(4, 2\)'):
        getattr(L, name)()(f32(np.zeros((4, 3))), f32(np.zeros((4, 2))))


def test_elementwise_losses_reshape_a_label_of_the_same_size():
    # MXNet reshapes the label like pred (_reshape_like): (4,) fits (4, 1)
    out = L.L2Loss()(f32([[1.0], [2.0], [3.0], [4.0]]), f32([0.0, 0.0, 0.0, 0.0]))
    assert_allclose(out.asnumpy(), [0.5, 2.0, 4.5, 8.0], rtol=RTOL)


def test_index_labels_with_sparse_label_false_point_to_sparse_label_true():
    with pytest.raises(MXNetError, match=r'sparse_label=True'):
        L.SoftmaxCrossEntropyLoss(sparse_label=False)(f32(np.zeros((4, 3))), f32([0, 1, 2, 1]))


def test_losses_work_on_another_context():
    x = nd.array(rng(30).normal(size=(2, 3)), ctx=mx.cpu(1))
    y = nd.array([2, 0], ctx=mx.cpu(1))
    out = L.SoftmaxCrossEntropyLoss()(x, y)
    assert out.context == mx.cpu(1)
    want = -np_log_softmax(x.asnumpy())[[0, 1], [2, 0]]
    assert_allclose(out.asnumpy(), want, rtol=RTOL, atol=ATOL)


def test_fused_softmax_ce_matches_the_composite_path():
    """The fused (batch, classes) path equals log_softmax + pick, values and gradients."""
    gen = np.random.default_rng(7)
    logits = gen.standard_normal((6, 4)) * 3
    labels = nd.array(gen.integers(0, 4, 6), dtype='int32')
    head = nd.array(gen.uniform(0.5, 1.5, 6))
    results = []
    for fused in (True, False):
        x = nd.array(logits)
        x.attach_grad()
        with autograd.record():
            if fused:
                loss = gluon.loss.SoftmaxCrossEntropyLoss()(x, labels)
            else:
                loss = gluon.loss.SoftmaxCrossEntropyLoss(from_logits=True)(
                    nd.log_softmax(x), labels)
        loss.backward(head)
        results.append((loss.asnumpy(), x.grad.asnumpy()))
    assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    assert_allclose(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)
