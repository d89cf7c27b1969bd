"""Chapter 1: devices (`mx.cpu`, `mx.gpu`, the default-context stack, GPU fallback)."""

import pickle
import threading

import pytest

import minimx as mx
import minimx.context
from minimx.context import Context

pytestmark = pytest.mark.ch02


def test_cpu_contexts_are_interned_and_distinct():
    assert mx.cpu(0) is mx.cpu(0)
    assert mx.cpu() is mx.cpu(0)
    assert Context('cpu', 1) is mx.cpu(1)
    assert Context(mx.cpu(1)) is mx.cpu(1)
    assert mx.cpu(0) != mx.cpu(1)
    assert mx.cpu(1).device_type == 'cpu' and mx.cpu(1).device_id == 1
    assert not mx.cpu(0).is_gpu


def test_repr():
    assert repr(mx.cpu(0)) == 'cpu(0)'
    assert repr(mx.cpu(3)) == 'cpu(3)'


def test_bad_contexts_raise():
    with pytest.raises(mx.base.MXNetError, match=r"unknown device type 'tpu'.*mx\.cpu"):
        Context('tpu', 0)
    with pytest.raises(mx.base.MXNetError, match=r'device id must be >= 0, got -1'):
        mx.cpu(-1)


def test_with_context_nests_and_restores():
    assert mx.current_context() is mx.cpu(0)
    with mx.cpu(1) as ctx:
        assert ctx is mx.cpu(1)
        assert mx.current_context() is mx.cpu(1)
        with mx.cpu(2):
            assert mx.current_context() is mx.cpu(2)
        assert mx.current_context() is mx.cpu(1)
    assert mx.current_context() is mx.cpu(0)


def test_current_context_restored_after_exception():
    with pytest.raises(RuntimeError):
        with mx.cpu(1):
            with mx.cpu(2):
                raise RuntimeError('boom')
    assert mx.current_context() is mx.cpu(0)
    with mx.cpu(3):
        with pytest.raises(KeyError):
            with mx.cpu(4):
                raise KeyError
        assert mx.current_context() is mx.cpu(3)


def test_default_context_is_per_thread():
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def worker():
        seen['start'] = mx.current_context()
        with mx.cpu(5):
            seen['inside'] = mx.current_context()
            inside.set()
            release.wait(5)

    with mx.cpu(1):
        t = threading.Thread(target=worker)
        t.start()
        assert inside.wait(5)
        assert mx.current_context() is mx.cpu(1)   # the worker's `with` is not ours
        release.set()
        t.join(5)
    assert seen == {'start': mx.cpu(0), 'inside': mx.cpu(5)}
    assert mx.current_context() is mx.cpu(0)


def test_try_gpu_falls_back_to_cpu_without_gpus(monkeypatch):
    monkeypatch.setattr(minimx.context, 'num_gpus', lambda: 0)
    assert mx.try_gpu() is mx.cpu(0)
    assert mx.try_gpu(1) is mx.cpu(0)
    assert mx.try_all_gpus() == [mx.cpu(0)]


def test_gpu_without_cupy_explains_the_fix(monkeypatch):
    monkeypatch.setattr(minimx.context, '_import_cupy', lambda: None)
    # Forget any GPU context a GPU session created earlier, so gpu(0) is built anew.
    monkeypatch.setattr(Context, '_interned',
                        {k: v for k, v in Context._interned.items() if k[0] != 'gpu'})
    assert mx.num_gpus() == 0
    with pytest.raises(mx.base.MXNetError) as err:
        mx.gpu(0)
    msg = str(err.value)
    assert 'gpu(0)' in msg and 'CuPy' in msg and 'pip install cupy' in msg
    assert 'mx.cpu()' in msg


def test_gpu_beyond_count_explains(monkeypatch):
    class FakeCupy:
        pass
    monkeypatch.setattr(minimx.context, '_import_cupy', lambda: FakeCupy)
    monkeypatch.setattr(minimx.context, 'num_gpus', lambda: 0)
    with pytest.raises(mx.base.MXNetError, match=r'gpu\(9\).*0 usable GPU.*mx\.cpu\(\)'):
        mx.gpu(9)


@pytest.mark.parametrize('ctx', [mx.cpu(0), mx.cpu(3)])
def test_pickle_round_trips_to_the_same_object(ctx):
    assert pickle.loads(pickle.dumps(ctx)) is ctx
    assert pickle.loads(pickle.dumps([ctx, ctx])) == [ctx, ctx]


def test_host_memory_contexts_are_accepted_and_print_as_mxnet():
    pinned, shared = Context('cpu_pinned', 0), Context('cpu_shared', 2)
    assert repr(pinned) == 'cpu_pinned(0)' and repr(shared) == 'cpu_shared(2)'
    assert Context('cpu_pinned', 0) is pinned and Context('cpu_pinned') is pinned
    assert pinned != mx.cpu(0) and not pinned.is_gpu and not shared.is_gpu
    assert pinned.xp is shared.xp is mx.cpu(0).xp                       # NumPy
    assert pickle.loads(pickle.dumps(shared)) is shared
    assert minimx.context.as_context('cpu_shared', 'test') is Context('cpu_shared', 0)
    with pinned:
        assert mx.current_context() is pinned
    with pytest.raises(mx.base.MXNetError, match=r"unknown device type 'cpu_fast'"):
        Context('cpu_fast', 0)


def test_cupy_standin_switch(monkeypatch):
    """MINIMX_CUPY_STANDIN=<n> makes minimx import its NumPy-backed CuPy stand-in with
    n devices, so that a test run exercises the GPU code paths without a GPU."""
    from minimx import _cupy_standin
    monkeypatch.setattr(Context, '_interned',       # GPU contexts made here stay here
                        {k: v for k, v in Context._interned.items() if k[0] != 'gpu'})
    monkeypatch.setenv('MINIMX_CUPY_STANDIN', '3')
    try:
        assert minimx.context._import_cupy() is _cupy_standin
        assert mx.num_gpus() == 3
        assert mx.gpu(2).xp is _cupy_standin and mx.gpu(2).is_gpu
        x = mx.nd.ones((2,), ctx=mx.gpu(2)) * 2
        assert x.context is mx.gpu(2) and x.asnumpy().tolist() == [2, 2]
        monkeypatch.delenv('MINIMX_CUPY_STANDIN')
        assert minimx.context._import_cupy() is not _cupy_standin
    finally:
        _cupy_standin.configure()
