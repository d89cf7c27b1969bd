#!/usr/bin/env bash
# The checks that need a real CUDA GPU (Chapter 9, issue 11). Run from anywhere on a
# machine with an NVIDIA GPU and driver:
#
#     bash bench/gpu_check.sh            # CUDA 12 wheels; CUPY=cupy-cuda13x for CUDA 13
#
# It installs CuPy, NVML's binding and PyTorch (CUDA) into .venv if they are missing,
# then: 1. what CuPy and NVML see; 2. the gpu-marked tests and the chapter's own tests
# on the real device; 3. LeNet trained on gpu(0) (and on [gpu(0), gpu(1)] with two
# GPUs) against cpu(0), step by step, and with two GPUs kv.create('nccl') through
# NCCL's allreduce (cupy.cuda.nccl; the NCCL wheel is installed if CuPy lacks it) next
# to 'device' and 'local'; 4. Chapter 9 under nbval with the GPU visible;
# 5. MLP and LeNet training steps/s on gpu(0), minimx next to PyTorch, in one call.
# Every section runs even if an earlier one fails; the exit status says whether all
# passed.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! nvidia-smi >/dev/null 2>&1; then
    echo "gpu_check: no NVIDIA GPU or driver here (nvidia-smi fails); nothing to check"
    exit 2
fi
PY=.venv/bin/python
[ -x "$PY" ] || make setup
failed=0
section() { echo; echo "== $*"; }
check() { "$@" || { echo "FAILED: $*"; failed=1; }; }

section "0. installing what a GPU run needs (if missing)"
$PY -c "import cupy" 2>/dev/null || check $PY -m pip install -q "${CUPY:-cupy-cuda12x}>=13"
$PY -c "import pynvml" 2>/dev/null || check $PY -m pip install -q nvidia-ml-py
$PY -c "import torch" 2>/dev/null || check $PY -m pip install -q torch
nccl_ok() {
    $PY -c "import cupy.cuda.nccl as n, sys; sys.exit(0 if n.available else 1)"
}
nccl_ok 2>/dev/null || $PY -m pip install -q "${NCCL:-nvidia-nccl-cu12}" || true
nccl_ok 2>/dev/null || $PY -m cupyx.tools.install_library --library nccl \
    --cuda "${CUDA_VERSION_FOR_CUPY:-12.x}" || true
$PY -c "import cupy.cuda.nccl as n; print('cupy.cuda.nccl.available:', n.available)"
nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv || true

section "1. what minimx sees"
check $PY - <<'PY'
import minimx as mx
print('mx.num_gpus():', mx.num_gpus())
for i in range(mx.num_gpus()):
    free, total = mx.context.gpu_memory_info(i)
    print(f'gpu({i}): {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB')
PY
check $PY -m minimx.gpu_tools

section "2. gpu-marked tests, and Chapter 9's tests, on the real device"
check $PY -m pytest -q -p no:cacheprovider -m gpu tests
check $PY -m pytest -q -p no:cacheprovider tests/test_gpu_tools.py \
    tests/test_multidevice.py tests/test_cupy_standin.py tests/test_dist.py

section "3. LeNet on gpu(0) (and two GPUs) against cpu(0), step by step"
check $PY - <<'PY'
import numpy as np
import minimx as mx
from minimx import autograd, gluon, nd
from minimx.gluon import nn

def losses(ctxs, steps=10, **trainer_args):
    mx.random.seed(0)
    net = nn.HybridSequential()
    net.add(nn.Conv2D(16, kernel_size=3, padding=1, activation='relu'),
            nn.MaxPool2D(pool_size=2), nn.Conv2D(32, kernel_size=3, activation='relu'),
            nn.Flatten(), nn.Dense(64, activation='relu'), nn.Dense(10))
    net.initialize(mx.init.Xavier(), ctx=ctxs)
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': 0.05, 'momentum': 0.9}, **trainer_args)
    loss_fn, out = gluon.loss.SoftmaxCrossEntropyLoss(), []
    loader = gluon.data.DataLoader(gluon.data.vision.Digits(train=True), 64)
    for _, (data, label) in zip(range(steps), loader):
        parts = gluon.utils.split_and_load(data, ctxs)
        labels = gluon.utils.split_and_load(label, ctxs)
        with autograd.record():
            ls = [loss_fn(net(x), y) for x, y in zip(parts, labels)]
        for l in ls:
            l.backward()
        trainer.step(64)
        out.append(sum(float(l.sum().asscalar()) for l in ls) / 64)
    return np.array(out)

reference = losses([mx.cpu(0)])
runs = {'gpu(0)': ([mx.gpu(0)], {})}
if mx.num_gpus() >= 2:
    two = [mx.gpu(0), mx.gpu(1)]
    runs['gpu(0), gpu(1)'] = (two, {})
    runs['cpu(0), gpu(1)'] = ([mx.cpu(0), mx.gpu(1)], {})
    for kind in ['local', 'device', 'nccl']:
        for on_store in [False, True]:
            store = mx.kv.create(kind)
            runs[f'{kind}, update_on_kvstore={on_store}'] = (
                two, {'kvstore': store, 'update_on_kvstore': on_store})
else:
    print('one GPU: the NCCL allreduce needs two; kv.create("nccl") not exercised')
ok = True
for name, (ctxs, args) in runs.items():
    gap = float(np.abs(losses(ctxs, **args) - reference).max())
    ok &= gap < 1e-4
    print(f'[{name}] largest loss difference to cpu(0) over 10 steps: {gap:.1e}')
    store = args.get('kvstore')
    if store is not None and store.type == 'nccl':
        from minimx.kvstore import _nccl_available
        available = _nccl_available(mx.gpu(0).xp)
        print(f'    NCCL communicators made: {len(store._comms)} '
              f'(cupy.cuda.nccl.available={available})')
        ok &= bool(store._comms) or not available
raise SystemExit(0 if ok else 1)
PY

section "4. Chapter 9 under nbval, with the GPU visible"
check $PY -m pytest -q -p no:cacheprovider --nbval --nbval-current-env book/09_devices.ipynb

section "5. training steps/s on gpu(0): minimx next to PyTorch"
check $PY - <<'PY'
import time
import numpy as np
import minimx as mx
from minimx import autograd, gluon, nd
from minimx.gluon import nn

def timed(step, n=50):
    for _ in range(5):
        step()
    best = float('inf')
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            step()
        best = min(best, (time.perf_counter() - start) / n)
    return 1 / best

def minimx_step(kind, batch):
    ctx = mx.gpu(0)
    net = nn.HybridSequential()
    if kind == 'mlp':
        net.add(nn.Dense(256, activation='relu'), nn.Dense(10))
        shape = (batch, 784)
    else:
        net.add(nn.Conv2D(6, 5, padding=2, activation='relu'), nn.MaxPool2D(2),
                nn.Conv2D(16, 5, activation='relu'), nn.MaxPool2D(2), nn.Flatten(),
                nn.Dense(120, activation='relu'), nn.Dense(84, activation='relu'),
                nn.Dense(10))
        shape = (batch, 1, 28, 28)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    x = nd.random.normal(shape=shape, ctx=ctx)
    y = nd.array(np.random.randint(0, 10, batch), ctx=ctx)
    def step():
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(batch)
        nd.waitall()
    return step

def torch_step(kind, batch):
    import torch
    dev = torch.device('cuda:0')
    if kind == 'mlp':
        net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                  torch.nn.Linear(256, 10))
        shape = (batch, 784)
    else:
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
            torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
        shape = (batch, 1, 28, 28)
    net = net.to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x = torch.randn(shape, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        torch.cuda.synchronize()
    return step

for kind, batch in [('mlp', 256), ('lenet', 128)]:
    line = f'{kind:5s} batch {batch}: minimx {timed(minimx_step(kind, batch)):8.1f} steps/s'
    try:
        line += f', PyTorch {timed(torch_step(kind, batch)):8.1f} steps/s'
    except Exception as err:          # no torch, or no CUDA build of it
        line += f', PyTorch not run ({type(err).__name__}: {err})'
    print(line)
PY

echo
[ "$failed" = 0 ] && echo "gpu_check: all sections passed" || echo "gpu_check: some sections FAILED"
exit $failed
