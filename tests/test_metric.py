"""Tests of mx.metric (Chapter 5): running averages checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minimx as mx
from minimx import metric, nd

pytestmark = pytest.mark.ch07


SCORES = [[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]   # argmax 1 0 2 0


def test_eval_metric_base_state_and_nan():
    m = metric.Accuracy()
    assert m.num_inst == 0 and m.sum_metric == 0.0
    name, value = m.get()
    assert name == 'accuracy' and math.isnan(value)
    with pytest.raises(NotImplementedError):
        metric.EvalMetric('x').update(None, None)


def test_accuracy_from_scores():
    m = metric.Accuracy()
    m.update(nd.array([1, 0, 1, 2], dtype='int32'), nd.array(SCORES))
    assert m.get() == ('accuracy', 0.5)
    assert m.num_inst == 4 and m.sum_metric == 2
    assert m.get_name_value() == [('accuracy', 0.5)]
    assert str(m) == "EvalMetric: {'accuracy': 0.5}"


def test_accuracy_from_class_indices_and_float_labels():
    m = metric.Accuracy()
    m.update(nd.array([1.0, 2.0, 3.0]), nd.array([1.0, 0.0, 3.0]))   # float32 labels work
    assert m.get()[1] == pytest.approx(2 / 3)


def test_accuracy_axis_and_column_labels():
    m = metric.Accuracy(axis=0)
    m.update(nd.array([1, 2]), nd.array(np.array(SCORES).T[:, :2]))   # classes along axis 0
    assert m.get()[1] == 0.5        # argmax over axis 0: [1, 0] vs labels [1, 2]
    m = metric.Accuracy()
    m.update(nd.array([[1], [0], [2], [1]]), nd.array(SCORES))        # (N, 1) labels
    assert m.get()[1] == 0.75


def test_accuracy_per_device_lists_accumulate():
    m = metric.Accuracy()
    m.update([nd.array([1, 0]), nd.array([1, 2])],
             [nd.array(SCORES[:2]), nd.array(SCORES[2:])])
    assert (m.sum_metric, m.num_inst) == (2, 4)
    m.update([nd.array([2])], [nd.array([[0.0, 0.0, 1.0]])])
    assert m.get()[1] == pytest.approx(3 / 5)
    m.reset()
    assert m.num_inst == 0 and math.isnan(m.get()[1])


def test_accuracy_mismatches_are_explained():
    m = metric.Accuracy()
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) .*predictions of shape \(4, 3\)"):
        m.update(nd.array([1, 0, 1]), nd.array(SCORES))
    with pytest.raises(ValueError, match="2 label arrays but 1 prediction"):
        m.update([nd.array([1]), nd.array([0])], [nd.array([[0.0, 1.0]])])


def test_accuracy_accepts_numpy():
    m = metric.Accuracy()
    m.update(np.array([1, 1]), np.array([[0.2, 0.8], [0.9, 0.1]]))
    assert m.get()[1] == 0.5


def test_top_k_accuracy():
    m = metric.TopKAccuracy(top_k=2)
    assert m.name == 'top_k_accuracy_2'
    m.update(nd.array([1, 0, 1]), nd.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]))
    assert m.get()[1] == pytest.approx(2 / 3)
    m = metric.TopKAccuracy(top_k=5)                                  # k > classes: all right
    m.update(nd.array([2, 0]), nd.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]))
    assert m.get()[1] == 1.0
    with pytest.raises(AssertionError, match="use Accuracy"):   # MXNet asserts it
        metric.TopKAccuracy(top_k=1)
    with pytest.raises(TypeError, match="top_k must be an integer"):
        metric.TopKAccuracy(top_k='a')
    with pytest.raises(ValueError, match=r"\(batch, classes\)"):
        metric.TopKAccuracy(top_k=2).update(nd.array([1, 0]), nd.array([[0.5, 0.5]]))


def test_top_k_matches_numpy_on_random_scores():
    rng = np.random.default_rng(0)
    scores = rng.random((50, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 50)
    m = metric.TopKAccuracy(top_k=3)
    m.update([nd.array(labels[:20]), nd.array(labels[20:])],
             [nd.array(scores[:20]), nd.array(scores[20:])])
    top3 = np.argsort(-scores, axis=1)[:, :3]
    assert m.get()[1] == pytest.approx(np.mean([l in t for l, t in zip(labels, top3)]))


def test_cross_entropy_mxnet_example():
    m = metric.CrossEntropy()
    m.update([nd.array([0, 1, 1])], [nd.array([[0.3, 0.7], [0, 1.], [0.4, 0.6]])])
    assert m.get() == ('cross-entropy', pytest.approx(0.57159948, rel=1e-6))
    assert m.num_inst == 3


def test_cross_entropy_eps_keeps_zero_probability_finite():
    m = metric.CrossEntropy(eps=1e-12)
    m.update(nd.array([0]), nd.array([[0.0, 1.0]]))
    assert m.get()[1] == pytest.approx(-math.log(1e-12))
    with pytest.raises(ValueError, match=r"\(batch, classes\)"):
        m.update(nd.array([0, 1]), nd.array([0.5, 0.5]))


def test_loss_metric_averages_over_elements():
    m = metric.Loss()
    m.update(None, nd.array([0.5, 1.5]))                  # a single NDArray is one device
    m.update(None, [nd.array([1.0]), nd.array([[2.0, 3.0]])])
    assert m.get() == ('loss', pytest.approx(8.0 / 5))
    assert m.num_inst == 5


def test_mae_mse_rmse_average_per_batch_values():
    batches = [(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 4.0])),
               (np.array([0.0]), np.array([1.0]))]
    expected = {
        'mae': np.mean([np.abs(l - p).mean() for l, p in batches]),
        'mse': np.mean([((l - p) ** 2).mean() for l, p in batches]),
        'rmse': np.mean([np.sqrt(((l - p) ** 2).mean()) for l, p in batches]),
    }
    assert expected['mse'] == pytest.approx((0.3125 + 1.0) / 2)
    for cls in (metric.MAE, metric.MSE, metric.RMSE):
        m = cls()
        for label, pred in batches:
            m.update(nd.array(label), nd.array(pred))
        name, value = m.get()
        assert value == pytest.approx(expected[name], rel=1e-6)
        assert m.num_inst == 2


def test_regression_metrics_column_shapes_and_errors():
    m = metric.MSE()
    m.update(nd.array([1.0, 2.0]), nd.array([[1.0], [4.0]]))       # (N,) vs (N, 1) is fine
    assert m.get()[1] == pytest.approx(2.0)
    m.update(nd.array([1.0, 2.0]), nd.ones((2, 2)))    # (N, 1) broadcasts, as MXNet 1.9.1
    assert m.get()[1] == pytest.approx((2.0 + 0.5) / 2)
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(2, 2\)"):
        m.update(nd.array([1.0, 2.0, 3.0]), nd.ones((2, 2)))


def test_composite_metric():
    comp = metric.CompositeEvalMetric([metric.Accuracy(), 'ce'])
    comp.add(metric.Loss())
    labels = nd.array([0, 1, 1, 0])
    probs = nd.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    comp.update([labels], [probs])
    names, values = comp.get()
    assert names == ['accuracy', 'cross-entropy', 'loss']
    ce = -np.mean(np.log([0.9, 0.6, 0.7, 0.2]))
    assert values[0] == 0.75
    assert values[1] == pytest.approx(ce, rel=1e-6)
    assert values[2] == pytest.approx(probs.asnumpy().mean(), rel=1e-6)
    assert comp.get_name_value()[1] == ('cross-entropy', pytest.approx(ce, rel=1e-6))
    assert comp.get_metric(0).num_inst == 4
    comp.reset()
    assert all(m.num_inst == 0 for m in comp.metrics)


def test_create_by_name_list_instance_and_function():
    for name, cls in [('acc', metric.Accuracy), ('accuracy', metric.Accuracy),
                      ('top_k_accuracy', metric.TopKAccuracy), ('ce', metric.CrossEntropy),
                      ('mae', metric.MAE), ('mse', metric.MSE), ('rmse', metric.RMSE),
                      ('loss', metric.Loss), ('ACC', metric.Accuracy)]:
        kwargs = {'top_k': 3} if cls is metric.TopKAccuracy else {}
        assert type(metric.create(name, **kwargs)) is cls
    assert metric.create('top_k_accuracy', top_k=3).name == 'top_k_accuracy_3'
    acc = metric.Accuracy()
    assert metric.create(acc) is acc
    comp = metric.create(['acc', 'mse'])
    assert isinstance(comp, metric.CompositeEvalMetric)
    assert [type(m) for m in comp.metrics] == [metric.Accuracy, metric.MSE]
    assert mx.metric.create is metric.create
    with pytest.raises(ValueError, match="unknown metric 'nosuchmetric'.*acc"):
        metric.create('nosuchmetric')


def test_custom_metric_values_and_tuples():
    def half_abs(label, pred):
        assert isinstance(label, np.ndarray) and isinstance(pred, np.ndarray)
        return float(np.abs(label - pred).sum()) / 2

    m = metric.create(half_abs)
    assert isinstance(m, metric.CustomMetric) and m.name == 'half_abs'
    m.update([nd.array([1.0, 2.0])], [nd.array([2.0, 4.0])])
    assert m.get()[1] == 1.5
    pairs = metric.CustomMetric(lambda l, p: (float((l == p).sum()), l.size))
    assert pairs.name == 'custom(<lambda>)'
    pairs.update([nd.array([1, 2]), nd.array([3])], [nd.array([1, 0]), nd.array([3])])
    assert pairs.get()[1] == pytest.approx(2 / 3)


def test_reset_each_epoch_matters():
    """Without reset, a second epoch's value mixes in the first."""
    m = metric.Accuracy()
    m.update(nd.array([0, 0]), nd.array([0, 1]))        # epoch 1: 50 %
    m.update(nd.array([0, 0]), nd.array([0, 0]))        # epoch 2: 100 %, no reset
    assert m.get()[1] == 0.75
    m.reset()
    m.update(nd.array([0, 0]), nd.array([0, 0]))
    assert m.get()[1] == 1.0
