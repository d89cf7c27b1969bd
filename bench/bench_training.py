"""Training and inference speed, and peak memory (Chapter 5).

Workloads, float32, on random data (speed does not depend on the values):
  * MLP 784-256-10, ReLU, softmax cross-entropy, SGD, batch 256: train steps/s
  * LeNet (conv 6@5x5 pad 2 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 -> 10) on
    batch 128 of 1x28x28: train steps/s and inference images/s
Each framework runs in its own process, so that its peak RSS is its own: the hand-written
NumPy reference (bench/reference_numpy.py), minimx, and PyTorch when it is installed.

Targets (issue 5): minimx train step <= 1.10x the NumPy reference's time; inference
>= 0.8x PyTorch's images/s; peak RSS <= 1.5x the NumPy reference's.
"""
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MLP_BATCH, LENET_BATCH = 256, 128


def timed(fn, steps: int, rounds: int = 3) -> float:
    """Best-of-rounds seconds per call, after a warm-up."""
    for _ in range(2):
        fn()
    best = float('inf')
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def data(rng, shape, n):
    return rng.standard_normal((n,) + shape).astype(np.float32), \
        rng.integers(0, 10, n).astype(np.int32)


def run_numpy() -> dict:
    sys.path.insert(0, HERE)
    import reference_numpy as ref
    rng = np.random.default_rng(0)
    mlp, lenet = ref.MLP(rng), ref.LeNet(rng)
    xm, ym = data(rng, (784,), MLP_BATCH)
    xl, yl = data(rng, (1, 28, 28), LENET_BATCH)
    return {'mlp_step': timed(lambda: mlp.step(xm, ym, 0.01), 40),
            'lenet_step': timed(lambda: lenet.step(xl, yl, 0.01), 10),
            'lenet_infer': timed(lambda: lenet.predict(xl), 20)}


def run_minimx() -> dict:
    sys.path.insert(0, os.path.dirname(HERE))
    import minimx as mx
    from minimx import autograd, gluon, nd
    from minimx.gluon import nn
    mx.random.seed(0)
    rng = np.random.default_rng(0)

    def make_mlp():
        net = nn.HybridSequential()
        net.add(nn.Dense(256, activation='relu', in_units=784), nn.Dense(10, in_units=256))
        return net

    def make_lenet():
        net = nn.HybridSequential()
        net.add(nn.Conv2D(6, kernel_size=5, padding=2, activation='relu', in_channels=1),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Conv2D(16, kernel_size=5, activation='relu', in_channels=6),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Dense(120, activation='relu', in_units=400),
                nn.Dense(84, activation='relu', in_units=120),
                nn.Dense(10, in_units=84))
        return net

    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    results = {}
    for name, make, shape, batch, steps in [('mlp', make_mlp, (784,), MLP_BATCH, 40),
                                            ('lenet', make_lenet, (1, 28, 28), LENET_BATCH, 10)]:
        net = make()
        net.initialize(mx.init.Xavier())
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
        x, y = data(rng, shape, batch)
        x, y = nd.array(x), nd.array(y, dtype='int32')

        def step():
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(batch)
        results[f'{name}_step'] = timed(step, steps)
        if name == 'lenet':
            results['lenet_infer'] = timed(lambda: net(x).wait_to_read(), 20)
    return results


def run_torch() -> dict:
    import torch
    from torch import nn
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
    loss_fn = nn.CrossEntropyLoss()
    results = {}
    for name, net, shape, batch, steps in [('mlp', mlp, (784,), MLP_BATCH, 40),
                                           ('lenet', lenet, (1, 28, 28), LENET_BATCH, 10)]:
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
    results = {'numpy': run_numpy, 'minimx': run_minimx, 'torch': run_torch}[framework]()
    results['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results))


def measure(framework: str) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, '--child', framework],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        if framework == 'torch' and 'No module named' in proc.stderr:
            return None
        raise RuntimeError(f"{framework} benchmark failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(runs: list) -> dict | None:
    """Per metric, the best of several runs (least time, least memory)."""
    runs = [r for r in runs if r is not None]
    return {k: min(r[k] for r in runs) for k in runs[0]} if runs else None


def main(rounds: int = 5) -> None:
    # The frameworks take turns, `rounds` times, so that a slow spell of the machine
    # (other load, CPU frequency) does not fall on one of them only.
    runs: dict = {fw: [] for fw in ('numpy', 'minimx', 'torch')}
    for _ in range(rounds):
        for fw in runs:
            if fw == 'torch' and runs['torch'] == [None]:
                continue
            runs[fw].append(measure(fw))
    results = {fw: best_of(r) for fw, r in runs.items()}
    print(f"best of {rounds} alternating runs per framework")
    ref, mx_, pt = results['numpy'], results['minimx'], results['torch']
    print(f"{'':<24}{'numpy ref':>12}{'minimx':>12}{'pytorch':>12}   minimx vs target")
    rows = [('MLP train steps/s', 'mlp_step', 1), ('LeNet train steps/s', 'lenet_step', 1),
            ('LeNet infer images/s', 'lenet_infer', LENET_BATCH)]
    for label, key, scale in rows:
        cells = [f"{scale / r[key]:12.1f}" if r else f"{'-':>12}" for r in (ref, mx_, pt)]
        if key.endswith('step'):
            ratio = mx_[key] / ref[key]
            verdict = f"time {ratio:.2f}x numpy ({'ok' if ratio <= 1.10 else 'OVER'} <= 1.10x)"
        elif pt:
            ratio = pt[key] / mx_[key]
            verdict = f"{ratio:.2f}x pytorch ({'ok' if ratio >= 0.8 else 'UNDER'} >= 0.8x)"
        else:
            verdict = "pytorch not installed"
        print(f"{label:<24}{''.join(cells)}   {verdict}")
    cells = [f"{r['peak_rss_mb']:12.0f}" if r else f"{'-':>12}" for r in (ref, mx_, pt)]
    ratio = mx_['peak_rss_mb'] / ref['peak_rss_mb']
    print(f"{'peak RSS (MB)':<24}{''.join(cells)}   {ratio:.2f}x numpy "
          f"({'ok' if ratio <= 1.5 else 'OVER'} <= 1.5x)")


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--child':
        child(sys.argv[2])
    else:
        main()
