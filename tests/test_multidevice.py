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
    if reduce != 'step':              # update() alone: MXNet's store must not update
        trainer_args.setdefault('update_on_kvstore', False)
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


# --- update_on_kvstore: every combination, as MXNet 1.9.1 ----------------------
# Recorded with MXNet 1.9.1 (/work/mxvenv): Dense(2, in_units=3), weight 0.5, bias 0,
# SGD lr 0.1 momentum 0.9, loss sum(net(x)**2), x = arange(12).reshape(4, 3) / 10, two
# steps, the batch split over the contexts. Row 0 of each device's weight afterwards.
SUMMED = [0.228839, 0.188464, 0.148088]           # the gradients summed over devices
OWN = [[0.474703, 0.464306, 0.453910],            # no sum: each device its own half
       [0.244780, 0.211955, 0.179130]]


def dense_steps(kvstore, n, update_on_kvstore, how):
    ctxs = TWO[:n]
    net = nn.Dense(2, in_units=3)
    net.initialize(mx.init.Constant(0.5), ctx=ctxs)
    net.bias.initialize(mx.init.Zero(), ctx=ctxs, force_reinit=True)
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': 0.1, 'momentum': 0.9},
                            kvstore=kvstore, update_on_kvstore=update_on_kvstore)
    x = nd.array(np.arange(12).reshape(4, 3) / 10.0)
    for _ in range(2):
        parts = gluon.utils.split_and_load(x, ctxs)
        with autograd.record():
            losses = [(net(p) ** 2).sum() for p in parts]
        for loss in losses:
            loss.backward()
        if how == 'step':
            trainer.step(4)
        else:
            if how == 'split':
                trainer.allreduce_grads()
            trainer.update(4)
    return [w.asnumpy()[0] for w in net.weight.list_data()]


@pytest.mark.parametrize('how', ['step', 'split', 'update'])
@pytest.mark.parametrize('kvstore', [None, 'local', 'device', 'nccl', 'object'])
@pytest.mark.parametrize('n', [1, 2])
@pytest.mark.parametrize('update_on_kvstore', [None, True, False])
def test_update_on_kvstore_combinations_as_mxnet(update_on_kvstore, n, kvstore, how):
    store = mx.kv.create('local') if kvstore == 'object' else kvstore
    has_store = kvstore == 'object' or (kvstore is not None and n == 2)
    if update_on_kvstore and not has_store:
        # MXNet: AttributeError: 'NoneType' object has no attribute 'is_capable'
        with pytest.raises(AttributeError, match='update_on_kvstore=True asks'):
            dense_steps(store, n, update_on_kvstore, how)
        return
    on_store = update_on_kvstore or (update_on_kvstore is None and has_store)
    if on_store and how != 'step':                   # MXNet: AssertionError
        call = 'allreduce_grads' if how == 'split' else 'update'
        with pytest.raises(AssertionError, match=rf'Trainer\.{call}\(\).*=False'):
            dense_steps(store, n, update_on_kvstore, how)
        return
    # (update_on_kvstore=None with a store is MXNet's True: the store updates, and
    # 'split' and 'update' are refused above, as MXNet 1.9.1 does.)
    weights = dense_steps(store, n, update_on_kvstore, how)
    summed = n == 1 or (has_store and how != 'update')
    expected = [SUMMED] * n if summed else OWN
    assert_allclose(weights, expected, atol=2e-6)


def test_update_alone_keeps_a_state_per_device_as_mxnet():
    # Adam's state and its bias correction: each device's copy as on one device
    # with its own half of the batch, the update count advancing once per step.
    def run(ctxs, x):
        net = nn.Dense(1, in_units=2, use_bias=False)
        net.initialize(mx.init.Constant(0.5), ctx=ctxs)
        trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 0.1},
                                kvstore=None)
        for _ in range(3):
            parts = gluon.utils.split_and_load(x, ctxs)
            with autograd.record():
                losses = [(net(p) ** 2).sum() for p in parts]
            for loss in losses:
                loss.backward()
            trainer.step(2)
        assert trainer._optimizer.num_update == 3
        return [w.asnumpy() for w in net.weight.list_data()]
    x = nd.array([[1.0, 2.0], [3.0, -1.0]])
    both = run(TWO, x)
    assert_allclose(both[0], run([mx.cpu(0)], x[0:1] * 2 ** 0.5)[0], rtol=1e-5)
    assert_allclose(both[1], run([mx.cpu(0)], x[1:2] * 2 ** 0.5)[0], rtol=1e-5)
    assert not np.allclose(both[0], both[1])


def test_update_on_store_reports_an_uninitialized_parameter_as_update_does():
    messages = []
    for on_store in [False, True]:
        net = nn.Dense(2, use_bias=False)            # deferred: no input size
        net.initialize(ctx=TWO)
        trainer = gluon.Trainer(net.collect_params(), 'sgd',
                                update_on_kvstore=on_store)
        with pytest.raises(MXNetError, match='has not been initialized yet because '
                                             'its initialization was deferred') as e:
            trainer.step(1)
        messages.append(str(e.value).replace(net.weight.name, 'W'))
    assert messages[0] == messages[1]


# --- kv.create('nccl') on the CuPy stand-in's two devices -----------------------


@pytest.fixture
def standin():
    from minimx import _cupy_standin as cp
    with cp.installed(devices=2, memory=64 * 2 ** 20):
        yield cp


@pytest.fixture
def nccl_calls(standin, monkeypatch):
    calls = []
    real = standin.NcclCommunicator.allReduce

    def spy(self, *args):
        calls.append((self.device_id(), args[2:]))
        return real(self, *args)
    monkeypatch.setattr(standin.NcclCommunicator, 'allReduce', spy)
    return calls


def on_gpus(*values, dtype='float32'):
    return [nd.array(v, ctx=mx.gpu(i), dtype=dtype) for i, v in enumerate(values)]


@pytest.mark.parametrize('dtype', ['float32', 'float64', 'int32'])
def test_nccl_store_sums_as_device_and_local(standin, nccl_calls, dtype):
    results = {}
    for kind in ['local', 'device', 'nccl']:
        kv = mx.kv.create(kind)
        assert kv.type == kind
        kv.init(3, nd.zeros((2, 3), ctx=mx.gpu(0), dtype=dtype))
        kv.init(4, nd.zeros(2, ctx=mx.gpu(0), dtype=dtype))
        a = on_gpus(np.arange(6).reshape(2, 3), 10 * np.ones((2, 3)), dtype=dtype)
        b = on_gpus([1, 2], [3, 4], dtype=dtype)
        kv.pushpull([3, 4], [a, b])                       # in place
        out = on_gpus(np.zeros((2, 3)), np.zeros((2, 3)), dtype=dtype)
        kv.pull(3, out=out)                               # the store kept the sum
        results[kind] = [x.asnumpy() for x in a + b + out]
    expected = np.arange(6).reshape(2, 3) + 10
    assert_array_equal(results['nccl'][0], expected)
    assert_array_equal(results['nccl'][2], [4, 6])
    for kind in ['local', 'device']:
        for x, y in zip(results[kind], results['nccl']):
            assert_array_equal(x, y)
    code = {'float32': 7, 'float64': 8, 'int32': 2}[dtype]
    # (device, (count, NCCL type, NCCL_SUM, stream)) of every allReduce
    assert sorted(nccl_calls) == [(0, (2, code, 0, 0)), (0, (6, code, 0, 0)),
                                  (1, (2, code, 0, 0)), (1, (6, code, 0, 0))]


def test_nccl_store_with_out_and_with_an_optimizer(standin, nccl_calls):
    kv = mx.kv.create('nccl')
    kv.init('a', nd.zeros(2, ctx=mx.gpu(0)))
    values = on_gpus([1.0, 2.0], [3.0, 4.0])
    out = on_gpus([0.0, 0.0], [0.0, 0.0])
    kv.pushpull('a', values, out=out)
    assert_array_equal([v.asnumpy() for v in values], [[1, 2], [3, 4]])   # untouched
    assert_array_equal([o.asnumpy() for o in out], [[4, 6], [4, 6]])
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1))
    kv.init('w', nd.ones(2, ctx=mx.gpu(0)))
    out = on_gpus([0.0, 0.0], [0.0, 0.0])
    kv.pushpull('w', on_gpus([1.0, 1.0], [1.0, 1.0]), out=out)
    assert_allclose([o.asnumpy() for o in out], [[0.8, 0.8], [0.8, 0.8]], rtol=1e-6)
    assert len(nccl_calls) == 4
    cpu = mx.kv.create('nccl')             # CPU arrays: the 'device' path, no NCCL
    cpu.init('c', nd.zeros(2))
    values = on_two(2.0)
    cpu.pushpull('c', values)
    assert_array_equal([v.asnumpy() for v in values], [[4, 4], [4, 4]])
    assert len(nccl_calls) == 4


@pytest.mark.parametrize('update_on_kvstore', [None, True])
def test_lenet_on_two_standin_gpus_with_nccl_as_device_and_local(
        standin, nccl_calls, update_on_kvstore):
    gpus = [mx.gpu(0), mx.gpu(1)]
    reference = train([mx.cpu(0)])
    for kind in ['local', 'device', 'nccl']:
        nccl_calls.clear()
        assert_same_steps(reference, train(gpus, kvstore=kind,
                                           update_on_kvstore=update_on_kvstore),
                          atol=1e-5)
        # nccl: 6 parameters x 2 devices x 4 steps
        assert len(nccl_calls) == (48 if kind == 'nccl' else 0)


def test_standin_nccl_refuses_what_nccl_would_hang_on(standin):
    nccl = standin.cuda.nccl
    comms = nccl.NcclCommunicator.initAll([0, 1])
    assert [(c.device_id(), c.rank_id(), c.size()) for c in comms] == [(0, 0, 2),
                                                                        (1, 1, 2)]
    a = on_gpus([1.0, 2.0], [3.0, 4.0])
    ptr = [x._data.data.ptr for x in a]
    with pytest.raises(nccl.NcclError, match='wait forever'):
        comms[0].allReduce(ptr[0], ptr[0], 2, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, 0)
    with pytest.raises(nccl.NcclError, match='buffer on device 1'):
        comms[0].allReduce(ptr[1], ptr[1], 2, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, 0)
    nccl.groupStart()
    for comm, p in zip(comms, ptr):
        comm.allReduce(p, p, 2, nccl.NCCL_FLOAT32, nccl.NCCL_MAX, 0)
    nccl.groupEnd()
    assert_array_equal([x.asnumpy() for x in a], [[3, 4], [3, 4]])
    with pytest.raises(nccl.NcclError, match='without groupStart'):
        nccl.groupEnd()


def test_host_push_sums_in_place_with_the_same_bits():
    # The store sums CPU values straight into the stored array, in _sum_on's order.
    rng = np.random.default_rng(1)
    three = [mx.cpu(0), mx.cpu(1), mx.cpu(2)]
    host = [rng.standard_normal((5, 7)).astype(np.float32) for _ in three]
    kv = mx.kv.create('device')
    kv.init(0, nd.zeros((5, 7)))
    stored = kv._store[0]._data
    values = [nd.array(h, ctx=c) for h, c in zip(host, three)]
    kv.pushpull(0, values)
    expected = (host[0] + host[1]) + host[2]
    assert kv._store[0]._data is stored                 # no new array in the store
    for v in values:
        assert_array_equal(v.asnumpy(), expected)
