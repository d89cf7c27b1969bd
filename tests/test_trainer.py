"""Chapter 5: KVStore, gluon.Trainer (single and multi-context), trainer states, safe files."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, gluon, nd
from minimx import lr_scheduler as lrs
from minimx import optimizer as opt
from minimx.base import MXNetError
from minimx.gluon import Parameter, nn
from minimx.gluon import block as block_module
from minimx.ndarray.serialization import load_arrays, save_arrays

pytestmark = pytest.mark.ch07

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


def make_dense(ctx=None, units=2, in_units=3, seed=0):
    """A Dense layer with known weights, on `ctx` (a context or a list of them)."""
    net = nn.Dense(units, in_units=in_units)
    net.initialize(ctx=ctx if ctx is not None else mx.cpu(0))
    r = np.random.default_rng(seed)
    net.weight.set_data(nd.array(r.normal(size=(units, in_units))))
    net.bias.set_data(nd.array(r.normal(size=(units,))))
    return net


def batch(seed=1, n=4, in_units=3, units=2):
    r = np.random.default_rng(seed)
    return (r.normal(size=(n, in_units)).astype(np.float32),
            r.normal(size=(n, units)).astype(np.float32))


def forward_backward(net, x, y, ctx=None):
    loss_fn = gluon.loss.L2Loss()
    with autograd.record():
        loss = loss_fn(net(nd.array(x, ctx=ctx)), nd.array(y, ctx=ctx))
    loss.backward()


def weights(net):
    return [p.data(p.list_ctx()[0]).asnumpy().copy() for p in net.collect_params().values()]


# ============================================================================ KVStore

def test_create_local_and_device():
    for kind in ('local', 'device'):
        kv = mx.kv.create(kind)
        assert kv.type == kind and kv.rank == 0 and kv.num_workers == 1


def test_unknown_kvstore_kind_is_refused_with_the_choices():
    with pytest.raises(MXNetError, match=r"'nosuchstore'.*'local'.*'device'"):
        mx.kv.create('nosuchstore')


def test_push_sums_across_devices_and_pull_copies_to_each():
    kv = mx.kv.create('device')
    kv.init(3, nd.zeros((2, 2)))
    a = nd.array([[1.0, 2.0], [3.0, 4.0]], ctx=mx.cpu(0))
    b = nd.array([[10.0, 20.0], [30.0, 40.0]], ctx=mx.cpu(1))
    kv.push(3, [a, b])
    outs = [nd.zeros((2, 2), ctx=mx.cpu(0)), nd.zeros((2, 2), ctx=mx.cpu(1))]
    kv.pull(3, out=outs)
    for o, ctx in zip(outs, [mx.cpu(0), mx.cpu(1)]):
        assert o.context == ctx
        assert_array_equal(o.asnumpy(), [[11.0, 22.0], [33.0, 44.0]])
    # a push replaces the stored value (no updater): it does not accumulate
    kv.push(3, nd.ones((2, 2)))
    kv.pull(3, out=outs[0])
    assert_array_equal(outs[0].asnumpy(), np.ones((2, 2)))


def test_init_stores_a_copy():
    kv = mx.kv.create('local')
    v = nd.array([1.0, 2.0])
    kv.init('w', v)
    v[:] = 0
    out = nd.zeros((2,))
    kv.pull('w', out=out)
    assert_array_equal(out.asnumpy(), [1.0, 2.0])


def test_lists_of_keys():
    kv = mx.kv.create('local')
    kv.init(['a', 'b'], [nd.zeros((2,)), nd.zeros((3,))])
    kv.push(['a', 'b'], [[nd.ones((2,)), nd.ones((2,), ctx=mx.cpu(1))],
                         [nd.array([1.0, 2.0, 3.0])]])
    oa, ob = nd.zeros((2,)), nd.zeros((3,))
    kv.pull(['a', 'b'], out=[oa, ob])
    assert_array_equal(oa.asnumpy(), [2.0, 2.0])
    assert_array_equal(ob.asnumpy(), [1.0, 2.0, 3.0])
    with pytest.raises(MXNetError, match=r'2 keys.*2 values'):
        kv.push(['a', 'b'], [nd.ones((2,))])


def test_pushpull_in_place_and_into_out():
    kv = mx.kv.create('device')
    kv.init(0, nd.zeros((3,)))
    g0, g1 = nd.array([1.0, 2.0, 3.0]), nd.array([0.5, 0.5, 0.5], ctx=mx.cpu(1))
    kv.pushpull(0, [g0, g1])
    assert_array_equal(g0.asnumpy(), [1.5, 2.5, 3.5])
    assert_array_equal(g1.asnumpy(), [1.5, 2.5, 3.5])
    assert g1.context == mx.cpu(1)
    out = nd.zeros((3,), ctx=mx.cpu(1))
    kv.pushpull(0, [nd.ones((3,)), nd.ones((3,))], out=out)
    assert_array_equal(out.asnumpy(), [2.0, 2.0, 2.0])


def test_uninitialised_key_is_named():
    kv = mx.kv.create('local')
    with pytest.raises(MXNetError, match=r"'missing'.*init"):
        kv.push('missing', nd.ones((1,)))
    with pytest.raises(MXNetError, match=r"'missing'.*init"):
        kv.pull('missing', out=nd.ones((1,)))


def test_set_optimizer_updates_the_stored_value_on_push():
    kv = mx.kv.create('local')
    kv.set_optimizer(opt.SGD(learning_rate=0.1, momentum=0.9))
    w0 = np.array([1.0, -1.0])
    kv.init(0, nd.array(w0))
    g0, g1 = np.array([1.0, 2.0]), np.array([3.0, -4.0])
    kv.push(0, [nd.array(g0), nd.array(g1, ctx=mx.cpu(1))])    # summed gradient (4, -2)
    out = nd.zeros((2,))
    kv.pull(0, out=out)
    g = g0 + g1
    assert_allclose(out.asnumpy(), w0 - 0.1 * g, rtol=1e-6)
    kv.push(0, [nd.array(g0), nd.array(g1, ctx=mx.cpu(1))])
    kv.pull(0, out=out)
    # the momentum state persists across pushes: v2 = 0.9 * (-0.1 g) - 0.1 g
    assert_allclose(out.asnumpy(), w0 - 0.29 * g, rtol=1e-6)


# ============================================================================ Trainer

def test_params_as_parameterdict_dict_or_list_step_alike():
    x, y = batch()
    results = []
    for kind in ('ParameterDict', 'dict', 'list'):
        net = make_dense()
        params = net.collect_params()
        if kind == 'dict':
            params = dict(params.items())
        elif kind == 'list':
            params = list(params.values())
        trainer = gluon.Trainer(params, 'sgd', {'learning_rate': 0.5})
        forward_backward(net, x, y)
        trainer.step(4)
        results.append(weights(net))
    before = weights(make_dense())
    assert not np.allclose(results[0][0], before[0])          # something happened
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert_array_equal(a, b)


def test_a_single_parameter_must_be_wrapped():
    p = Parameter('lonely_weight', shape=(2,))
    with pytest.raises(MXNetError, match=r"lonely_weight.*\[param\]"):
        gluon.Trainer(p, 'sgd')


def test_non_parameters_are_refused():
    with pytest.raises(MXNetError, match=r'NDArray'):
        gluon.Trainer([nd.ones((2,))], 'sgd')
    with pytest.raises(MXNetError, match=r'int'):
        gluon.Trainer(3, 'sgd')


def test_step_equals_hand_written_sgd_scaled_by_batch_size():
    net = make_dense()
    W, b = net.weight.data().asnumpy().astype(np.float64), net.bias.data().asnumpy()
    x, y = batch(n=4)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.3})
    forward_backward(net, x, y)
    trainer.step(4)
    # sum over the batch of 0.5 * mean_j (o_ij - y_ij)^2  ->  dL/do = (o - y) / units
    out = x @ W.T + b
    d_out = (out - y) / 2
    grad_W, grad_b = d_out.T @ x, d_out.sum(axis=0)
    assert_allclose(net.weight.data().asnumpy(), W - 0.3 * grad_W / 4, rtol=1e-5, atol=1e-6)
    assert_allclose(net.bias.data().asnumpy(), b - 0.3 * grad_b / 4, rtol=1e-5, atol=1e-6)


def test_rescale_grad_in_optimizer_params_multiplies_one_over_batch_size():
    p = Parameter('w', shape=(2,))
    p.initialize(init=mx.init.Zero())
    trainer = gluon.Trainer([p], 'sgd', {'learning_rate': 1.0, 'rescale_grad': 0.5})
    with autograd.record():
        y = (p.data() * nd.array([2.0, 4.0])).sum()
    y.backward()
    trainer.step(2)
    assert_allclose(p.data().asnumpy(), [-0.5, -1.0])           # 1.0 * 0.5 / 2 * g
    assert trainer.optimizer.rescale_grad == 0.25


def test_rescale_grad_of_an_optimizer_object_is_kept():
    p = Parameter('w', shape=(2,))
    p.initialize(init=mx.init.Zero())
    trainer = gluon.Trainer([p], opt.SGD(learning_rate=1.0, rescale_grad=0.5))
    with autograd.record():
        y = (p.data() * nd.array([2.0, 4.0])).sum()
    y.backward()
    trainer.step(2)
    assert_allclose(p.data().asnumpy(), [-0.5, -1.0])


def test_optimizer_object_with_optimizer_params_is_refused():
    p = Parameter('w', shape=(2,))
    with pytest.raises(MXNetError, match=r'optimizer_params'):
        gluon.Trainer([p], opt.SGD(), {'learning_rate': 0.1})


def test_optimizer_object_gets_the_trainers_param_dict():
    p = Parameter('w', shape=(1,), lr_mult=0.5)
    p.initialize(init=mx.init.One())
    o = opt.SGD(learning_rate=1.0)
    trainer = gluon.Trainer([p], o)
    assert trainer.optimizer is o and o.param_dict[0] is p
    with autograd.record():
        y = p.data() * 2
    y.backward()
    trainer.step(1)
    assert_allclose(p.data().asnumpy(), [0.0])                 # 1 - 1.0 * 0.5 * 2


def test_shared_parameters_are_updated_once():
    d1 = nn.Dense(3, in_units=3, use_bias=False)
    d2 = nn.Dense(3, in_units=3, use_bias=False, params=d1.collect_params())
    assert d2.weight is d1.weight
    d1.initialize()
    W = np.random.default_rng(3).normal(size=(3, 3)).astype(np.float32)
    d1.weight.set_data(nd.array(W))
    params = list(d1.collect_params().values()) + list(d2.collect_params().values())
    assert len(params) == 2                                     # the same Parameter twice
    trainer = gluon.Trainer(params, 'sgd', {'learning_rate': 0.1})
    x = nd.array(np.random.default_rng(4).normal(size=(2, 3)))
    with autograd.record():
        y = d2(d1(x)).sum()
    y.backward()
    g = d1.weight.grad().asnumpy().copy()
    trainer.step(2)
    assert_allclose(d1.weight.data().asnumpy(), W - 0.1 * g / 2, rtol=1e-6, atol=1e-7)


def test_explicit_duplicates_in_a_list_are_updated_once():
    p = Parameter('w', shape=(2,))
    p.initialize(init=mx.init.One())
    trainer = gluon.Trainer([p, p, p], 'sgd', {'learning_rate': 0.1})
    with autograd.record():
        y = (p.data() * nd.array([1.0, 3.0])).sum()
    y.backward()
    trainer.step(1)
    assert_allclose(p.data().asnumpy(), [0.9, 0.7], rtol=1e-6)


def test_grad_req_null_parameters_are_untouched():
    net = make_dense()
    net.bias.grad_req = 'null'
    b_before = net.bias.data().asnumpy().copy()
    W_before = net.weight.data().asnumpy().copy()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})
    x, y = batch()
    for _ in range(2):
        forward_backward(net, x, y)
        trainer.step(4)
    assert_array_equal(net.bias.data().asnumpy(), b_before)
    assert not np.allclose(net.weight.data().asnumpy(), W_before)


def test_lr_mult_is_honoured():
    a, b = Parameter('a', shape=(1,), lr_mult=0.25), Parameter('b', shape=(1,))
    for p in (a, b):
        p.initialize(init=mx.init.Zero())
    trainer = gluon.Trainer([a, b], 'sgd', {'learning_rate': 1.0})
    with autograd.record():
        y = (a.data() + b.data()) * 4
    y.backward()
    trainer.step(1)
    assert_allclose(a.data().asnumpy(), [-1.0])
    assert_allclose(b.data().asnumpy(), [-4.0])


def test_wd_mult_is_honoured():
    a, b = Parameter('a', shape=(1,), wd_mult=0.0), Parameter('b', shape=(1,))
    for p in (a, b):
        p.initialize(init=mx.init.One())
    trainer = gluon.Trainer([a, b], 'sgd', {'learning_rate': 0.1, 'wd': 0.5})
    with autograd.record():
        y = (a.data() + b.data()) * 0
    y.backward()
    trainer.step(1)
    assert_allclose(a.data().asnumpy(), [1.0])
    assert_allclose(b.data().asnumpy(), [0.95])


# ------------------------------------------------------------------ stale gradients

class TwoBranch(gluon.Block):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.used = nn.Dense(2, in_units=3)
            self.unused = nn.Dense(2, in_units=3)

    def forward(self, x):
        return self.used(x)


def test_stepping_twice_without_backward_names_the_parameter():
    net = make_dense()
    trainer = gluon.Trainer(net.collect_params(), 'sgd')
    x, y = batch()
    forward_backward(net, x, y)
    trainer.step(4)
    # MXNet's Trainer takes a dict's parameters by name: the bias comes first
    with pytest.raises(MXNetError, match=re.escape(net.bias.name) + r'.*ignore_stale_grad'):
        trainer.step(4)


def test_stale_gradient_is_also_a_userwarning():
    net = make_dense()
    trainer = gluon.Trainer(net.collect_params(), 'sgd')
    with pytest.raises(UserWarning, match=r'ignore_stale_grad'):
        trainer.step(1)                        # no backward at all yet


def test_unused_branch_is_stale_and_ignore_stale_grad_skips_only_it():
    net = TwoBranch()
    net.initialize()
    used_before = [p.data().asnumpy().copy() for p in net.used.collect_params().values()]
    unused_before = [p.data().asnumpy().copy() for p in net.unused.collect_params().values()]
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})
    x, y = batch()
    forward_backward(net, x, y)
    with pytest.raises(MXNetError, match=re.escape(net.unused.bias.name)):
        trainer.step(4)
    forward_backward(net, x, y)
    trainer.step(4, ignore_stale_grad=True)
    for p, before in zip(net.unused.collect_params().values(), unused_before):
        assert_array_equal(p.data().asnumpy(), before)
    for p, before in zip(net.used.collect_params().values(), used_before):
        assert not np.allclose(p.data().asnumpy(), before)


def test_a_failed_step_updates_nothing():
    net = TwoBranch()
    net.initialize()
    used_before = [p.data().asnumpy().copy() for p in net.used.collect_params().values()]
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})
    x, y = batch()
    forward_backward(net, x, y)
    with pytest.raises(MXNetError):
        trainer.step(4)
    for p, before in zip(net.used.collect_params().values(), used_before):
        assert_array_equal(p.data().asnumpy(), before)


def test_step_is_allowed_while_a_graph_lives_but_its_later_backward_is_refused():
    """MXNet allows a step while some recorded graph is alive (a demo output nobody
    calls backward on); a later backward through that graph is the error."""
    net = make_dense()
    W_before = net.weight.data().asnumpy().copy()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})
    x, y = batch()
    with autograd.record():
        demo = net(nd.array(x)).sum()             # kept alive, never differentiated
    with autograd.record():
        loss = gluon.loss.L2Loss()(net(nd.array(x)), nd.array(y))
    loss.backward(retain_graph=True)
    trainer.step(4)                               # allowed, as in MXNet
    assert not np.allclose(net.weight.data().asnumpy(), W_before)
    for head in (demo, loss):                     # both saved the old weight
        with pytest.raises(MXNetError, match=r'changed in place.*trainer.step'):
            head.backward()


def test_trainer_orders_a_dicts_parameters_by_name_and_keeps_a_lists_order():
    net = gluon.nn.HybridSequential(prefix='z_')
    with net.name_scope():
        net.add(gluon.nn.Dense(2, in_units=2, prefix='b_'),
                gluon.nn.Dense(2, in_units=2, prefix='a_'))
    net.initialize()
    # MXNet 1.9.1: ['z_a_bias', 'z_a_weight', 'z_b_bias', 'z_b_weight']
    t = gluon.Trainer(net.collect_params(), 'sgd')
    assert [p.name for p in t._params] == ['z_a_bias', 'z_a_weight', 'z_b_bias',
                                           'z_b_weight']
    params = list(net.collect_params().values())
    t = gluon.Trainer(params, 'sgd')
    assert [p.name for p in t._params] == [p.name for p in params]


# ------------------------------------------------------------------ multi-context

def _two_device_step(net, trainer, x, y, split_step=False):
    loss_fn = gluon.loss.L2Loss()
    halves = [(x[:3], y[:3], mx.cpu(0)), (x[3:], y[3:], mx.cpu(1))]
    with autograd.record():
        losses = [loss_fn(net(nd.array(xi, ctx=c)), nd.array(yi, ctx=c))
                  for xi, yi, c in halves]
    for l in losses:
        l.backward()
    if split_step:
        trainer.allreduce_grads()
        trainer.update(len(x))
    else:
        trainer.step(len(x))


def test_multi_context_step_equals_single_context_on_the_whole_batch():
    x, y = batch(n=6)
    single = make_dense()
    t_single = gluon.Trainer(single.collect_params(), 'sgd',
                             {'learning_rate': 0.2, 'momentum': 0.9})
    multi = make_dense(ctx=[mx.cpu(0), mx.cpu(1)])
    t_multi = gluon.Trainer(multi.collect_params(), 'sgd',
                            {'learning_rate': 0.2, 'momentum': 0.9})
    for _ in range(3):
        forward_backward(single, x, y)
        t_single.step(6)
        _two_device_step(multi, t_multi, x, y)
    for p_multi, p_single in zip(multi.collect_params().values(),
                                 single.collect_params().values()):
        copies = p_multi.list_data()
        assert [c.context for c in copies] == [mx.cpu(0), mx.cpu(1)]
        assert_array_equal(copies[0].asnumpy(), copies[1].asnumpy())
        assert_allclose(copies[0].asnumpy(), p_single.data().asnumpy(), rtol=1e-5, atol=1e-6)


def test_allreduce_grads_sums_and_update_after_it_equals_step():
    x, y = batch(n=6)
    a = make_dense(ctx=[mx.cpu(0), mx.cpu(1)])
    b = make_dense(ctx=[mx.cpu(0), mx.cpu(1)])
    ta = gluon.Trainer(a.collect_params(), 'sgd', {'learning_rate': 0.2})
    tb = gluon.Trainer(b.collect_params(), 'sgd', {'learning_rate': 0.2},
                       update_on_kvstore=False)   # MXNet refuses the split otherwise
    # allreduce alone: every device's gradient becomes the sum of the per-device ones
    loss_fn = gluon.loss.L2Loss()
    with autograd.record():
        l0 = loss_fn(b(nd.array(x[:3], ctx=mx.cpu(0))), nd.array(y[:3], ctx=mx.cpu(0)))
        l1 = loss_fn(b(nd.array(x[3:], ctx=mx.cpu(1))), nd.array(y[3:], ctx=mx.cpu(1)))
    l0.backward()
    l1.backward()
    per_device = [g.asnumpy().copy() for g in b.weight.list_grad()]
    tb.allreduce_grads()
    for g in b.weight.list_grad():
        assert_allclose(g.asnumpy(), per_device[0] + per_device[1], rtol=1e-6)
    tb.update(6)
    _two_device_step(a, ta, x, y)
    for pa, pb in zip(a.collect_params().values(), b.collect_params().values()):
        for da, db in zip(pa.list_data(), pb.list_data()):
            assert_array_equal(da.asnumpy(), db.asnumpy())
    # and a second round through allreduce_grads() + update() still matches step()
    _two_device_step(a, ta, x, y)
    _two_device_step(b, tb, x, y, split_step=True)
    for pa, pb in zip(a.collect_params().values(), b.collect_params().values()):
        assert_array_equal(pa.list_data()[1].asnumpy(), pb.list_data()[1].asnumpy())


def test_multi_context_with_a_local_kvstore_and_adam():
    x, y = batch(n=6)
    single = make_dense()
    multi = make_dense(ctx=[mx.cpu(0), mx.cpu(1)])
    ts = gluon.Trainer(single.collect_params(), 'adam', {'learning_rate': 0.01})
    tm = gluon.Trainer(multi.collect_params(), 'adam', {'learning_rate': 0.01},
                       kvstore='local')
    for _ in range(2):
        forward_backward(single, x, y)
        ts.step(6)
        _two_device_step(multi, tm, x, y)
    assert_allclose(multi.weight.list_data()[1].asnumpy(), single.weight.data().asnumpy(),
                    rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ learning rate

def test_trainer_learning_rate_and_set_learning_rate():
    p = Parameter('w', shape=(1,))
    p.initialize(init=mx.init.Zero())
    trainer = gluon.Trainer([p], 'sgd', {'learning_rate': 0.1})
    assert trainer.learning_rate == 0.1
    trainer.set_learning_rate(0.05)
    assert trainer.learning_rate == 0.05
    with autograd.record():
        y = p.data() * 2
    y.backward()
    trainer.step(1)
    assert_allclose(p.data().asnumpy(), [-0.1])                 # 0.05 * 2


def test_trainer_with_a_scheduler_refuses_set_learning_rate():
    p = Parameter('w', shape=(1,))
    p.initialize(init=mx.init.Zero())
    trainer = gluon.Trainer([p], 'sgd', {'lr_scheduler': lrs.FactorScheduler(1, 0.5,
                                                                             base_lr=1.0)})
    steps = []
    for _ in range(3):
        with autograd.record():
            y = p.data() * 1
        y.backward()
        before = p.data().asnumpy()[0]
        trainer.step(1)
        steps.append(before - p.data().asnumpy()[0])
    assert_allclose(steps, [1.0, 0.5, 0.25])
    assert trainer.learning_rate == 0.25
    with pytest.raises(MXNetError, match=r'scheduler'):
        trainer.set_learning_rate(0.1)


# ------------------------------------------------------------------ trainer states

def _run(net, trainer, batches):
    for x, y in batches:
        forward_backward(net, x, y)
        trainer.step(len(x))


@pytest.mark.parametrize('optimizer, params', [
    ('sgd', {'learning_rate': 0.1, 'momentum': 0.9}),
    ('adam', {'learning_rate': 0.05}),
])
def test_save_and_load_states_resume_exactly(tmp_path, optimizer, params):
    batches = [batch(seed=s) for s in range(5)]
    a = make_dense()
    ta = gluon.Trainer(a.collect_params(), optimizer, params)
    _run(a, ta, batches[:2])
    snapshot = weights(a)
    fname = str(tmp_path / 'trainer.states')
    ta.save_states(fname)
    _run(a, ta, batches[2:])
    uninterrupted = weights(a)

    def resumed(load: bool):
        b = make_dense(seed=9)
        for p, w in zip(b.collect_params().values(), snapshot):
            p.set_data(nd.array(w))
        tb = gluon.Trainer(b.collect_params(), optimizer, params)
        if load:
            tb.load_states(fname)
        _run(b, tb, batches[2:])
        return weights(b)

    for got, want in zip(resumed(True), uninterrupted):
        assert_array_equal(got, want)
    # without the states (momentum, Adam's moments and counts) the run differs
    assert not all(np.allclose(g, w, rtol=1e-6, atol=1e-7)
                   for g, w in zip(resumed(False), uninterrupted))


def test_load_states_on_a_parameter_file_is_a_clear_error(tmp_path):
    net = make_dense()
    fname = str(tmp_path / 'net.params')
    net.save_parameters(fname)
    trainer = gluon.Trainer(net.collect_params(), 'sgd')
    with pytest.raises(MXNetError, match=re.escape(fname) + r'.*save_states'):
        trainer.load_states(fname)


def test_load_states_on_text_or_missing_or_truncated_files(tmp_path):
    net = make_dense()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'momentum': 0.9})
    text = tmp_path / 'notes.txt'
    text.write_text('hello, not a state file\n' * 10)
    with pytest.raises(MXNetError, match=re.escape(str(text)) + r'.*state file'):
        trainer.load_states(str(text))
    with pytest.raises(MXNetError, match=r'no such file'):
        trainer.load_states(str(tmp_path / 'absent.states'))
    good = tmp_path / 'good.states'
    forward_backward(net, *batch())
    trainer.step(4)
    trainer.save_states(str(good))
    data = good.read_bytes()
    good.write_bytes(data[:len(data) // 2])
    with pytest.raises(MXNetError, match=re.escape(str(good))):
        trainer.load_states(str(good))


# ------------------------------------------------------------------ save_arrays / load_arrays

def test_save_arrays_round_trip_and_overwrite(tmp_path):
    f = tmp_path / 'a.npz'
    save_arrays(str(f), {'x': np.arange(6.0).reshape(2, 3), 'n': np.array(7)})
    got = load_arrays(str(f))
    assert sorted(got) == ['n', 'x']
    assert_array_equal(got['x'], np.arange(6.0).reshape(2, 3))
    save_arrays(f, {'y': np.ones(2)})                          # path-like accepted too
    assert list(load_arrays(str(f))) == ['y']
    assert os.listdir(tmp_path) == ['a.npz']


@pytest.mark.parametrize('exc', [OSError('No space left on device'), KeyboardInterrupt()])
def test_failed_save_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch, exc):
    f = tmp_path / 'ckpt.npz'
    save_arrays(str(f), {'w': np.arange(4.0)})
    original = f.read_bytes()
    real_savez = np.savez

    def savez_then_fail(file, **arrays):
        real_savez(file, **arrays)            # the bytes are written (to the temp file) ...
        file.write(b'garbage')
        raise exc                             # ... then the "disk" fails

    monkeypatch.setattr(np, 'savez', savez_then_fail)
    with pytest.raises(type(exc)):
        save_arrays(str(f), {'w': np.zeros(1000)})
    monkeypatch.undo()
    assert f.read_bytes() == original
    assert_array_equal(load_arrays(str(f))['w'], np.arange(4.0))
    assert os.listdir(tmp_path) == ['ckpt.npz']


def test_failed_trainer_save_states_keeps_the_previous_states(tmp_path, monkeypatch):
    net = make_dense()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'momentum': 0.9})
    forward_backward(net, *batch())
    trainer.step(4)
    f = tmp_path / 'trainer.states'
    trainer.save_states(str(f))
    original = f.read_bytes()

    def failing(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(np, 'savez', failing)
    with pytest.raises(OSError):
        trainer.save_states(str(f))
    monkeypatch.undo()
    assert f.read_bytes() == original
    assert os.listdir(tmp_path) == ['trainer.states']


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='needs RLIMIT_FSIZE')
def test_save_arrays_survives_a_real_file_size_limit(tmp_path):
    """A real write failure (EFBIG) in a child process with RLIMIT_FSIZE and SIGXFSZ ignored."""
    f = tmp_path / 'big.npz'
    save_arrays(str(f), {'w': np.arange(3.0)})
    original = f.read_bytes()
    code = textwrap.dedent(f"""
        import resource, signal, sys
        import numpy as np
        sys.path.insert(0, {ROOT!r})
        from minimx.ndarray.serialization import save_arrays
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            save_arrays({str(f)!r}, {{'w': np.zeros(100_000)}})
        except OSError as err:
            print('OSError', err.errno)
            sys.exit(0)
        sys.exit('the oversized write did not fail')
    """)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.startswith('OSError')
    assert f.read_bytes() == original
    assert os.listdir(tmp_path) == ['big.npz']


def test_load_arrays_refuses_pickled_objects_without_running_them(tmp_path):
    marker = tmp_path / 'pwned'

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), 'w'))

    f = tmp_path / 'evil.npz'
    np.savez(str(f), evil=np.array([Payload()], dtype=object))
    with pytest.raises(MXNetError, match=re.escape(str(f)) + r'.*(objects|pickle)'):
        load_arrays(str(f))
    assert not marker.exists()


def test_load_arrays_reports_truncated_files_by_name(tmp_path):
    f = tmp_path / 'cut.npz'
    save_arrays(str(f), {'w': np.arange(1000.0), 'b': np.ones(10)})
    data = f.read_bytes()
    f.write_bytes(data[:len(data) // 2])
    with pytest.raises(MXNetError, match=re.escape(str(f)) + r'.*truncated'):
        load_arrays(str(f))


def test_load_arrays_missing_file_is_named(tmp_path):
    missing = str(tmp_path / 'nope.npz')
    with pytest.raises(MXNetError, match=re.escape(missing)):
        load_arrays(missing)


def _float16_adam_run(multi_precision: bool, steps: int = 10, trainer=None):
    p = Parameter('w', shape=(2,), dtype='float16', init=mx.init.One())
    p.initialize()
    if trainer is None:
        trainer = gluon.Trainer([p], 'adam', {'learning_rate': 1e-4,
                                              'multi_precision': multi_precision})
    x = nd.array([1, -2], dtype='float16')
    for _ in range(steps):
        with autograd.record():
            y = p.data() * x
        y.backward()
        trainer.step(1)
    return p, trainer


def test_trainer_keeps_float32_master_copies_under_multi_precision(tmp_path):
    # MXNet 1.9.1: ten Adam steps of 1e-4 leave a float16 weight at 1 without the
    # master copy; with it, [0.9990234375, 1.0009765625] and the master copy
    # [0.99899983, 1.0010002] in the state (master, (mean, var))
    with pytest.warns(UserWarning, match='multi_precision'):
        p, _ = _float16_adam_run(False)
    assert p.data().asnumpy().tolist() == [1.0, 1.0]
    p, trainer = _float16_adam_run(True)
    assert p.data().dtype == np.float16
    assert p.data().asnumpy().tolist() == [0.9990234375, 1.0009765625]
    master, (mean, var) = trainer._states[0]
    assert master.dtype == np.float32
    assert_allclose(master.asnumpy(), [0.99899983, 1.0010002], rtol=1e-6)
    assert_allclose(mean.asnumpy(), [0.6513217, -1.3026434], rtol=1e-4)
    assert_allclose(var.asnumpy(), [0.00995499, 0.03981997], rtol=1e-4)
    fname = str(tmp_path / 'mp.states')
    trainer.save_states(fname)
    assert sorted(load_arrays(fname)) == ['0.0', '0.1.0', '0.1.1', '__counts__',
                                          '__num_update__']
    again = gluon.Trainer(trainer._params, 'adam', {'learning_rate': 1e-4,
                                                    'multi_precision': True})
    again.load_states(fname)
    master2, (mean2, var2) = again._states[0]
    for got, want in ((master2, master), (mean2, mean), (var2, var)):
        assert_array_equal(got.asnumpy(), want.asnumpy())


def test_update_on_kvstore_is_kept_and_its_states_are_saved(tmp_path):
    ctxs = [mx.cpu(0), mx.cpu(1)]
    runs = {}
    for on_store in (False, True):
        net = make_dense(ctx=ctxs)
        trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 0.1},
                                update_on_kvstore=on_store)
        assert trainer._update_on_kvstore is on_store
        for seed in (1, 2):
            x, y = batch(seed=seed)
            with autograd.record():
                losses = [gluon.loss.L2Loss()(net(nd.array(x[i::2], ctx=c)),
                                              nd.array(y[i::2], ctx=c))
                          for i, c in enumerate(ctxs)]
            autograd.backward(losses)
            trainer.step(4)
        fname = str(tmp_path / f'{on_store}.states')
        trainer.save_states(fname)
        runs[on_store] = (weights(net), load_arrays(fname))
        if on_store:
            assert trainer._kvstore._updater is not None and not trainer._states
            trainer.load_states(fname)
            assert set(trainer._kvstore._states) == {0, 1}
    for got, want in zip(runs[True][0], runs[False][0]):
        assert_allclose(got, want, rtol=1e-6)
    assert sorted(runs[True][1]) == sorted(runs[False][1])
    for name, value in runs[False][1].items():
        assert_allclose(runs[True][1][name], value, rtol=1e-6)
