"""Chapter 9: data parallelism on one machine: the kvstore's whole interface (checked
against MXNet 1.9.1's values), the Trainer on several contexts and with a store object
or update_on_kvstore, the hand-averaging pattern, SplitSampler."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import nn
from minimx.gluon.data.sampler import SplitSampler

pytestmark = pytest.mark.ch09

TWO = [mx.cpu(0), mx.cpu(1)]


def on_two(value=0.0, n=2):
    return [nd.full(n, value, ctx=c) for c in TWO]


@pytest.mark.parametrize('kind', ['local', 'device', 'nccl', 'LOCAL'])
def test_create_single_process_types(kind):
    kv = mx.kv.create(kind)
    assert (kv.type, kv.rank, kv.num_workers) == (kind.lower(), 0, 1)
    assert kv.is_capable('optimizer') and not kv.is_capable('sparse')
    kv.barrier()
    kv._barrier()


def test_create_refuses_unknown_and_unsupported_types():
    with pytest.raises(MXNetError, match="use 'dist_sync'"):
        mx.kv.create('dist_async')
    with pytest.raises(MXNetError, match="unknown kvstore type 'bogus'"):
        mx.kv.create('bogus')
    with pytest.raises(TypeError, match='must be a string'):
        mx.kv.create(3)
    with pytest.raises(MXNetError, match='does not compress'):
        mx.kv.create().set_gradient_compression({'type': '2bit'})


def test_push_pull_pushpull_broadcast_match_mxnet():
    # The values MXNet 1.9.1 gives for the same calls (run with mx.kv.create('local')).
    kv = mx.kv.create('local')
    kv.init('a', nd.ones(2))
    kv.push('a', [nd.full(2, 2.0, ctx=mx.cpu(0)), nd.full(2, 3.0, ctx=mx.cpu(1))])
    out = on_two()
    kv.pull('a', out=out)
    assert [o.context for o in out] == TWO
    assert_array_equal([o.asnumpy() for o in out], [[5, 5], [5, 5]])
    kv.push('a', nd.full(2, 7.0))                   # no updater: the push replaces
    kv.pull('a', out=out[0])
    assert_array_equal(out[0].asnumpy(), [7, 7])
    values = [nd.full(2, 1.0, ctx=mx.cpu(0)), nd.full(2, 5.0, ctx=mx.cpu(1))]
    kv.pushpull('a', values)
    assert_array_equal([v.asnumpy() for v in values], [[6, 6], [6, 6]])
    out = on_two(n=3)
    kv.broadcast('b', nd.arange(3), out=out)
    assert_array_equal([o.asnumpy() for o in out], [[0, 1, 2], [0, 1, 2]])
    kv.pushpull(['a', 'b'], [on_two(1.0), on_two(1.0, n=3)],
                out=[on_two(), on_two(n=3)])
    with pytest.raises(MXNetError, match='not initialised'):
        kv.pull('missing', out=nd.zeros(2))


def test_set_optimizer_updates_on_push_as_mxnet():
    kv = mx.kv.create('device')
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1))
    kv.init('w', nd.ones(2))
    kv.push('w', [nd.ones(2, ctx=mx.cpu(0)), nd.ones(2, ctx=mx.cpu(1))])
    out = on_two()
    kv.pull('w', out=out)
    assert_allclose([o.asnumpy() for o in out], [[0.8, 0.8], [0.8, 0.8]], rtol=1e-6)


def test_split_sampler_shards():
    parts = [list(SplitSampler(11, 3, r, shuffle=False)) for r in range(3)]
    assert parts == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    np.random.seed(0)
    shuffled = list(SplitSampler(10, 2, 1))
    assert sorted(shuffled) == [5, 6, 7, 8, 9] and len(SplitSampler(10, 2, 1)) == 5
    with pytest.raises(MXNetError, match='part_index'):
        SplitSampler(10, 2, 2)


def lenet():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, kernel_size=3, padding=1, activation='relu'),
            nn.MaxPool2D(pool_size=2), nn.Flatten(), nn.Dense(16, activation='relu'),
            nn.Dense(10))
    return net


def batches(n=4, size=12):
    rng = np.random.default_rng(0)
    return [(nd.array(rng.random((size, 1, 8, 8), dtype=np.float32)),
             nd.array(rng.integers(0, 10, size), dtype='int32')) for _ in range(n)]


def train(ctxs, reduce='step', **trainer_args):
    """Weights after each step of LeNet on `ctxs`, per-example losses summed."""
    mx.random.seed(0)
    net = lenet()
    net.initialize(mx.init.Xavier(), ctx=ctxs)
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': 0.1, 'momentum': 0.9}, **trainer_args)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    history = []
    for data, label in batches():
        parts = gluon.utils.split_and_load(data, ctxs, even_split=False)
        labels = gluon.utils.split_and_load(label, ctxs, even_split=False)
        with autograd.record():
            losses = [loss_fn(net(x), y) for x, y in zip(parts, labels)]
        for loss in losses:
            loss.backward()
        if reduce == 'step':
            trainer.step(data.shape[0])
        else:                                         # the classic hand-written mean
            for v in net.collect_params().values():
                grads = [v.grad(c) for c in v.list_ctx()]
                mean = nd.stack(*[g.as_in_context(mx.cpu(0)) for g in grads]).mean(0)
                for c in v.list_ctx():
                    v.grad(c)[:] = mean.as_in_context(c)
            trainer.update(data.shape[0] / len(ctxs))
        history.append([p.data(c).asnumpy() for p in net.collect_params().values()
                        for c in p.list_ctx()])
    return history


def assert_same_steps(a, b, atol=1e-6):
    for step_a, step_b in zip(a, b):
        for x in step_b:                            # every copy equals the reference
            match = [np.allclose(x, y, atol=atol) for y in step_a if y.shape == x.shape]
            assert any(match)


@pytest.mark.parametrize('ctxs', [TWO, [mx.cpu(0), mx.cpu(1), mx.cpu(2)]])
def test_several_contexts_step_like_one(ctxs):
    assert_same_steps(train([mx.cpu(0)]), train(ctxs))


def test_hand_average_equals_step_for_equal_parts():
    assert_same_steps(train(TWO), train(TWO, reduce='mean'))


def test_trainer_takes_a_store_object_and_reuses_it():
    kv = mx.kv.create('local')
    assert_same_steps(train([mx.cpu(0)]), train(TWO, kvstore=kv))
    assert 0 in kv                                  # the Trainer used this store


def test_update_on_kvstore_both_ways():
    reference = train([mx.cpu(0)])
    assert_same_steps(reference, train(TWO, update_on_kvstore=False))
    assert_same_steps(reference, train(TWO, update_on_kvstore=True))


def test_update_on_kvstore_puts_the_optimizer_in_the_store():
    probe = gluon.Trainer(lenet().collect_params(), 'sgd', update_on_kvstore=True)
    assert probe._update_on_kvstore is True
    kv = mx.kv.create('device')
    train(TWO, kvstore=kv, update_on_kvstore=True)
    assert kv._updater is not None


def test_single_context_trainer_makes_no_store():
    mx.random.seed(0)
    net = nn.Dense(2, in_units=3)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    with autograd.record():
        loss = net(nd.ones((1, 3))).sum()
    loss.backward()
    trainer.step(1)
    assert trainer._kvstore is None
