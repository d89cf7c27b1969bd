"""Bad input to the Gluon side gets a clear error of MXNet's class (issues 15 and 10 §4).

Every example of the issues is a test here, with MXNet 1.9.1's outcome in a comment:
the error class (minimx's error is an `MXNetError` *and* that built-in class, so
MXNet code that catches `ValueError` or `AssertionError` keeps working) and a phrase
of the message. A hypothesis property test then feeds bad arguments to the
constructors and entry points of Chapters 4 to 8 and asserts that every error is an
`MXNetError` naming the object, never a raw exception from inside minimx.
"""

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import nn

pytestmark = pytest.mark.ch07


def leaf(values):
    x = nd.array(values)
    x.attach_grad()
    return x


def one_step(optimizer_params, grad=(5.0, -5.0, 0.5)):
    """One SGD step of lr 1 on a zero weight whose gradient is `grad`."""
    p = gluon.Parameter('w', shape=(3,))
    p.initialize(mx.init.Zero())
    trainer = gluon.Trainer([p], 'sgd', dict(learning_rate=1.0, **optimizer_params))
    with autograd.record():
        y = (p.data() * nd.array(grad)).sum()
    y.backward()
    trainer.step(1)
    return p.data().asnumpy()


# ------------------------------------------------------------------- the Trainer

@pytest.mark.parametrize('clip', [-1.0, 0.0])
def test_clip_gradient_of_zero_or_less_means_no_clipping(clip):
    # MXNet 1.9.1 (sgd, nag, adam, rmsprop): the same update as without clip_gradient
    assert_allclose(one_step({'clip_gradient': clip}), [-5.0, 5.0, -0.5])
    assert_allclose(one_step({'clip_gradient': 1.0}), [-1.0, 1.0, -0.5])


@pytest.mark.parametrize('name', ['sgd', 'nag', 'adam', 'rmsprop', 'adagrad'])
def test_clip_gradient_minus_one_equals_no_clipping_for_every_optimizer(name):
    def run(params):
        p = gluon.Parameter('w', shape=(3,))
        p.initialize(mx.init.Zero())
        trainer = gluon.Trainer([p], name, dict(learning_rate=1.0, **params))
        with autograd.record():
            y = (p.data() * nd.array([5.0, -5.0, 0.5])).sum()
        y.backward()
        trainer.step(1)
        return p.data().asnumpy()
    assert_allclose(run({'clip_gradient': -1.0}), run({}))


def test_step_zero_is_a_clear_error_of_both_classes():
    # MXNet 1.9.1: ZeroDivisionError 'float division by zero'
    with pytest.raises(ZeroDivisionError, match=r'Trainer.step: batch_size must be '
                                                r'positive, got 0'):
        _step_with(0)
    with pytest.raises(ValueError):
        _step_with(0)
    with pytest.raises(MXNetError):
        _step_with(-2)                 # MXNet computes a gradient *ascent* silently
    with pytest.raises(TypeError, match='batch_size must be a number'):
        _step_with('4')                # MXNet: TypeError from the division
    with pytest.raises(TypeError):
        _step_with(None)
    _step_with(0.5)                    # a float batch size works, as in MXNet


def _step_with(batch_size):
    p = gluon.Parameter('w', shape=(3,))
    p.initialize(mx.init.One())
    trainer = gluon.Trainer([p], 'sgd')
    with autograd.record():
        y = (p.data() * 2).sum()
    y.backward()
    trainer.step(batch_size)


def test_a_string_learning_rate_is_refused_at_construction():
    # MXNet 1.9.1 accepts it and fails only inside the first update
    with pytest.raises(TypeError, match=r"SGD: learning_rate must be a number, got '0.1'"):
        gluon.Trainer([gluon.Parameter('w', shape=(1,))], 'sgd', {'learning_rate': '0.1'})
    with pytest.raises(MXNetError):
        mx.optimizer.Adam(learning_rate='0.1')


def test_a_single_parameter_is_a_value_error_with_mxnets_message():
    p = gluon.Parameter('w', shape=(1,))
    # MXNet 1.9.1: ValueError 'First argument must be a list or dict of Parameters, ...'
    with pytest.raises(ValueError, match='First argument must be a list or dict of '
                                         "Parameters, got the single Parameter 'w'"):
        gluon.Trainer(p, 'sgd')
    with pytest.raises(MXNetError):
        gluon.Trainer(p, 'sgd')
    with pytest.raises(ValueError, match='First argument must be a list or dict'):
        gluon.Trainer(['w'], 'sgd')


def test_set_learning_rate_with_a_scheduler_is_mxnets_user_warning():
    sched = mx.lr_scheduler.FactorScheduler(step=2, base_lr=0.1)
    trainer = gluon.Trainer([gluon.Parameter('w', shape=(1,))], 'sgd',
                            {'lr_scheduler': sched})
    # MXNet 1.9.1: raise UserWarning('LRScheduler of the optimizer has already been
    # defined. ...')
    with pytest.raises(UserWarning, match='LRScheduler of the optimizer has already been '
                                          'defined'):
        trainer.set_learning_rate(0.5)
    assert trainer.learning_rate == 0.1


def test_a_schedulers_base_lr_is_the_rate_when_none_is_given():
    # MXNet 1.9.1: 1024 (issue 10 §3)
    sched = mx.lr_scheduler.FactorScheduler(step=1, base_lr=1024)
    assert mx.optimizer.SGD(lr_scheduler=sched).learning_rate == 1024
    assert mx.optimizer.SGD().learning_rate == 0.01


def test_trainer_numbers_a_dicts_parameters_by_name():
    # MXNet 1.9.1 sorts the keys of a dict / ParameterDict before numbering them
    net = nn.HybridSequential(prefix='order_')
    with net.name_scope():
        net.add(nn.Dense(2, in_units=2, prefix='b_'), nn.Dense(2, in_units=2, prefix='a_'))
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd')
    assert [p.name for p in trainer._params] == ['order_a_bias', 'order_a_weight',
                                                 'order_b_bias', 'order_b_weight']
    with pytest.raises(UserWarning, match="'order_a_bias'"):   # the first stale, by name
        trainer.step(1)


def test_a_step_with_a_forgotten_graph_alive_is_allowed():
    net = nn.Dense(2, in_units=2)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    x = nd.ones((1, 2))
    with autograd.record():
        demo = net(x).sum()             # a demo output nobody calls backward on
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    trainer.step(1)                     # MXNet allows it; so does minimx
    # MXNet 1.9.1 fails the later backward too (with an internal message); minimx says why
    with pytest.raises(MXNetError, match=r'FullyConnected saved for this graph was '
                                         r'changed in place after it was recorded'):
        demo.backward()


def test_backward_through_a_weight_updated_in_place_names_the_fix():
    w = leaf([1.0, 2.0])
    with autograd.record():
        y = (w * w).sum()
    w[:] = 0                            # MXNet: allowed, and x.grad is computed from 0s
    with pytest.raises(MXNetError, match=r'Call backward\(\) before updating'):
        y.backward()


# ------------------------------------------------------------------- autograd

def test_relu_gradient_propagates_nan():
    # MXNet 1.9.1: nd.relu([nan, 1, -1]) -> grad [nan, 1, 0]
    x = leaf([np.nan, 1.0, -1.0])
    with autograd.record():
        y = nd.relu(x)
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [np.nan, 1.0, 0.0])
    x = leaf([np.inf, -np.inf, 0.0])
    with autograd.record():
        y = nd.relu(x)
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [1.0, 0.0, 0.0])


def test_autograd_entry_points_refuse_what_is_not_an_ndarray():
    # MXNet 1.9.1: AttributeError "'numpy.ndarray' object has no attribute 'handle'"
    x = leaf([1.0, 2.0])
    with autograd.record():
        y = x * 2
    with pytest.raises(TypeError, match='backward: head gradient 0 is a ndarray'):
        autograd.backward([y], [np.ones(2)])
    with pytest.raises(TypeError, match='grad: variable 0 is a ndarray'):
        autograd.grad(y, [np.ones(2)])
    with pytest.raises(TypeError, match='mark_variables: variable 0 is a list'):
        autograd.mark_variables([[1.0]], [nd.ones(1)])
    with pytest.raises(MXNetError, match='backward: head 0 is a ndarray'):
        autograd.backward([np.ones(2)])


def test_a_container_refuses_a_child_that_is_not_a_block():
    # MXNet 1.9.1: AttributeError "'int' object has no attribute 'collect_params'" later
    with pytest.raises(TypeError, match=r'Sequential: a child must be a Block .* got int'):
        nn.Sequential().add(3)


# ------------------------------------------------------------------- layers

@pytest.mark.parametrize('make', [
    lambda: nn.MaxPool2D(pool_size=2, strides=1, padding=2),
    lambda: nn.AvgPool2D(pool_size=2, strides=1, padding=3),
    lambda: nn.MaxPool2D(pool_size=(3, 2), padding=(1, 2)),
])
def test_pooling_padding_must_be_smaller_than_the_window(make):
    # MXNet 1.9.1: MXNetError 'Check failed: pad_l[0] < kernel[0]' (at the first forward)
    with pytest.raises(ValueError, match=r'must be smaller than pool_size.*pad < kernel'):
        make()


@pytest.mark.parametrize('make, error, phrase', [
    (lambda: nn.MaxPool2D(strides=0), ValueError, 'strides must be at least 1'),
    (lambda: nn.MaxPool2D(pool_size=0), ValueError, 'pool_size must be at least 1'),
    (lambda: nn.MaxPool2D(pool_size=2.5), TypeError, 'pool_size must be an int'),
    (lambda: nn.MaxPool2D(pool_size=(2, 2, 2)), AssertionError,
     'pool_size must be a number or a list of 2 ints'),
    (lambda: nn.MaxPool2D(layout='XYZW'), AssertionError, 'only the layouts'),
    (lambda: nn.Conv2D(4, 3, groups=0), ValueError, 'groups must be at least 1'),
    (lambda: nn.Conv2D(4, 3, strides=(-1, -1)), ValueError, 'strides must be at least 1'),
    (lambda: nn.Conv2D(4, 3, strides=(2.5, 1)), TypeError, 'strides must hold integers'),
    (lambda: nn.Conv2D(4, 0), ValueError, 'kernel_size must be at least 1'),
    (lambda: nn.Conv2D(4, 3, padding=-1), ValueError, 'padding must be at least 0'),
    (lambda: nn.Conv2D(4, 3, padding=1.5), TypeError, 'padding must be an int'),
    (lambda: nn.Conv2D(4, 3, dilation=0), ValueError, 'dilation must be at least 1'),
    (lambda: nn.Conv2D(0, 3), ValueError, 'channels must be at least 1'),
    (lambda: nn.Conv2D(3, 1, groups=2), ValueError, 'num_filter must divide group size'),
    (lambda: nn.Conv2D(4, 1, groups=2, in_channels=3), ValueError, 'in_channels=3'),
    (lambda: nn.Dense(0), ValueError, 'units must be at least 1'),
    (lambda: nn.Dense(2.5), TypeError, 'units must be an integer'),
    (lambda: nn.Dense('3'), TypeError, 'units must be an integer'),
    (lambda: nn.Dense(3, activation='rleu'), ValueError, "activation must be one of"),
    (lambda: nn.Dense(3, dtype='foo'), TypeError, 'one of the dtypes MXNet supports'),
    (lambda: nn.Dense(3, in_units=-1), ValueError, 'in_units must be at least 0'),
    (lambda: nn.Dropout(1.5), ValueError, r'rate must be in \[0, 1\]'),
    (lambda: nn.Dropout(-0.5), ValueError, 'rate must be'),
    (lambda: nn.Embedding(0, 3), ValueError, 'input_dim must be at least 1'),
    (lambda: nn.LeakyReLU(-1), AssertionError, 'alpha must be at least 0'),
    (lambda: nn.Activation('swish'), ValueError, 'activation must be one of'),
    (lambda: nn.BatchNorm(axis=1.5), TypeError, 'axis must be an integer'),
    (lambda: nn.Lambda(3), ValueError, 'expects a callable'),
    (lambda: nn.Lambda('nosuchfunction'), AssertionError, 'has no function'),
])
def test_layer_constructors_check_their_arguments(make, error, phrase):
    with pytest.raises(error, match=phrase) as info:
        make()
    assert isinstance(info.value, MXNetError)
    assert re.match(r'[A-Z]\w+: ', str(info.value))      # it names the layer first


def test_batchnorm_axis_out_of_range_names_the_layer_the_axis_and_the_ndim():
    # MXNet 1.9.1: ValueError 'Deferred initialization failed ... Channel axis out of
    # range: 4'
    bn = nn.BatchNorm(axis=4)
    bn.initialize()
    with pytest.raises(ValueError, match=r'batchnorm\d+: BatchNorm: axis=4 is out of '
                                         r'range .* shape \(1, 1, 4, 4\), which has 4 '
                                         r'dimensions'):
        bn(nd.ones((1, 1, 4, 4)))
    bn = nn.BatchNorm(axis=-5, in_channels=1)
    bn.initialize()
    with pytest.raises(MXNetError, match='axis=-5'):
        bn(nd.ones((1, 1, 4, 4)))


@pytest.mark.parametrize('bad', [np.ones((1, 3)), [[1.0, 2.0, 3.0]], None, 3.0])
def test_a_block_called_without_an_ndarray_is_a_value_error(bad):
    # MXNet 1.9.1: ValueError 'In HybridBlock, there must be one NDArray or one Symbol
    # in the input.'
    net = nn.Dense(2, in_units=3)
    net.initialize()
    with pytest.raises(ValueError, match=r'dense\d+: Dense: In HybridBlock, there must '
                                         r'be one NDArray in the input'):
        net(bad)
    seq = nn.Sequential()
    seq.add(nn.Dense(2, in_units=3))
    seq.initialize()
    with pytest.raises(MXNetError, match=r'sequential\d+ > dense\d+: Dense: '):
        seq(bad)                       # the path names both blocks


def test_a_hybrid_block_finds_its_context_in_a_list_or_after_a_none():
    class _Add(gluon.HybridBlock):
        def hybrid_forward(self, F, x, y=None):
            if isinstance(x, list):
                x, y = x
            return x if y is None else x + y
    add = _Add()
    assert_array_equal(add([nd.ones(2), nd.ones(2)]).asnumpy(), [2, 2])
    assert_array_equal(add(nd.ones(2), None).asnumpy(), [1, 1])


def test_an_error_keeps_its_class_on_its_way_up_the_blocks():
    net = nn.Sequential()
    net.add(nn.BatchNorm(axis=7))
    net.initialize()
    with pytest.raises(ValueError) as info:
        net(nd.ones((2, 3)))
    assert isinstance(info.value, MXNetError)
    assert str(info.value).startswith(f'{net.name} > {net[0].name}: BatchNorm: axis=7')


# ------------------------------------------------------------------- losses

@pytest.mark.parametrize('loss', [gluon.loss.L2Loss(), gluon.loss.L1Loss(),
                                  gluon.loss.SoftmaxCrossEntropyLoss(),
                                  gluon.loss.SigmoidBCELoss(), gluon.loss.KLDivLoss(),
                                  gluon.loss.HuberLoss(), gluon.loss.HingeLoss()])
@pytest.mark.parametrize('label', [[0, 1], np.array([0.0, 1.0]), None])
def test_a_loss_given_a_label_that_is_not_an_ndarray(loss, label):
    # MXNet 1.9.1: AttributeError "'list' object has no attribute 'reshape'" (most),
    # AssertionError 'Argument index must have NDArray type' (softmax cross-entropy)
    with pytest.raises(ValueError, match=rf'{type(loss).__name__}: label must be an '
                                         r'NDArray, got \w+\. Convert it first'):
        loss(nd.ones((2, 2)), label)


def test_a_loss_keeps_optional_inputs_optional():
    l2 = gluon.loss.L2Loss()
    assert l2(nd.ones((2, 3)), nd.zeros((2, 3)), None).shape == (2,)
    with pytest.raises(ValueError, match='sample_weight must be an NDArray'):
        l2(nd.ones((2, 3)), nd.zeros((2, 3)), [1, 2])


def test_kldivloss_refuses_a_label_that_does_not_broadcast():
    # MXNet 1.9.1: MXNetError 'operands could not be broadcast together with shapes
    # [3,4] [4,3]'; minimx used to reshape the label silently
    with pytest.raises(ValueError, match=r"KLDivLoss: a label of shape \(3, 4\) does not "
                                         r"broadcast to the prediction's shape \(4, 3\)"):
        gluon.loss.KLDivLoss()(nd.ones((4, 3)), nd.ones((3, 4)))


def test_kldivloss_sums_over_the_classes_as_mxnet_computes_it():
    p = nd.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    q = nd.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])
    # MXNet 1.9.1 values, run there
    assert_allclose(gluon.loss.KLDivLoss()(nd.log(p), q).asnumpy(),
                    [0.08512279, 0.23671237], rtol=1e-5)
    assert_allclose(gluon.loss.KLDivLoss(from_logits=False)(p, q).asnumpy(),
                    [0.20801523, 0.03438509], rtol=1e-4)
    assert_allclose(gluon.loss.KLDivLoss()(nd.log(nd.array([[0.5, 0.5]])),
                                           nd.array([[0.9, 0.1]])).asnumpy(),
                    [0.3680641], rtol=1e-5)
    assert_allclose(gluon.loss.KLDivLoss()(nd.log(nd.array([0.5, 0.5])),
                                           nd.array([0.9, 0.1])).asnumpy(),
                    [0.5290079, -0.16094379], rtol=1e-5)


def test_loss_arguments():
    with pytest.raises(AssertionError, match='L1Loss: weight must be a number'):
        gluon.loss.L1Loss(weight='a')  # MXNet 1.9.1: AssertionError 'weight must be a number'
    with pytest.raises(ValueError, match='HuberLoss: rho must be greater than 0'):
        gluon.loss.HuberLoss(rho=0)    # MXNet 1.9.1: ZeroDivisionError at the first call
    with pytest.raises(ValueError, match="label_format must be one of 'signed'"):
        gluon.loss.LogisticLoss(label_format='onehot')   # MXNet: ValueError
    with pytest.raises(TypeError, match='batch_axis must be an integer'):
        gluon.loss.L2Loss(batch_axis=0.5)


# ------------------------------------------------------------------- initializers

@pytest.mark.parametrize('make, error, phrase', [
    (lambda: mx.init.Normal(-1), ValueError, 'sigma must be greater than 0'),
    (lambda: mx.init.Normal(0), ValueError, 'sigma must be greater than 0'),
    (lambda: mx.init.Normal('a'), TypeError, 'sigma must be a number'),
    (lambda: mx.init.Uniform(-1), ValueError, 'scale must be at least 0'),
    (lambda: mx.init.Constant('a'), TypeError, 'value must be a number'),
    (lambda: mx.init.Xavier(rnd_type='foo'), ValueError, 'rnd_type must be one of'),
    (lambda: mx.init.Xavier(factor_type='foo'), ValueError, 'factor_type must be one of'),
    (lambda: mx.init.Xavier(magnitude=-1), ValueError, 'magnitude must be greater'),
    (lambda: mx.init.MSRAPrelu(slope='a'), TypeError, 'slope must be a number'),
    (lambda: mx.init.create('foo'), AssertionError, 'is not registered'),
    (lambda: mx.init.Uniform()('w_weight', np.ones(3)), TypeError, 'expects an NDArray'),
    (lambda: mx.init.Uniform()('foo', nd.ones(3)), ValueError, 'does not know how'),
])
def test_initializer_arguments(make, error, phrase):
    # MXNet 1.9.1 refuses Normal(sigma <= 0) and Uniform(scale < 0) when it draws
    # ('scale parameter in gaussian has to be positive'); create('foo') asserts
    with pytest.raises(error, match=phrase) as info:
        make()
    assert isinstance(info.value, MXNetError)


# ------------------------------------------------------------------- persistence

def test_load_parameters_missing_names_and_shape_mismatch_are_assertion_errors(tmp_path):
    net = nn.Dense(3, in_units=2, prefix='saved_')
    net.initialize()
    path = str(tmp_path / 'dense.params')
    net.save_parameters(path)
    bigger = nn.HybridSequential()
    bigger.add(nn.Dense(3, in_units=2), nn.Dense(3, in_units=3))
    # MXNet 1.9.1: AssertionError "Parameter ... is missing in file" / "... not present"
    with pytest.raises(AssertionError, match='missing'):
        bigger.load_parameters(path)
    wider = nn.Dense(4, in_units=2)
    # MXNet 1.9.1: AssertionError "... shape incompatible expected (4, 2) vs saved (3, 2)"
    with pytest.raises(AssertionError, match=r'incompatible with its shape \(4, 2\)') as info:
        wider.load_parameters(path)
    assert isinstance(info.value, MXNetError)
    with pytest.raises(AssertionError, match='missing'):
        nn.Dense(3, in_units=2, prefix='other_').collect_params().load(path)


def test_set_data_with_a_wrong_shape_is_an_assertion_error():
    p = gluon.Parameter('w', shape=(2, 3))
    p.initialize()
    # MXNet 1.9.1: AssertionError 'Expected shape (3, 2) is incompatible with given ...'
    with pytest.raises(AssertionError, match=r'incompatible with the parameter.s shape'):
        p.set_data(nd.ones((3, 2)))
    with pytest.raises(MXNetError):
        p.set_data(nd.ones((1, 3)))


def test_parameter_constructor_arguments():
    with pytest.raises(AssertionError, match="grad_req must be 'write', 'add' or 'null'"):
        gluon.Parameter('w', grad_req='foo')       # MXNet: AssertionError
    with pytest.raises(TypeError, match='shape must be an int or a tuple of ints'):
        gluon.Parameter('w', shape=(2.5, 3))       # MXNet accepts it, fails later
    with pytest.raises(ValueError, match='negative dimension'):
        gluon.Parameter('w', shape=(-1, 3))
    with pytest.raises(TypeError, match="Parameter 'w': .* dtypes MXNet supports"):
        gluon.Parameter('w', dtype='foo')
    with pytest.raises(TypeError, match='lr_mult must be a number'):
        gluon.Parameter('w', lr_mult='a')


def test_uneven_split_and_load_is_a_value_error():
    # MXNet 1.9.1: ValueError 'data with shape (5, 2) cannot be evenly split into 2
    # slices along axis 0. ...'
    with pytest.raises(ValueError, match=r'cannot be split evenly into 2 parts'):
        gluon.utils.split_and_load(nd.ones((5, 2)), [mx.cpu(0), mx.cpu(1)])
    parts = gluon.utils.split_and_load(nd.ones((5, 2)), [mx.cpu(0), mx.cpu(1)],
                                       even_split=False)
    assert [p.shape for p in parts] == [(3, 2), (2, 2)]
    with pytest.raises(ValueError, match='ctx_list must be a non-empty list'):
        gluon.utils.split_and_load(nd.ones((4, 2)), [])
    with pytest.raises(ValueError, match='batch_axis=5 is out of range'):
        gluon.utils.split_data(nd.ones((4, 2)), 2, batch_axis=5)
    with pytest.raises(AssertionError, match='non-empty list'):
        gluon.utils.clip_global_norm([], 1.0)      # MXNet: AssertionError


# ------------------------------------------------------------------- data

@pytest.mark.parametrize('kwargs, error, phrase', [
    ({'batch_size': 0}, ValueError, 'batch_size must be at least 1'),
    ({'batch_size': -1}, ValueError, 'batch_size must be at least 1'),
    ({'batch_size': 2.5}, TypeError, 'batch_size must be an integer'),
    ({}, ValueError, 'batch_size must be specified'),
    ({'batch_size': 3, 'last_batch': 'pad'}, ValueError, 'last_batch must be one of'),
    ({'batch_size': 3, 'num_workers': 1.5}, TypeError, 'num_workers must be an integer'),
    ({'batch_size': 3, 'timeout': 0}, AssertionError, 'timeout must be greater than 0'),
    ({'batch_size': 3, 'batchify_fn': 3}, TypeError, 'batchify_fn must be callable'),
    ({'batch_size': 3, 'shuffle': True, 'sampler': gluon.data.SequentialSampler(10)},
     ValueError, 'shuffle=True conflicts with sampler'),
])
def test_dataloader_arguments(kwargs, error, phrase):
    # MXNet 1.9.1: batch_size 0 -> ZeroDivisionError, -1 -> ValueError, 2.5 -> TypeError
    # (at the first epoch); no batch_size -> ValueError 'batch_size must be specified';
    # last_batch 'pad' -> ValueError; timeout 0 -> AssertionError
    dataset = gluon.data.ArrayDataset(np.arange(10), np.arange(10))
    with pytest.raises(error, match=phrase) as info:
        gluon.data.DataLoader(dataset, **kwargs)
    assert isinstance(info.value, MXNetError)


def test_negative_num_workers_mean_none_as_in_mxnet():
    dataset = gluon.data.ArrayDataset(np.arange(10))
    loader = gluon.data.DataLoader(dataset, batch_size=4, num_workers=-1)
    assert [b.shape[0] for b in loader] == [4, 4, 2]


@pytest.mark.parametrize('make, error, phrase', [
    (lambda: gluon.data.SequentialSampler(-1), ValueError, 'length must be at least 0'),
    (lambda: gluon.data.RandomSampler(2.5), TypeError, 'length must be an integer'),
    (lambda: gluon.data.BatchSampler(10, 3), TypeError, 'sampler must be an iterable'),
    (lambda: gluon.data.ArrayDataset(), AssertionError, 'needs at least one array'),
    (lambda: gluon.data.ArrayDataset(np.ones(3), np.ones(4)), AssertionError,
     'same length'),
    (lambda: gluon.data.SimpleDataset(3), TypeError, 'must have a length'),
    (lambda: gluon.data.SimpleDataset([1, 2]).take(-1), ValueError, 'count must be at'),
    (lambda: gluon.data.SimpleDataset([1, 2]).filter(3), TypeError, 'fn must be callable'),
    (lambda: gluon.data.SimpleDataset([1, 2]).transform_first(3), TypeError,
     'fn must be callable'),
])
def test_samplers_and_datasets_check_their_arguments(make, error, phrase):
    with pytest.raises(error, match=phrase) as info:
        make()
    assert isinstance(info.value, MXNetError)


# ------------------------------------------------------------------- optimizers, schedulers

@pytest.mark.parametrize('make, error, phrase', [
    (lambda: mx.optimizer.SGD(momentum='a'), TypeError, 'momentum must be a number'),
    (lambda: mx.optimizer.SGD(wd='a'), TypeError, 'wd must be a number'),
    (lambda: mx.optimizer.SGD(lr_scheduler=3), TypeError, 'lr_scheduler must be'),
    (lambda: mx.optimizer.SGD(foo=1), TypeError, r"unknown argument\(s\) \['foo'\]"),
    (lambda: mx.optimizer.Adam(beta1='a'), TypeError, 'beta1 must be a number'),
    (lambda: mx.lr_scheduler.FactorScheduler(step=0), ValueError, 'step must be at least 1'),
    (lambda: mx.lr_scheduler.FactorScheduler(step=2.5), TypeError, 'step must be an int'),
    (lambda: mx.lr_scheduler.FactorScheduler(step=2, factor=2), ValueError,
     'factor must be at most 1'),
    (lambda: mx.lr_scheduler.MultiFactorScheduler(step=3), ValueError, 'non-empty list'),
    (lambda: mx.lr_scheduler.MultiFactorScheduler(step=[3, 2]), ValueError, 'increasing'),
    (lambda: mx.lr_scheduler.CosineScheduler(max_update=0), ValueError,
     'max_update must be at least 1'),
    (lambda: mx.lr_scheduler.FactorScheduler(step=2, warmup_steps=-1), ValueError,
     'warmup_steps must be at least 0'),
])
def test_optimizer_and_scheduler_arguments(make, error, phrase):
    with pytest.raises(error, match=phrase) as info:
        make()
    assert isinstance(info.value, MXNetError)


def test_kvstore_refuses_values_of_another_shape():
    kv = mx.kv.create('local')
    kv.init(3, nd.zeros(2))
    with pytest.raises(ValueError, match=r'key 3 holds shape \(2,\), but the array given '
                                         r'has shape \(3,\)'):
        kv.pull(3, out=nd.zeros(3))
    with pytest.raises(AssertionError, match='must be an NDArray'):
        kv.init(4, np.ones(2))                     # MXNet: AssertionError


# ------------------------------------------------------------------- property test

BAD = st.one_of(st.integers(-3, 8), st.floats(allow_nan=True, allow_infinity=True),
                st.sampled_from(['', 'a', 'relu', 'NCHW', 'keep', 'uniform']),
                st.none(), st.booleans(), st.lists(st.integers(-2, 4), max_size=4).map(tuple),
                st.lists(st.integers(-2, 4), max_size=3))

# (the object the message must name, the constructor, valid values of the arguments it
# gets; the test replaces some of them with bad ones)
ENTRY_POINTS = [
    ('Dense', nn.Dense, dict(units=2, activation='relu', in_units=0)),
    ('Conv2D', nn.Conv2D, dict(channels=2, kernel_size=3, strides=1, padding=0,
                               dilation=1, groups=1)),
    ('MaxPool2D', nn.MaxPool2D, dict(pool_size=2, strides=None, padding=0)),
    ('AvgPool2D', nn.AvgPool2D, dict(pool_size=2, strides=None, padding=0)),
    ('BatchNorm', nn.BatchNorm, dict(axis=1, momentum=0.9, epsilon=1e-5)),
    ('Dropout', nn.Dropout, dict(rate=0.5)),
    ('Embedding', nn.Embedding, dict(input_dim=4, output_dim=2)),
    ('LeakyReLU', nn.LeakyReLU, dict(alpha=0.1)),
    ('Activation', nn.Activation, dict(activation='relu')),
    ('HuberLoss', gluon.loss.HuberLoss, dict(rho=1.0, weight=None, batch_axis=0)),
    ('LogisticLoss', gluon.loss.LogisticLoss, dict(label_format='signed')),
    ('Normal', mx.init.Normal, dict(sigma=0.1)),
    ('Uniform', mx.init.Uniform, dict(scale=0.1)),
    ('Xavier', mx.init.Xavier, dict(rnd_type='uniform', factor_type='avg', magnitude=3)),
    ('SGD', mx.optimizer.SGD, dict(learning_rate=0.1, momentum=0.9, wd=0.0,
                                   clip_gradient=None)),
    ('Adam', mx.optimizer.Adam, dict(learning_rate=0.1, beta1=0.9, beta2=0.999,
                                     epsilon=1e-8)),
    ('FactorScheduler', mx.lr_scheduler.FactorScheduler, dict(step=2, factor=0.5)),
    ('CosineScheduler', mx.lr_scheduler.CosineScheduler, dict(max_update=5)),
    ('SequentialSampler', gluon.data.SequentialSampler, dict(length=3)),
    ('RandomSampler', gluon.data.RandomSampler, dict(length=3)),
    ('BatchSampler', lambda **kw: gluon.data.BatchSampler(range(5), **kw),
     dict(batch_size=2, last_batch='keep')),
    ('DataLoader', lambda **kw: gluon.data.DataLoader([1, 2, 3], **kw),
     dict(batch_size=2, last_batch='keep', num_workers=0, timeout=120)),
    ("Parameter 'p'", lambda **kw: gluon.Parameter('p', **kw),
     dict(shape=(2, 3), grad_req='write', lr_mult=1.0)),
    ('split_data', lambda **kw: gluon.utils.split_data(nd.ones((4, 2)), **kw),
     dict(num_slice=2, batch_axis=0)),
    ('Trainer.step', lambda batch_size: _step_with(batch_size), dict(batch_size=4)),
    ('L2Loss', lambda pred, label: gluon.loss.L2Loss()(pred, label),
     dict(pred=nd.ones((2, 3)), label=nd.zeros((2, 3)))),
    ('SoftmaxCrossEntropyLoss',
     lambda pred, label: gluon.loss.SoftmaxCrossEntropyLoss()(pred, label),
     dict(pred=nd.ones((2, 3)), label=nd.zeros((2,)))),
    ('Dense', lambda x: _initialized_dense()(x), dict(x=nd.ones((1, 3)))),
]


def _initialized_dense():
    net = nn.Dense(2, in_units=3)
    net.initialize()
    return net

# What MXNet itself raises for bad arguments: an MXNetError, or one of these.
MXNET_CLASSES = (MXNetError, ValueError, TypeError, AssertionError, IndexError,
                 UserWarning)


def _exercise(obj):
    """Use what was built, so that errors deferred to the first use show up too."""
    if isinstance(obj, gluon.loss.Loss):
        obj(nd.ones((2, 3)), nd.zeros((2, 3)))
    elif isinstance(obj, gluon.HybridBlock):
        obj.initialize()
        x = nd.ones((2, 3)) if isinstance(obj, (nn.Dense, nn.Activation, nn.Dropout,
                                                 nn.LeakyReLU, nn.Embedding)) \
            else nd.ones((1, 2, 6, 6))
        with autograd.record():
            obj(x)
    elif isinstance(obj, mx.optimizer.Optimizer):
        w = nd.ones(3)
        obj.update(0, w, nd.ones(3), obj.create_state(0, w))
    elif isinstance(obj, mx.lr_scheduler.LRScheduler):
        obj(3)
    elif isinstance(obj, gluon.data.Sampler) or isinstance(obj, gluon.data.DataLoader):
        list(obj)
    elif isinstance(obj, mx.init.Initializer):
        obj('p_weight', nd.zeros((3, 4)))
    elif isinstance(obj, gluon.Parameter):
        obj.initialize()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_bad_arguments_get_errors_of_mxnets_class_that_name_the_object(data):
    owner, make, valid = data.draw(st.sampled_from(ENTRY_POINTS), label='entry point')
    bad = data.draw(st.lists(st.sampled_from(sorted(valid)), min_size=1, unique=True),
                    label='replaced')
    kwargs = {**valid, **{name: data.draw(BAD, label=name) for name in bad}}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            _exercise(make(**kwargs))
        except MXNET_CLASSES as err:
            assert isinstance(err, MXNetError), \
                f'{owner}({kwargs}): a raw {type(err).__name__}: {err}'
            message = str(err)
            assert owner in message or owner.lower() in message.lower() or any(
                op in message for op in ('Convolution', 'Pooling', 'FullyConnected',
                                         'Dropout', 'Embedding', 'LeakyReLU')), \
                f'{owner}({kwargs}): the message does not name it: {message}'
