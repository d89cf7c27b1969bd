"""Appendix (more training pieces): F1, MCC, Perplexity, NegativeLogLikelihood,
PearsonCorrelation, PCC, Torch/Caffe, local and global statistics, get_config and the
names `metric.create` accepts.

Values marked "MXNet 1.9.1" were computed with mxnet==1.9.1's metrics on the same
batches (update b1, update b2; then reset_local and update b3).
"""

import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import nd

pytestmark = pytest.mark.appendix

M = mx.metric

B1 = ([nd.array([0, 1, 1, 0, 1])],
      [nd.array([[0.3, 0.7], [0.2, 0.8], [0.6, 0.4], [0.9, 0.1], [0.4, 0.6]])])
B2 = ([nd.array([1, 1, 0])], [nd.array([[0.1, 0.9], [0.7, 0.3], [0.2, 0.8]])])
B3 = ([nd.array([0, 0, 1, 1])], [nd.array([[0.8, 0.2], [0.4, 0.6], [0.3, 0.7],
                                            [0.1, 0.9]])])
R1 = ([nd.array([1.0, 2.0, 3.0, 4.0])], [nd.array([1.1, 1.9, 3.5, 3.7])])
R2 = ([nd.array([0.5, -1.0, 2.0])], [nd.array([0.2, -0.4, 2.5])])


def local_then_global(metric, first=(B1, B2), then=(B3,)):
    """(value after `first`, (local, global) after reset_local and `then`)."""
    for batch in first:
        metric.update(*batch)
    before = metric.get()[1]
    assert metric.get_global()[1] == pytest.approx(before)
    metric.reset_local()
    for batch in then:
        metric.update(*batch)
    return before, (metric.get()[1], metric.get_global()[1])


# MXNet 1.9.1: (value after b1, b2), (local, global) after reset_local and b3
EXPECTED = {
    ('f1', 'macro'): (0.5833333333, (0.8, 0.6555555556)),
    ('f1', 'micro'): (0.6, (0.8, 0.6666666667)),
    ('mcc', 'macro'): (-0.1666666667, (0.5773502692, 0.0813389786)),
    ('mcc', 'micro'): (-0.0666666667, (0.5773502692, 0.1195228609)),
}


@pytest.mark.parametrize('name, average', list(EXPECTED))
def test_f1_and_mcc_match_mxnet(name, average):
    before, after = local_then_global(M.create(name, average=average))
    assert_allclose([before, *after], [EXPECTED[name, average][0],
                                       *EXPECTED[name, average][1]], rtol=1e-8)


def test_f1_and_mcc_by_hand():
    f1, mcc = M.F1(), M.MCC()
    f1.update(*B1)
    mcc.update(*B1)
    tp, fp, fn, tn = 2, 1, 1, 1
    assert f1.get() == ('f1', pytest.approx(2 / 3))
    expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) *
                                               (tn + fn))
    assert mcc.get() == ('mcc', pytest.approx(expected))
    f1.reset()
    assert math.isnan(f1.get()[1]) and math.isnan(f1.get_global()[1])


def test_f1_refuses_more_than_two_classes():
    with pytest.raises(ValueError, match='binary'):
        M.F1().update([nd.array([0, 1, 2])], [nd.ones((3, 2))])
    with pytest.raises(ValueError, match='average'):
        M.F1(average='weighted')


@pytest.mark.parametrize('name, expected', [
    # MXNet 1.9.1
    ('acc', (0.5, (0.75, 0.5833333333))),
    ('ce', (0.7347955704, (0.400367409, 0.6233195166))),
    ('nll_loss', (0.7347955704, (0.400367409, 0.6233195166))),
    ('loss', (0.5, (0.5, 0.5))),
    ('torch', (0.5, (0.5, 0.5))),
    ('caffe', (0.5, (0.5, 0.5))),
])
def test_classification_metrics_local_and_global(name, expected):
    before, after = local_then_global(M.create(name))
    assert_allclose([before, *after], [expected[0], *expected[1]], rtol=1e-6)


@pytest.mark.parametrize('name, expected', [
    # MXNet 1.9.1
    ('mae', (0.3583333492, (0.25, 0.3222222328))),
    ('mse', (0.1616666727, (0.0899999961, 0.137777780))),
    ('rmse', (0.391522944, (0.2999999821, 0.36101529))),
])
def test_regression_metrics_local_and_global(name, expected):
    before, after = local_then_global(M.create(name), (R1, R2), (R1,))
    assert_allclose([before, *after], [expected[0], *expected[1]], rtol=1e-6)


def test_perplexity_matches_mxnet_and_by_hand():
    ppl = M.Perplexity(ignore_label=None)
    before, after = local_then_global(ppl)
    # MXNet 1.9.1
    assert_allclose([before, *after], [2.0850557018, 1.4923729526, 1.8651090561],
                    rtol=1e-6)
    ppl = M.create('perplexity', ignore_label=1)
    ppl.update(*B1)
    assert_allclose(ppl.get()[1], 1.9245009016, rtol=1e-6)      # MXNet 1.9.1
    assert_allclose(ppl.get()[1], math.exp(-(math.log(0.3) + math.log(0.9)) / 2))


def test_negative_log_likelihood_by_hand():
    nll = M.NegativeLogLikelihood()
    nll.update([nd.array([0, 1])], [nd.array([[0.25, 0.75], [0.5, 0.5]])])
    expected = -(math.log(0.25) + math.log(0.5)) / 2
    assert nll.get() == ('nll-loss', pytest.approx(expected))


def test_pearson_macro_matches_mxnet():
    before, after = local_then_global(M.create('pearsonr'), (R1, R2), (R1,))
    # MXNet 1.9.1
    assert_allclose([before, *after], [0.9558199447, 0.9644196535, 0.9586865143],
                    rtol=1e-8)


def test_pearson_micro_is_the_correlation_of_everything():
    pearson = M.PearsonCorrelation(average='micro')
    pearson.update(*R1)
    pearson.update(*R2)
    y = np.concatenate([R1[0][0].asnumpy(), R2[0][0].asnumpy()])
    yhat = np.concatenate([R1[1][0].asnumpy(), R2[1][0].asnumpy()])
    # MXNet 1.9.1: 0.9717212972687798 (its get_global returns 0.0 in micro mode)
    assert_allclose(pearson.get()[1], 0.9717212972687798, rtol=1e-6)
    assert_allclose(pearson.get()[1], np.corrcoef(y, yhat)[0, 1], rtol=1e-6)
    assert pearson.get_global() == pearson.get()
    pearson.reset_local()        # MXNet keeps streaming through reset_local
    pearson.update(*R1)
    assert_allclose(pearson.get()[1], 0.9720275265940885, rtol=1e-6)


def test_pcc_matches_mxnet_and_mcc():
    pcc = M.PCC()
    pcc.update([nd.array([0, 1, 2, 2, 1])],
               [nd.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6],
                          [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])])
    assert_allclose(pcc.get()[1], 0.4375)                       # MXNet 1.9.1
    pcc.update([nd.array([3, 0])], [nd.array([3, 1])])           # a fourth class
    assert pcc.k == 4
    assert_allclose(pcc.get()[1], 0.4166666667, rtol=1e-8)       # MXNet 1.9.1
    pcc.reset_local()
    pcc.update([nd.array([0, 1, 1])], [nd.array([0, 1, 0])])
    assert_allclose([pcc.get()[1], pcc.get_global()[1]], [0.5, 0.4428571429], rtol=1e-8)
    two, mcc = M.PCC(), M.MCC()
    two.update(*B1)
    mcc.update(*B1)
    assert two.get()[1] == pytest.approx(mcc.get()[1])


def test_composite_local_and_global():
    comp = M.create(['acc', 'f1'])
    comp.update(*B1)
    comp.reset_local()
    comp.update(*B2)
    # MXNet 1.9.1
    assert comp.get() == (['accuracy', 'f1'], [pytest.approx(1 / 3), 0.5])
    assert comp.get_global() == (['accuracy', 'f1'], [0.5, pytest.approx(0.5833333333)])


def test_user_metric_gets_global_statistics_for_free():
    class Count(M.EvalMetric):
        def update(self, labels, preds):
            self.sum_metric += 1
            self.num_inst += 1

    count = Count('count')
    count.update(None, None)
    count.reset_local()
    count.update(None, None)
    assert (count.num_inst, count.global_num_inst) == (1, 2)
    count.reset()
    assert (count.num_inst, count.global_num_inst) == (0, 0)


def test_mxnet_style_metric_keeps_its_own_global_statistics():
    class Both(M.EvalMetric):             # written for MXNet 1.x: updates both
        def __init__(self):
            super().__init__('both', has_global_stats=True)

        def update(self, labels, preds):
            self.sum_metric += 2
            self.global_sum_metric += 2
            self.num_inst += 1
            self.global_num_inst += 1

    both = Both()
    both.update(None, None)
    both.update(None, None)
    assert (both.global_sum_metric, both.global_num_inst) == (4, 2)
    assert 'has_global_stats' not in both.get_config()


def test_get_config_round_trips():
    # MXNet 1.9.1
    assert M.create('acc').get_config() == {
        'axis': 1, 'metric': 'Accuracy', 'name': 'accuracy', 'output_names': None,
        'label_names': None}
    assert M.create('perplexity', ignore_label=None).get_config() == {
        'ignore_label': None, 'metric': 'Perplexity', 'name': 'perplexity',
        'output_names': None, 'label_names': None}
    assert M.PCC().get_config() == {'metric': 'PCC', 'name': 'pcc',
                                    'output_names': None, 'label_names': None}
    for metric in (M.Accuracy(axis=0), M.F1(), M.Perplexity(3), M.create('nll_loss')):
        again = M.create(**metric.get_config())
        assert type(again) is type(metric)
        assert again.get_config() == metric.get_config()
    with pytest.raises(NotImplementedError):
        M.create(lambda label, pred: 0.0).get_config()


def test_composite_get_config_round_trips():
    config = M.create(['acc', 'f1']).get_config()
    assert [c['metric'] for c in config['metrics']] == ['Accuracy', 'F1']
    again = M.create(**config)
    assert again.get_config() == config
    assert M.create(config).get_config() == config                   # the dict itself
    assert M.create(json.dumps(config)).get_config() == config       # its JSON
    assert M.create('["mae", {"name": "err"}]').name == 'err'        # [name, kwargs]


def test_register_without_parentheses_as_mxnet():
    @M.register
    class Halves(M.EvalMetric):
        def __init__(self, name='halves', **kwargs):
            super().__init__(name, **kwargs)

    assert type(M.create('halves')) is Halves and 'halves' in M._METRICS
    M.register(Halves, 'twice_half')                                   # MXNet's form
    assert type(M.create('TWICE_HALF')) is Halves
    with pytest.raises(AssertionError, match='subclass of EvalMetric'):
        M.register(dict)
    for name in ('halves', 'twice_half'):
        del M._METRICS[name]


@pytest.mark.parametrize('name, value', [('mae', 2.0), ('mse', 5.666666666666667),
                                         ('rmse', 2.3804761428476167)])
def test_regression_metrics_broadcast_labels_as_mxnet(name, value):
    # MXNet 1.9.1: labels (2, 1) or (2,) against predictions (2, 3), and the reverse
    pred = nd.array([[1, 2, 3], [4, 5, 6]])
    for label in (nd.array([[1], [2]]), nd.array([1, 2])):
        metric = M.create(name)
        metric.update([label], [pred])
        assert metric.get()[1] == pytest.approx(value, rel=1e-6)
    metric = M.create(name)
    metric.update([pred], [nd.array([[1], [2]])])
    assert metric.get()[1] == pytest.approx(value, rel=1e-6)
    with pytest.raises(ValueError, match='broadcast'):                # MXNet: ValueError
        M.create(name).update([nd.array([1, 2, 3])], [nd.array([1, 2])])


def test_update_dict_picks_names():
    acc = M.Accuracy(output_names=['out'], label_names=['y'])
    acc.update_dict({'y': nd.array([1, 0]), 'other': nd.array([0, 0])},
                    {'out': nd.array([[0.1, 0.9], [0.2, 0.8]])})
    assert acc.get() == ('accuracy', 0.5)


def test_create_knows_every_mxnet_name():
    # MXNet 1.9.1's metric registry
    names = ['acc', 'accuracy', 'caffe', 'ce', 'composite', 'compositeevalmetric',
             'crossentropy', 'custommetric', 'f1', 'loss', 'mae', 'mcc', 'mse',
             'negativeloglikelihood', 'nll_loss', 'pcc', 'pearsoncorrelation',
             'pearsonr', 'perplexity', 'rmse', 'top_k_acc', 'top_k_accuracy',
             'topkaccuracy', 'torch']
    assert set(names) <= set(M._METRICS)
    assert type(M.create('pearsonr')).__name__ == 'PearsonCorrelation'
    assert type(M.create('NLL_LOSS')).__name__ == 'NegativeLogLikelihood'


def test_alias_adds_names():
    @M.alias('my_acc', 'Other_Acc')
    class MyAccuracy(M.Accuracy):
        pass

    try:
        assert type(M.create('my_acc')) is MyAccuracy
        assert type(M.create('other_acc')) is MyAccuracy
    finally:
        M._METRICS.pop('my_acc')
        M._METRICS.pop('other_acc')
