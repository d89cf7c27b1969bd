"""Chapter 9: GPU memory tools (mx.context.gpu_memory_info, Context.empty_cache,
minimx.gpu_tools) on the CuPy stand-in and with a fake NVML; and
`python -m minimx.gpu_tools` on this machine."""

import gc
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

import minimx as mx
from minimx import _cupy_standin as cp
from minimx import gpu_tools, nd
from minimx.base import MXNetError

pytestmark = pytest.mark.ch09

MiB = 2 ** 20


class FakeNVML:
    """An NVML with two GPUs and the given [(device, pid, bytes)] processes."""

    def __init__(self, processes):
        self.processes = processes

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [SimpleNamespace(pid=pid, usedGpuMemory=used)
                for device, pid, used in self.processes if device == handle]


IMPOSSIBLE_PID = 2 ** 22 + 12345          # above Linux's largest pid_max


def wait_for_command(pid: int, text: bytes, seconds: float = 20.0) -> None:
    """Until a new process has exec'd: before, its /proc cmdline is its parent's."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            if text in f.read():
                return
        time.sleep(0.01)
    pytest.fail(f'process {pid} did not start {text!r} within {seconds} s')


def test_processes_are_described_from_proc():
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    try:
        wait_for_command(child.pid, b'time.sleep(30)')
        nvml = FakeNVML([(0, os.getpid(), 3 * 2 ** 30), (1, child.pid, None),
                         (1, IMPOSSIBLE_PID, 5 * MiB)])
        procs = gpu_tools.gpu_processes(nvml)
        assert [(p.device, p.pid) for p in procs] == [
            (0, os.getpid()), (1, child.pid), (1, IMPOSSIBLE_PID)]
        assert procs[0].state == 'this process' and procs[0].used_bytes == 3 * 2 ** 30
        assert procs[1].state == 'running' and 'time.sleep(30)' in procs[1].command
        assert procs[2].state.startswith('not visible here') and procs[2].command == ''
        text = gpu_tools.report(nvml)
        assert '3.0 GiB' in text and 'an unknown amount' in text and 'kill PID' in text
        assert str(child.pid) in text
    finally:
        child.kill()
        child.wait()


def test_orphans_are_named():
    # A shell starts a sleeper in the background and exits: init adopts the sleeper.
    out = subprocess.run(['sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!'],
                         capture_output=True, text=True, check=True)
    pid = int(out.stdout)
    try:
        (proc,) = gpu_tools.gpu_processes(FakeNVML([(0, pid, MiB)]))
        with open(f'/proc/{pid}/stat') as f:
            parent = int(f.read().rsplit(')', 1)[1].split()[1])
        if parent != 1:
            pytest.skip(f'a subreaper (pid {parent}) adopted the orphan, not init')
        assert proc.state == 'orphaned: its parent has exited'
    finally:
        os.kill(pid, 9)


def test_without_nvml_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pynvml', None)
    with pytest.raises(gpu_tools.GPUToolsUnavailable, match='nvidia-ml-py'):
        gpu_tools.gpu_processes()
    assert gpu_tools.report().startswith('Cannot list the processes holding GPU memory')
    assert gpu_tools.report(FakeNVML([])) == 'No process holds memory on any GPU.'


def test_command_line_runs_without_a_gpu():
    done = subprocess.run([sys.executable, '-m', 'minimx.gpu_tools'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ('Cannot list' in done.stdout or 'GPU' in done.stdout), done.stdout


def test_gpu_memory_info_without_a_gpu_is_a_clear_error():
    if mx.num_gpus():
        pytest.skip('this machine has a GPU')
    with pytest.raises(MXNetError, match=r'gpu\(0\)'):
        mx.context.gpu_memory_info(0)
    mx.cpu(0).empty_cache()                  # nothing to give back, and no error


def test_memory_info_pool_and_empty_cache_on_the_standin():
    gc.collect()          # arrays of earlier tests, kept by reference cycles, are freed
    with cp.installed(devices=2, memory=64 * MiB):
        mx.gpu(1).empty_cache()
        free, total = mx.context.gpu_memory_info(1)
        assert total == 64 * MiB
        x = nd.zeros((1024, 1024), ctx=mx.gpu(1))            # 4 MiB
        info = gpu_tools.memory_pool_info(1)
        assert info['used'] - (total - free) == 4 * MiB
        assert gpu_tools.memory_pool_info(0)['used'] == 0     # one pool per device
        del x
        assert gpu_tools.memory_pool_info(1)['cached'] >= 4 * MiB
        mx.gpu(1).empty_cache()
        info = gpu_tools.memory_pool_info(1)
        assert info['cached'] == 0 and info['free'] == total - info['used']


def test_out_of_memory_error_explains():
    with cp.installed(devices=1, memory=16 * MiB):
        mx.gpu(0).empty_cache()
        keep = nd.ones((1024, 1024), ctx=mx.gpu(0))          # 4 MiB stay in use
        with pytest.raises(MemoryError) as info:
            nd.zeros((4096, 2048), ctx=mx.gpu(0))            # 32 MiB
        cause = info.value.__cause__ or info.value
        nvml = FakeNVML([(0, IMPOSSIBLE_PID, 9 * MiB)])
        err = gpu_tools.out_of_memory_error(mx.gpu(0), cause, nvml=nvml)
        assert isinstance(err, MemoryError) and isinstance(err, MXNetError)
        text = str(err)
        assert text.startswith('gpu(0): out of memory allocating 32.0 MiB.')
        assert 'free of 16.0 MiB' in text and '4.0 MiB in live arrays' in text
        assert f'PID {IMPOSSIBLE_PID} (9.0 MiB, not visible here)' in text
        assert 'mx.gpu(0).empty_cache()' in text
        assert 'python -m minimx.gpu_tools' in text
        assert gpu_tools.out_of_memory_error(mx.gpu(0), err) is err
        del keep
    with cp.installed(devices=1, memory=16 * MiB):
        text = str(gpu_tools.out_of_memory_error(mx.gpu(0), MemoryError('x'),
                                                 nvml=None))
        assert 'an unknown amount' in text


def test_size_formatting():
    sizes = (0, 1023, 1024, 5 * MiB, 3 * 2 ** 30, None)
    assert [gpu_tools._size(n) for n in sizes] == [
        '0 bytes', '1023 bytes', '1.0 KiB', '5.0 MiB', '3.0 GiB', 'an unknown amount']
