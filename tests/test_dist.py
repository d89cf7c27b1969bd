"""Chapter 9: `kv.create('dist_sync')` over MPI. Two ranks with batch b each take the
steps one process takes with batch 2b; a rank that dies or leaves early makes the job
fail with a clear error instead of hanging. Needs the `dist` extra (mpi4py and an MPI
with `mpirun`); the tests that run MPI are skipped, with the reason, without it."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError


def _mpirun() -> 'str | None':
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    return shutil.which('mpirun', path=os.path.dirname(sys.executable) + os.pathsep
                        + os.environ.get('PATH', ''))


pytestmark = pytest.mark.ch09

MPIRUN = _mpirun()
needs_mpi = pytest.mark.skipif(
    MPIRUN is None, reason="needs mpi4py and mpirun: pip install 'minimx[dist]'")

COMMON = '''
import numpy as np
import minimx as mx
from minimx import autograd, gluon, nd
from minimx.gluon import nn

def mlp():
    net = nn.HybridSequential()
    net.add(nn.Dense(16, activation='relu', in_units=6), nn.Dense(3, in_units=16))
    return net

def data(steps, batch):
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(batch, 6)).astype(np.float32),
             rng.integers(0, 3, batch).astype(np.int32)) for _ in range(steps)]
'''


def run(tmp_path, body: str, processes: int = 2, timeout: float = 120, **env):
    script = tmp_path / 'worker.py'
    script.write_text(COMMON + textwrap.dedent(body))
    full_env = {**os.environ, 'OMP_NUM_THREADS': '1', **env}
    done = subprocess.run([MPIRUN, '-n', str(processes), sys.executable, str(script)],
                          capture_output=True, text=True, timeout=timeout, env=full_env)
    return done.returncode, done.stdout + done.stderr


def mlp():
    namespace: dict = {}
    exec(COMMON, namespace)
    return namespace['mlp'], namespace['data']


WORKER_TRAINS = '''
    kv = mx.kv.create('dist_sync')
    mx.random.seed({seed})
    net = mlp()
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {{'learning_rate': 0.1, 'momentum': 0.9}}, kvstore=kv,
                            update_on_kvstore={update_on_kvstore})
    history = {{}}
    for step, (x, y) in enumerate(data({steps}, {global_batch})):
        rows = slice(kv.rank * {b}, (kv.rank + 1) * {b})
        with autograd.record():
            loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(nd.array(x[rows])),
                                                        nd.array(y[rows]))
        loss.backward()
        trainer.step({global_batch})
        for i, p in enumerate(net.collect_params().values()):
            history[f'{{step}}/{{i}}'] = p.data().asnumpy()
    np.savez('{folder}/rank%d.npz' % kv.rank, **history)
'''


def train_ranks(tmp_path, steps, b, seed='0', update_on_kvstore=False):
    status, output = run(tmp_path, WORKER_TRAINS.format(
        seed=seed, update_on_kvstore=update_on_kvstore, steps=steps, b=b,
        global_batch=2 * b, folder=tmp_path))
    assert status == 0, output
    return [np.load(tmp_path / f'rank{r}.npz') for r in (0, 1)]


@needs_mpi
@pytest.mark.parametrize('update_on_kvstore', [False, True])
def test_two_ranks_with_batch_b_step_like_one_process_with_2b(tmp_path,
                                                             update_on_kvstore):
    steps, b = 5, 8
    ranks = train_ranks(tmp_path, steps, b, update_on_kvstore=update_on_kvstore)
    make, batches = mlp()
    mx.random.seed(0)
    net = make()
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': 0.1, 'momentum': 0.9})
    for step, (x, y) in enumerate(batches(steps, 2 * b)):
        with autograd.record():
            loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(nd.array(x)), nd.array(y))
        loss.backward()
        trainer.step(2 * b)
        for i, p in enumerate(net.collect_params().values()):
            for saved in ranks:
                assert_allclose(saved[f'{step}/{i}'], p.data().asnumpy(), atol=1e-6)


@needs_mpi
def test_ranks_seeded_differently_agree_after_the_first_step(tmp_path):
    rank0, rank1 = train_ranks(tmp_path, steps=2, b=4, seed='kv.rank')
    for key in rank0.files:
        assert_allclose(rank0[key], rank1[key], atol=1e-6)


@needs_mpi
def test_pushpull_and_barrier_across_ranks(tmp_path):
    status, output = run(tmp_path, '''
        kv = mx.kv.create('dist_device_sync')
        kv.init('k', nd.full(3, 100.0 + kv.rank))       # rank 0's value is kept
        out = [nd.zeros(3, ctx=mx.cpu(0)), nd.zeros(3, ctx=mx.cpu(1))]
        kv.pull('k', out=out)
        assert out[1].asnumpy().tolist() == [100.0] * 3, out
        values = [nd.full(3, kv.rank + 1.0, ctx=c) for c in (mx.cpu(0), mx.cpu(1))]
        kv.pushpull('k', values)                         # (1 + 1) + (2 + 2)
        assert values[0].asnumpy().tolist() == [6.0] * 3, values
        kv.init(['a', 'b'], [nd.zeros(2), nd.zeros(4, dtype='float64')])
        a, b = nd.ones(2), nd.full(4, 2.0, dtype='float64')
        kv.pushpull(['a', 'b'], [a, b])                  # two dtypes, one call
        assert a.asnumpy().tolist() == [2.0] * 2 and b.asnumpy().tolist() == [4.0] * 4
        kv.barrier()
        print('rank', kv.rank, 'ok', flush=True)
    ''')
    assert status == 0, output
    assert output.count(' ok') == 2


@needs_mpi
def test_a_rank_that_leaves_early_makes_the_other_fail_clearly(tmp_path):
    status, output = run(tmp_path, '''
        kv = mx.kv.create('dist_sync')        # waits 2 s at most (MINIMX_DIST_TIMEOUT)
        short, kv.timeout = kv.timeout, 60    # start-up may be slow on a busy machine
        kv.init(0, nd.zeros(3))
        kv.timeout = short
        for step in range(3):
            if kv.rank == 1 and step == 1:
                break
            kv.pushpull(0, nd.ones(3))
    ''', timeout=120, MINIMX_DIST_TIMEOUT='2')
    assert status != 0
    assert 'worker 0 of 2 waited 2 s for the sum of 0' in output, output
    assert 'MINIMX_DIST_TIMEOUT' in output


@needs_mpi
def test_a_rank_that_crashes_ends_the_job(tmp_path):
    status, output = run(tmp_path, '''
        kv = mx.kv.create('dist_sync')
        kv.init(0, nd.zeros(3))               # start-up: MINIMX_DIST_TIMEOUT=60
        kv.timeout = 2                        # then rank 0 waits 2 s for rank 1
        for step in range(3):
            if kv.rank == 1 and step == 1:
                raise RuntimeError('rank 1 crashed on purpose')
            kv.pushpull(0, nd.ones(3))
    ''', timeout=120, MINIMX_DIST_TIMEOUT='60')
    assert status != 0
    assert 'rank 1 crashed on purpose' in output, output


def test_missing_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mpi4py', None)
    with pytest.raises(MXNetError, match=r"minimx\[dist\]") as info:
        mx.kv.create('dist_sync')
    assert 'mpirun -n 2 python train.py' in str(info.value)


def test_split_sampler_gives_every_worker_as_many_batches():
    from minimx.gluon.data.sampler import SplitSampler
    dataset = gluon.data.ArrayDataset(np.arange(1000))
    loaders = [gluon.data.DataLoader(dataset, 32, sampler=SplitSampler(1000, 3, rank))
               for rank in range(3)]
    assert [len(list(batches)) for batches in loaders] == [11, 11, 11]
