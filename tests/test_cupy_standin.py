"""Chapter 9: the CuPy stand-in (minimx/_cupy_standin.py), minimx's GPU branches run on
it, and the check that every `xp.<name>` minimx calls exists in CuPy.

The name list tests/data/cupy_names.txt is written from a real CuPy by
`python tests/test_cupy_standin.py --write-cupy-names` (CuPy imports without a GPU).
CuPy's `cuda.nccl` is empty without the NCCL library, so its names (and the parameters
of the calls minimx makes) are in tests/data/cupy_nccl_names.txt, from CuPy's source.
"""

import functools
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import _cupy_standin as cp
from minimx import autograd, gluon, nd
from minimx.gluon import nn

pytestmark = pytest.mark.ch09

ROOT = Path(__file__).resolve().parent.parent
NAMES = ROOT / 'tests' / 'data' / 'cupy_names.txt'
NCCL_NAMES = ROOT / 'tests' / 'data' / 'cupy_nccl_names.txt'
WALK = ('cuda', 'cuda.runtime', 'cuda.memory', 'cuda.nccl', 'random', 'linalg', 'fft',
        'lib', 'lib.stride_tricks')
XP_NAME = re.compile(r'\bxp\.([A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*)')
# methods called on an NCCL communicator (minimx names them `nccl_comm`)
COMM_CALL = re.compile(r'\bnccl_comm\.([A-Za-z_][A-Za-z_0-9]*)\(')


@pytest.fixture
def gpus():
    with cp.installed(devices=2, memory=64 * 2 ** 20):
        yield [mx.gpu(0), mx.gpu(1)]


# --- the stand-in's own rules ------------------------------------------------


def test_arrays_refuse_silent_conversion_and_numpy_operands():
    a = cp.arange(6, dtype=np.float32).reshape(2, 3)
    assert isinstance(a, cp.ndarray) and not isinstance(a, np.ndarray)
    with pytest.raises(TypeError, match='Implicit conversion'):
        np.asarray(a)
    with pytest.raises(TypeError, match='Unsupported type'):
        a + np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match='Unsupported type'):
        a[...] = np.zeros((2, 3))
    np.testing.assert_array_equal((np.float32(2) * a + 1).get(),
                                  2 * np.arange(6).reshape(2, 3) + 1)
    assert isinstance(cp.asnumpy(a), np.ndarray) and cp.asnumpy(a).shape == (2, 3)
    assert cp.get_array_module(a) is cp and cp.get_array_module(np.ones(1)) is np
    assert float(a.sum()) == 15.0 and isinstance(a.sum(), cp.ndarray)


def test_current_device_rules():
    a = cp.ones(3)
    with cp.cuda.Device(1):
        b = cp.ones(3)
        assert b.device == cp.cuda.Device(1)
        with pytest.raises(ValueError, match=r'resides \(0\).*current device \(1\)'):
            a + b
        with pytest.raises(ValueError, match='Peer access'):
            cp.exp(a)
        copy = cp.array(a)                    # an explicit copy may cross devices
        assert copy.device.id == 1
        b[...] = a                            # same shape and dtype: one memcpy
        assert cp.asarray(a) is a             # asarray does not move an array
    with pytest.raises(RuntimeError, match='invalid device'):
        with cp.cuda.Device(5):
            pass


def test_ufuncs_and_namespaces():
    g = cp.zeros(3)
    cp.add.at(g, cp.array([0, 0, 2]), 1.0)
    np.testing.assert_array_equal(g.get(), [2.0, 0.0, 1.0])
    out = cp.zeros(3)
    cp.add(cp.ones(3), cp.ones(3), out=out)
    np.testing.assert_array_equal(out.get(), [2.0, 2.0, 2.0])
    r = cp.random.RandomState(0)
    assert r.standard_normal((4,), dtype=np.float32).dtype == np.float32
    assert r.randint(0, 5, (3,), dtype=np.int32).dtype == np.int32
    windows = cp.lib.stride_tricks.sliding_window_view(cp.arange(5), 3)
    assert windows.shape == (3, 3) and isinstance(windows, cp.ndarray)
    with pytest.raises(AttributeError, match='stand-in has no attribute'):
        cp.not_a_numpy_name


def test_linalg_results_are_plain_tuples_as_in_cupy():
    q, r = result = cp.linalg.qr(cp.eye(3) * 2)       # NumPy's is a named QRResult
    assert type(result) is tuple and isinstance(q, cp.ndarray)
    assert_allclose(abs(r.get()), 2 * np.eye(3))


def test_random_state_samplers_have_cupys_names_and_rules():
    r = cp.random.RandomState(0)
    methods = [m for m in vars(cp.RandomState) if not m.startswith('_')]
    assert not [m for m in methods if f'random.{m}' not in cupy_names()]
    assert r.poisson(3.0, (4,)).dtype == np.int64
    assert r.standard_exponential((4,), dtype=np.float32).dtype == np.float32
    assert r.standard_gamma(cp.array([1.0, 2.0])).shape == (2,)   # array parameters
    with pytest.raises(TypeError, match='Unsupported type'):
        r.poisson(np.ones(2))
    shape = cp.ones(2)                                             # on device 0
    with cp.cuda.Device(1), pytest.raises(ValueError, match='current device'):
        r.standard_gamma(shape)


def test_cupyx_special_functions_while_the_standin_is_cupy():
    before = sys.modules.get('cupyx')
    with cp.installed(devices=2):
        import cupyx.scipy.special as special
        assert special is cp.cupyx.scipy.special
        x = cp.array([0.5, 1.0, 4.0, 0.0, -1.0])
        assert_allclose(special.gamma(x).get(), [np.pi ** 0.5, 1, 6, np.inf, np.nan])
        assert_allclose(special.gammaln(x[:3]).get(), np.log([np.pi ** 0.5, 1, 6]))
        assert_allclose(special.digamma(x[1:2]).get(), [-0.5772156649015329])
        y = cp.array([-0.999999, -0.3, 0.0, 0.7, 1.0, 1.5])
        scipy = [-3.458910737275499, -0.2724627147267544, 0.0, 0.7328690779592169]
        assert_allclose(special.erfinv(y)[:4].get(), scipy, rtol=1e-12)
        assert_allclose(special.erf(special.erfinv(y)).get(), [*y.get()[:5], np.nan])
        assert special.erf(cp.ones(2, dtype=np.float32)).dtype == np.float32
        with pytest.raises(TypeError, match='Unsupported type'):
            special.erf(np.ones(2))
        with cp.cuda.Device(1), pytest.raises(ValueError, match='current device'):
            special.erf(x)
    assert sys.modules.get('cupyx') is before


def test_memory_pool_caches_until_freed_and_limits_memory():
    cp.configure(devices=1, memory=8 * 2 ** 20)
    try:
        pool = cp.get_default_memory_pool()
        pool.free_all_blocks()
        before = pool.used_bytes()
        a = cp.zeros((1024, 1024), dtype=np.float32)            # 4 MiB
        assert pool.used_bytes() - before == 4 * 2 ** 20
        del a
        assert pool.used_bytes() == before and pool.free_bytes() == 4 * 2 ** 20
        free, total = cp.cuda.runtime.memGetInfo()
        assert total == 8 * 2 ** 20 and free == total - before - 4 * 2 ** 20
        pool.free_all_blocks()
        assert pool.free_bytes() == 0
        with pytest.raises(cp.cuda.memory.OutOfMemoryError, match='allocating') as info:
            cp.zeros((4096, 1024), dtype=np.float32)             # 16 MiB
        assert isinstance(info.value, MemoryError) and info.value._size == 16 * 2 ** 20
    finally:
        cp.configure()


# --- minimx on the stand-in -------------------------------------------------


def test_contexts_copies_and_random_on_standin_gpus(gpus):
    assert mx.num_gpus() == 2
    x = nd.arange(6, ctx=mx.gpu(1)).reshape((2, 3))
    assert isinstance(x._data, cp.ndarray) and x._data.device.id == 1
    assert_allclose((x * 2 + 1).asnumpy(), np.arange(6).reshape(2, 3) * 2 + 1)
    y = x.copyto(mx.gpu(0))
    assert y.context == mx.gpu(0) and y._data.device.id == 0
    assert x.as_in_context(mx.cpu()).context == mx.cpu()
    assert isinstance(np.asarray(x), np.ndarray)       # NDArray copies to the host
    mx.random.seed(3)
    first = nd.random.normal(shape=(4,), ctx=mx.gpu(1)).asnumpy()
    mx.random.seed(3)
    again = nd.random.normal(shape=(4,), ctx=mx.gpu(1)).asnumpy()
    assert_allclose(first, again)
    nd.waitall()
    x.wait_to_read()


def test_gpu_contexts_do_not_outlive_the_standin():
    real = mx.num_gpus()
    with cp.installed(devices=2):
        assert mx.gpu(1).xp is cp and mx.num_gpus() == 2
    assert ('gpu', 1) not in mx.Context._interned and mx.num_gpus() == real


@pytest.mark.parametrize('fn', [lambda x: x.transpose((1, 0, 2)),
                                lambda x: nd.transpose(x, axes=(2, 0, 1)),
                                lambda x: nd.concat(x, x * 2, dim=1),
                                lambda x: nd.concat(x, x, dim=-1)])
def test_backward_rules_give_cupy_python_ints(gpus, fn):
    # CuPy refuses NumPy arrays as axes and split points: the rules pass tuples of ints
    x = nd.arange(24, ctx=mx.gpu(1)).reshape((2, 3, 4))
    host = nd.arange(24).reshape((2, 3, 4))
    grads = []
    for a in (x, host):
        a.attach_grad()
        with autograd.record():
            y = fn(a)
        y.backward(nd.arange(y.size, ctx=a.context).reshape(y.shape))
        grads.append(a.grad.asnumpy())
    assert_allclose(grads[0], grads[1])


def lenet():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, kernel_size=3, padding=1, activation='relu'),
            nn.MaxPool2D(pool_size=2), nn.Flatten(), nn.Dense(10))
    return net


def train_losses(ctxs, steps=3):
    mx.random.seed(0)
    net = lenet()
    net.initialize(mx.init.Xavier(), ctx=ctxs)
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': 0.1, 'momentum': 0.9})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    rng = np.random.default_rng(0)
    data = nd.array(rng.random((8, 1, 8, 8), dtype=np.float32))
    label = nd.array(np.arange(8) % 10, dtype='int32')
    losses = []
    for _ in range(steps):
        parts = gluon.utils.split_and_load(data, ctxs)
        labels = gluon.utils.split_and_load(label, ctxs)
        with autograd.record():
            ls = [loss_fn(net(x), y) for x, y in zip(parts, labels)]
        for loss in ls:
            loss.backward()
        trainer.step(8)
        losses.append(sum(float(loss.sum().asscalar()) for loss in ls))
    return losses


@pytest.mark.parametrize('which', ['gpu1', 'gpu0+gpu1', 'cpu0+gpu1'])
def test_training_on_standin_gpus_matches_cpu(gpus, which):
    ctxs = {'gpu1': [mx.gpu(1)], 'gpu0+gpu1': gpus,
            'cpu0+gpu1': [mx.cpu(0), mx.gpu(1)]}[which]
    assert_allclose(train_losses(ctxs), train_losses([mx.cpu(0)]), rtol=1e-5)


# --- every xp.<name> minimx calls exists in CuPy -----------------------------


@functools.lru_cache(maxsize=None)
def names_minimx_calls() -> dict:
    """{'add.at': 'minimx/ndarray/nn.py', ...} for every `xp.<name>` in the package."""
    found = {}
    for path in sorted((ROOT / 'minimx').rglob('*.py')):
        if path.name == '_cupy_standin.py':
            continue
        text = path.read_text()
        for name in XP_NAME.findall(text) + [f'cuda.nccl.NcclCommunicator.{m}'
                                             for m in COMM_CALL.findall(text)]:
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def nccl_signatures() -> dict:
    """{name: [parameters] or None} from tests/data/cupy_nccl_names.txt."""
    found = {}
    for line in NCCL_NAMES.read_text().splitlines():
        if line and not line.startswith('#'):
            name, _, params = line.partition('(')
            found[name] = [p.strip() for p in params.rstrip(')').split(',')
                           if p.strip()] if params else None
    return found


def cupy_names() -> set:
    lines = NAMES.read_text().splitlines()
    return {line for line in lines if line and not line.startswith('#')} | set(
        nccl_signatures())


def test_every_xp_name_minimx_calls_exists_in_cupy():
    names = names_minimx_calls()
    assert len(names) > 20                       # the scan found the package's calls
    known = cupy_names()
    missing = {n: where for n, where in names.items() if n not in known
               and n.split('.')[0] not in known - set(WALK)}
    assert not missing, f"not in CuPy (tests/data/cupy_names.txt): {missing}"


def test_the_standin_has_every_name_minimx_calls():
    missing = []
    for name in names_minimx_calls():
        try:
            functools.reduce(getattr, name.split('.'), cp)
        except AttributeError:
            missing.append(name)
    assert not missing


def test_the_standins_nccl_has_cupys_names_and_parameters():
    import inspect
    known = nccl_signatures()
    calls = set(names_minimx_calls())           # the scan sees minimx's NCCL calls
    assert {'cuda.nccl.groupStart', 'cuda.nccl.groupEnd', 'cuda.nccl.NCCL_SUM',
            'cuda.nccl.NcclCommunicator.initAll',
            'cuda.nccl.NcclCommunicator.allReduce'} <= calls
    shim = {f'cuda.nccl.{n}': v for n, v in vars(cp.cuda.nccl).items()}
    shim.update({f'cuda.nccl.NcclCommunicator.{n}': v
                 for n, v in vars(cp.NcclCommunicator).items()
                 if not n.startswith('_')})
    assert not set(shim) - set(known)
    for name, params in known.items():
        if params is not None and name in shim:
            fn = shim[name]
            fn = fn.__func__ if isinstance(fn, staticmethod) else fn
            got = [p for p in inspect.signature(fn).parameters if p != 'self']
            assert got == params, name


def write_cupy_names() -> None:
    import types

    import cupy
    names = set()

    def walk(obj, prefix):
        for n in dir(obj):
            if n.startswith('_'):
                continue
            try:
                value = getattr(obj, n)
            except Exception:          # some CUDA-only attributes fail without a GPU
                continue
            path = prefix + n
            names.add(path)
            if path in WALK and isinstance(value, types.ModuleType):
                walk(value, path + '.')
            elif isinstance(value, cupy.ufunc):
                names.update(f'{path}.{m}' for m in ('at', 'reduce', 'accumulate',
                                                     'outer', 'reduceat')
                             if hasattr(value, m))
    walk(cupy, '')
    import cupy.cuda.nccl as nccl
    if nccl.available:       # else CuPy's module is empty: the list stays as written
        ours = set(nccl_signatures())
        theirs = {f'cuda.nccl.{n}' for n in dir(nccl) if not n.startswith('_')} | {
            f'cuda.nccl.NcclCommunicator.{n}' for n in dir(nccl.NcclCommunicator)
            if not n.startswith('_')}
        print('cupy_nccl_names.txt names CuPy lacks:', sorted(ours - theirs - {
            'cuda.nccl'}))
    NAMES.write_text(f'# Public names of CuPy {cupy.__version__}: the top level, '
                     f'{", ".join(WALK)},\n# and ufunc methods. Written by '
                     '`python tests/test_cupy_standin.py --write-cupy-names`.\n'
                     + '\n'.join(sorted(names)) + '\n')
    print(f'{len(names)} names written to {NAMES}')


if __name__ == '__main__' and '--write-cupy-names' in sys.argv:
    write_cupy_names()
