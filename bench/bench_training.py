"""Training and inference speed, and peak memory (Chapters 7 and 11).

Workloads, float32, on random data (speed does not depend on the values):
  * MLP 784-256-10, ReLU, softmax cross-entropy, SGD, batch 256 and batch 32: train steps/s
  * LeNet (conv 6@5x5 pad 2 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 -> 10) on
    batches of 128 and 32 of 1x28x28: train steps/s; inference images/s at batch 128
Each framework runs in its own process, so that its peak RSS is its own: the hand-written
NumPy reference (bench/reference_numpy.py), minimx imperative, minimx hybridized
(`net.hybridize(static_alloc=True)`, Chapter 11), and PyTorch when it is installed.
With MXNET_PYTHON set to a Python that has MXNet 1.9.1, the same Gluon program (one
text, `import mxnet` instead of `import minimx`) runs on MXNet too, both ways.
Every process gets one BLAS/OpenMP thread (and PyTorch one intra-op thread), unless
OMP_NUM_THREADS is set, so that the numbers compare the frameworks, not the cores.

Targets (issues 5 and 12): minimx train step <= 1.10x the NumPy reference's time;
hybridized >= 1.1x imperative's steps/s at batch 32 and no slower than the NumPy
reference; hybridized LeNet inference >= 0.8x PyTorch's images/s; peak RSS <= 1.5x the
NumPy reference's, and hybridized below imperative.
"""
import gc
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MLP_BATCH, LENET_BATCH, SMALL_BATCH = 256, 128, 32
THREADS = os.environ.get('OMP_NUM_THREADS', '1')
# A Python with MXNet 1.9.1 (pip install mxnet==1.9.1 "numpy<1.24" in a side virtualenv):
# when set, the same Gluon program runs on MXNet too, imperative and hybridized.
MXNET_PYTHON = os.environ.get('MXNET_PYTHON')


def timed(fn, steps: int, rounds: int = 3, sync=lambda: None) -> float:
    """Best-of-rounds seconds per call, after a warm-up; `sync()` waits for
    asynchronous work (MXNet's engine) at the end of the warm-up and of each round."""
    for _ in range(2):
        fn()
    sync()
    best = float('inf')
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def data(rng, shape, n):
    return rng.standard_normal((n,) + shape).astype(np.float32), \
        rng.integers(0, 10, n).astype(np.int32)


def _workloads():
    sys.path.insert(0, HERE)
    import reference_numpy as ref
    return [('mlp', ref.MLP, (784,), MLP_BATCH, 20), ('mlp32', ref.MLP, (784,), SMALL_BATCH, 60),
            ('lenet', ref.LeNet, (1, 28, 28), LENET_BATCH, 4),
            ('lenet32', ref.LeNet, (1, 28, 28), SMALL_BATCH, 12)]


WORKLOADS = _workloads()


def run_numpy() -> dict:
    rng = np.random.default_rng(0)
    results = {}
    for name, model, shape, batch, steps in WORKLOADS:
        gc.collect()          # the previous workload's objects go before this one starts
        net = model(rng)
        x, y = data(rng, shape, batch)
        results[f'{name}_step'] = timed(lambda: net.step(x, y, 0.01), steps)
        if name == 'lenet':
            results['lenet_infer'] = timed(lambda: net.predict(x), 20)
    return results


def run_gluon(package: str = 'minimx', hybrid: bool = False) -> dict:
    """The Gluon program, the same text for minimx and for MXNet 1.9.1 (`package`)."""
    sys.path.insert(0, os.path.dirname(HERE))
    import importlib
    mx = importlib.import_module(package)
    from gluon_nets import lenet, mlp
    autograd, gluon, nd = mx.autograd, mx.gluon, mx.nd
    mx.random.seed(0)
    rng = np.random.default_rng(0)

    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    makers = {'mlp': mlp, 'mlp32': mlp, 'lenet': lenet, 'lenet32': lenet}
    results = {}
    for name, _, shape, batch, steps in WORKLOADS:
        gc.collect()          # a Block lives in a reference cycle (as in MXNet): free the
        net = makers[name](gluon.nn)     # previous workload's network before this one
        net.initialize(mx.init.Xavier())
        if hybrid:
            net.hybridize(static_alloc=True)
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
        x, y = data(rng, shape, batch)
        x, y = nd.array(x), nd.array(y, dtype='int32')

        def step():
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(batch)
        # MXNet runs asynchronously: every timed round ends by waiting for its work
        results[f'{name}_step'] = timed(step, steps, sync=nd.waitall)
        if name == 'lenet':
            results['lenet_infer'] = timed(lambda: net(x).wait_to_read(), 20)
    return results


def run_torch() -> dict:
    import torch
    from torch import nn
    torch.set_num_threads(int(THREADS))
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
    loss_fn = nn.CrossEntropyLoss()
    nets = {'mlp': mlp, 'mlp32': mlp, 'lenet': lenet, 'lenet32': lenet}
    results = {}
    for name, _, shape, batch, steps in WORKLOADS:
        gc.collect()
        net = nets[name]
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        x, y = data(rng, shape, batch)
        x, y = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

        def step():
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
        results[f'{name}_step'] = timed(step, steps)
        if name == 'lenet':
            with torch.no_grad():
                results['lenet_infer'] = timed(lambda: net(x), 20)
    return results


def child(framework: str) -> None:
    results = {'numpy': run_numpy, 'minimx': run_gluon, 'torch': run_torch,
               'hybrid': lambda: run_gluon(hybrid=True),
               'mxnet': lambda: run_gluon('mxnet'),
               'mxnet-hybrid': lambda: run_gluon('mxnet', hybrid=True)}[framework]()
    results['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results))


def measure(framework: str) -> dict | None:
    env = dict(os.environ, OMP_NUM_THREADS=THREADS, OPENBLAS_NUM_THREADS=THREADS,
               MKL_NUM_THREADS=THREADS)
    python = MXNET_PYTHON if framework.startswith('mxnet') else sys.executable
    proc = subprocess.run([python, __file__, '--child', framework],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        if framework == 'torch' and 'No module named' in proc.stderr:
            return None
        raise RuntimeError(f"{framework} benchmark failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(runs: list) -> dict | None:
    """Per metric, the best of several runs (least time, least memory)."""
    runs = [r for r in runs if r is not None]
    return {k: min(r[k] for r in runs) for k in runs[0]} if runs else None


FRAMEWORKS = ('numpy', 'minimx', 'hybrid', 'torch') + \
    (('mxnet', 'mxnet-hybrid') if MXNET_PYTHON else ())


def main(rounds: int = 3) -> None:
    # The frameworks take turns, `rounds` times, so that a slow spell of the machine
    # (other load, CPU frequency) does not fall on one of them only.
    runs: dict = {fw: [] for fw in FRAMEWORKS}
    for _ in range(rounds):
        for fw in runs:
            if fw == 'torch' and runs['torch'] == [None]:
                continue
            runs[fw].append(measure(fw))
    res = {fw: best_of(r) for fw, r in runs.items()}
    print(f"best of {rounds} alternating runs per framework, {THREADS} thread(s) each")
    print(f"{'':<26}{'numpy ref':>10}{'minimx':>9}{'hybrid':>9}{'pytorch':>9}   "
          "targets")
    rows = [('MLP train, batch 256', 'mlp_step', 1), ('MLP train, batch 32', 'mlp32_step', 1),
            ('LeNet train, batch 128', 'lenet_step', 1),
            ('LeNet train, batch 32', 'lenet32_step', 1),
            ('LeNet infer images/s', 'lenet_infer', LENET_BATCH)]
    imp, hyb, ref, pt = res['minimx'], res['hybrid'], res['numpy'], res['torch']
    for label, key, scale in rows:
        cells = [f"{scale / r[key]:9.1f}" if r else f"{'-':>9}"
                 for r in (ref, imp, hyb, pt)]
        notes = [f"imp {imp[key] / ref[key]:.2f}x numpy time",
                 f"hyb {imp[key] / hyb[key]:.2f}x imp speed",
                 f"hyb {hyb[key] / ref[key]:.2f}x numpy time"]
        if key == 'lenet_infer':
            notes = [f"hyb {imp[key] / hyb[key]:.2f}x imp speed",
                     f"hyb {pt[key] / hyb[key]:.2f}x pytorch (>= 0.8x)" if pt
                     else "pytorch not installed"]
        print(f"{label:<26}{cells[0]:>10}{''.join(cells[1:])}   {'; '.join(notes)}")
    cells = [f"{r['peak_rss_mb']:9.0f}" if r else f"{'-':>9}" for r in (ref, imp, hyb, pt)]
    print(f"{'peak RSS (MB)':<26}{cells[0]:>10}{''.join(cells[1:])}   "
          f"imp {imp['peak_rss_mb'] / ref['peak_rss_mb']:.2f}x numpy (<= 1.5x); "
          f"hyb {hyb['peak_rss_mb'] / imp['peak_rss_mb']:.2f}x imp (< 1)")
    print("targets: hyb >= 1.10x imp speed at batch 32; hyb <= 1.00x numpy time; "
          "imp <= 1.10x numpy time")
    mxi, mxh = res.get('mxnet'), res.get('mxnet-hybrid')
    if not mxi:
        print("MXNet 1.9.1: set MXNET_PYTHON to a Python that has it to run the same "
              "Gluon program on it")
        return
    print(f"\nthe same Gluon program on MXNet 1.9.1 ({MXNET_PYTHON})")
    print(f"{'':<26}{'mxnet':>10}{'hybrid':>9}   ")
    for label, key, scale in rows:
        print(f"{label:<26}{scale / mxi[key]:10.1f}{scale / mxh[key]:9.1f}   "
              f"hyb {mxi[key] / mxh[key]:.2f}x imp speed; "
              f"minimx imp {mxi[key] / imp[key]:.2f}x, hyb {mxh[key] / hyb[key]:.2f}x "
              "mxnet speed")
    print(f"{'peak RSS (MB)':<26}{mxi['peak_rss_mb']:10.0f}{mxh['peak_rss_mb']:9.0f}   "
          f"hyb {mxh['peak_rss_mb'] / mxi['peak_rss_mb']:.2f}x imp")


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--child':
        child(sys.argv[2])
    else:
        main()
