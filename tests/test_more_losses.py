"""Appendix (more training pieces): the extra gluon.loss classes and the CTC operator.

Expected values marked "MXNet 1.9.1" were computed with mxnet==1.9.1 on the same inputs;
the others come from NumPy formulas or brute force; gradients from finite differences.
"""

from itertools import product

import numpy as np
import pytest
from numpy.testing import assert_allclose

from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import block as block_module
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.appendix

L = gluon.loss


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


def f64(a):
    return nd.array(np.asarray(a, dtype=np.float64), dtype=np.float64)


PRED = [[0.3, -1.2, 2.0], [0.5, 0.1, -0.4]]
SIGNS = [[1, -1, 1], [-1, 1, 1]]


def test_squared_hinge_values():
    # MXNet 1.9.1
    assert_allclose(L.SquaredHingeLoss()(nd.array(PRED), nd.array(SIGNS)).asnumpy(),
                    [0.16333333, 1.67333329], rtol=1e-6)
    loss = L.SquaredHingeLoss(margin=2, weight=0.5)(nd.array(PRED), nd.array(SIGNS),
                                                    nd.array([[2], [1]]))
    assert_allclose(loss.asnumpy(), [1.17666662, 2.60333323], rtol=1e-6)
    # by hand: (margin - pred * label) clipped at 0, squared, averaged per row
    margins = np.maximum(0, 1 - np.array(PRED) * np.array(SIGNS))
    assert_allclose(L.SquaredHingeLoss()(nd.array(PRED), nd.array(SIGNS)).asnumpy(),
                    (margins ** 2).mean(axis=1), rtol=1e-6)


def test_squared_hinge_gradient():
    loss = L.SquaredHingeLoss()
    check_numeric_gradient(lambda p: loss(p, f64(SIGNS)), [np.array(PRED)])


ANCHOR = [[1., 2.], [0., 1.], [3., -1.]]
POSITIVE = [[1.5, 2.], [0., 0.], [2., 0.]]
NEGATIVE = [[1., 1.], [1., 1.], [3., -2.]]


def test_triplet_values_and_gradient():
    args = [nd.array(a) for a in (ANCHOR, POSITIVE, NEGATIVE)]
    # MXNet 1.9.1
    assert_allclose(L.TripletLoss()(*args).asnumpy(), [0.25, 1.0, 2.0])
    assert_allclose(L.TripletLoss(margin=0.5, weight=2)(*args).asnumpy(),
                    [0.0, 1.0, 3.0])
    loss = L.TripletLoss(margin=0.3)
    rng = np.random.default_rng(0)
    check_numeric_gradient(loss, [rng.normal(size=(3, 4)) for _ in range(3)])


X1 = [[1., 2., 3.], [1., 0., 0.], [0.5, 0.5, 0.]]
X2 = [[1., 2., 2.5], [1., 1., 0.], [0.5, -0.5, 0.1]]


def test_cosine_embedding_values():
    # MXNet 1.9.1: shape (batch, 1)
    out = L.CosineEmbeddingLoss()(nd.array(X1), nd.array(X2), nd.array([1, -1, -1]))
    assert out.shape == (3, 1)
    assert_allclose(out.asnumpy().ravel(), [0.00397605, 0.70710677, 0.0], atol=1e-6)
    out = L.CosineEmbeddingLoss(margin=0.5, weight=2.)(
        nd.array(X1), nd.array(X2), nd.array([1, -1, 1]), nd.array([[1.], [2.], [0.5]]))
    assert_allclose(out.asnumpy().ravel(), [0.00795209, 0.82842708, 1.0], atol=1e-6)


def test_cosine_embedding_gradient():
    loss = L.CosineEmbeddingLoss(margin=0.1)
    label = f64([1, -1, 1, -1])
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    b[1] = a[1] + 0.1          # a label -1 pair with cos > margin: the loss is active
    check_numeric_gradient(lambda x, y: loss(x, y, label), [a, b])


PR = [[0.5, 1.0], [2.0, 0.2]]


def test_poisson_nll_values():
    pred, target = nd.array(PR), nd.array([[1., 0.], [3., 2.]])
    out = L.PoissonNLLLoss()(pred, target)
    assert out.shape == (1,)
    # MXNet 1.9.1
    assert_allclose(out.asnumpy(), [1.5193655], rtol=1e-6)
    assert_allclose(L.PoissonNLLLoss(from_logits=False)(pred, target).asnumpy(),
                    [1.3831453], rtol=1e-6)
    target = nd.array([[1., 2.], [3., 5.]])
    # MXNet 1.9.1 (targets above 0: MXNet gives nan for a target of 0 with compute_full)
    assert_allclose(L.PoissonNLLLoss(compute_full=True)(pred, target).asnumpy(),
                    [2.66604924], rtol=1e-6)
    out = L.PoissonNLLLoss(compute_full=True, from_logits=False, weight=0.5)(
        pred, target, nd.array([[1.], [2.]]))
    assert_allclose(out.asnumpy(), [4.03128815], rtol=1e-6)


def test_poisson_nll_full_with_zero_count_is_finite():
    loss = L.PoissonNLLLoss(compute_full=True)
    out = loss(nd.array(PR), nd.array([[1., 0.], [3., 2.]]))
    t = np.array([1., 0., 3., 2.])
    stirling = np.where(t > 1, t * np.log(np.maximum(t, 1)) - t +
                        0.5 * np.log(2 * np.pi * np.maximum(t, 1)), 0)
    p = np.array(PR).ravel()
    assert_allclose(out.asnumpy(), [(np.exp(p) - t * p + stirling).mean()], rtol=1e-6)


def test_poisson_nll_gradient():
    target = f64([[1., 2.], [3., 5.]])
    for loss in (L.PoissonNLLLoss(compute_full=True),
                 L.PoissonNLLLoss(from_logits=False)):
        check_numeric_gradient(lambda p: loss(p, target), [np.array(PR) + 1.0])


S1 = [[1., 0.], [0., 1.], [1., 1.]]
S2 = [[0.9, 0.1], [0.2, 1.1], [1., 0.7]]


def test_sdml_values_and_gradient():
    # MXNet 1.9.1 (weight is accepted but not applied, as there)
    assert_allclose(L.SDMLLoss()(nd.array(S1), nd.array(S2)).asnumpy(),
                    [0.10584189, 0.01833608, 0.09404972], atol=5e-6)
    assert_allclose(L.SDMLLoss(smoothing_parameter=0.1, weight=3.)(
        nd.array(S1), nd.array(S2)).asnumpy(), [0.30025262, 0.18174684, 0.38946047],
        atol=5e-6)
    rng = np.random.default_rng(2)
    check_numeric_gradient(L.SDMLLoss(),
                           [rng.normal(size=(3, 2)), rng.normal(size=(3, 2))])
    with pytest.raises(MXNetError, match='same shape'):
        L.SDMLLoss()(nd.ones((3, 2)), nd.ones((2, 2)))


# ----------------------------------------------------------------------------- CTC

# Activations (batch 3, time 5, classes 4) drawn with np.random.seed(1).randn, float32.
np.random.seed(1)
CTC_X = np.random.randn(3, 5, 4).astype(np.float32)
CTC_LABEL = np.array([[0, 1, 1], [2, -1, -1], [1, 2, 0]], dtype=np.float32)


def brute_force_ctc(acts, label, blank):
    """-log of the summed probability of every path that collapses to `label`."""
    probs = np.exp(acts) / np.exp(acts).sum(1, keepdims=True)
    total = 0.0
    for path in product(range(acts.shape[1]), repeat=acts.shape[0]):
        merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if tuple(c for c in merged if c != blank) == tuple(label):
            total += np.prod(probs[np.arange(len(path)), path])
    return -np.log(total)


def test_ctc_matches_mxnet():
    loss = L.CTCLoss()
    # MXNet 1.9.1
    assert_allclose(loss(nd.array(CTC_X), nd.array(CTC_LABEL)).asnumpy(),
                    [8.3223095, 4.7141724, 3.8983366], rtol=1e-5)
    out = L.CTCLoss(label_layout='TN', weight=2.)(
        nd.array(CTC_X), nd.array(CTC_LABEL.T), None, None, nd.array([1., 0.5, 2.]))
    assert_allclose(out.asnumpy(), [16.644619, 4.7141724, 15.593347], rtol=1e-5)
    out = loss(nd.array(CTC_X), nd.array(CTC_LABEL), nd.array([5, 4, 3]),
               nd.array([3, 1, 2]))
    assert_allclose(out.asnumpy(), [8.3223095, 3.7800577, 3.7009909], rtol=1e-5)
    tnc = L.CTCLoss(layout='TNC')(nd.array(CTC_X.transpose(1, 0, 2)),
                                  nd.array(CTC_LABEL))
    assert_allclose(tnc.asnumpy(), [8.3223095, 4.7141724, 3.8983366], rtol=1e-5)
    # nd.CTCLoss: (time, batch, classes), blank first, padding 0
    first = nd.CTCLoss(nd.array(CTC_X.transpose(1, 0, 2)),
                       nd.array([[1, 2, 0], [3, 0, 0], [1, 1, 2]]))
    assert_allclose(first.asnumpy(), [3.4256668, 6.1340432, 7.8892093], rtol=1e-5)
    assert nd.ctc_loss is nd.CTCLoss


def test_ctc_matches_brute_force():
    rng = np.random.default_rng(3)
    acts = rng.normal(size=(2, 5, 3))
    labels = [[0, 1], [1, 1]]
    out = L.CTCLoss()(f64(acts), f64(labels)).asnumpy()
    expected = [brute_force_ctc(acts[i], labels[i], blank=2) for i in range(2)]
    assert_allclose(out, expected, rtol=1e-10)


def test_ctc_gradient_matches_mxnet():
    x = np.random.RandomState(0).randn(2, 4, 4).astype(np.float32)
    pred = nd.array(x)
    pred.attach_grad()
    with autograd.record():
        out = L.CTCLoss()(pred, nd.array([[0, 1], [2, -1]]))
    out.backward()
    # MXNet 1.9.1
    assert_allclose(out.asnumpy(), [2.2515218, 5.5398574], rtol=1e-5)
    assert_allclose(pred.grad.asnumpy()[0, :, :2],
                    [[-0.1179554, 0.0769463], [-0.300027, 0.015611],
                     [0.0090112, -0.2006365], [0.343872, -0.5886261]], atol=2e-6)
    assert_allclose(pred.grad.asnumpy()[1, 1],
                    [0.016051, 0.3963819, -0.426809, 0.0143766], atol=2e-6)


def test_ctc_gradient_finite_differences():
    rng = np.random.default_rng(4)
    labels, lengths = f64([[0, 1, 1], [2, -1, -1]]), f64([5, 3])
    loss = L.CTCLoss()
    (grad,) = check_numeric_gradient(lambda p: loss(p, labels, lengths),
                                     [rng.normal(size=(2, 5, 4))])
    assert np.all(grad[1, 3:] == 0)        # steps after the sequence ends get nothing


def test_ctc_impossible_label_is_zero():
    # MXNet 1.9.1 returns 0 (and no gradient) when the label cannot fit in the sequence
    pred = nd.array(np.random.RandomState(0).randn(1, 2, 3))
    pred.attach_grad()
    with autograd.record():
        out = L.CTCLoss()(pred, nd.array([[1, 1]]))
    out.backward()
    assert out.asnumpy().tolist() == [0.0]
    assert np.all(pred.grad.asnumpy() == 0)


def test_ctc_argument_errors():
    with pytest.raises(MXNetError, match='layout'):
        L.CTCLoss(layout='NCT')
    with pytest.raises(MXNetError, match='blank_label'):
        nd.CTCLoss(nd.ones((2, 1, 3)), nd.ones((1, 1)), blank_label='middle')
    with pytest.raises(MXNetError, match='data_lengths'):
        nd.CTCLoss(nd.ones((2, 1, 3)), nd.ones((1, 1)), use_data_lengths=True)


def test_kldiv_sums_over_classes_as_mxnet():
    """MXNet 1.9.1's KLDivLoss sums over the non-batch axes: 0.0023955 there (float32),
    0.0023974 exactly, where an average would give half of that."""
    pred = nd.log_softmax(nd.array([[1., 2.]]))
    out = L.KLDivLoss()(pred, nd.array([[0.3, 0.7]]))
    assert_allclose(out.asnumpy(), [0.0023955], atol=5e-6)
    p, q = np.log(np.exp([1., 2.]) / np.exp([1., 2.]).sum()), np.array([0.3, 0.7])
    assert_allclose(out.asnumpy(), [(q * (np.log(q) - p)).sum()], atol=1e-7)
