"""Hybridized against imperative minimx, and both against the hand-written NumPy
reference (Chapter 11), measured in one process, interleaved.

Workloads, float32, random data: MLP 784-256-10 training steps at batch 32 and 256,
LeNet training steps at batch 32 and 128, LeNet inference at batch 128. Each round runs
every variant once (imperative, hybridized, NumPy reference) for a fixed number of
steps; the table gives the median over rounds, and the ratios the issue sets targets
for: hybridized >= 1.1x imperative at batch 32, hybridized no slower than NumPy.
A second table gives the peak memory one call allocates (tracemalloc, which sees
NumPy's buffers); bench_training.py measures each framework's peak RSS, one process each.
"""
import os
import sys
import time
import tracemalloc

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, '1')    # one BLAS thread, as bench_training.py

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import gluon_nets  # noqa: E402
import reference_numpy as ref  # noqa: E402

import minimx as mx  # noqa: E402
from minimx import autograd, gluon, nd  # noqa: E402
from minimx.gluon import nn  # noqa: E402

ROUNDS = 5


def make_mlp():
    return gluon_nets.mlp(nn)


def make_lenet():
    return gluon_nets.lenet(nn)


def minimx_step(make, x, y, hybrid: bool, infer: bool = False):
    mx.random.seed(0)
    net = make()
    net.initialize(mx.init.Xavier())
    if hybrid:
        net.hybridize(static_alloc=True)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
    x, y = nd.array(x), nd.array(y, dtype='int32')
    batch = x.shape[0]
    if infer:
        return lambda: net(x).wait_to_read()

    def step():
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(batch)
    return step


def numpy_step(model, x, y, infer: bool = False):
    if infer:
        return lambda: model.predict(x)
    return lambda: model.step(x, y, 0.01)


def per_call(fn, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def peak_memory(variants: dict) -> dict:
    """Per variant, the peak of memory allocated during one call, above what was
    allocated before it (the call's temporaries and what it keeps), in MB."""
    peaks = {}
    for name, fn in variants.items():
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        peaks[name] = (tracemalloc.get_traced_memory()[1] - before) / 1e6
        tracemalloc.stop()
    return peaks


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for label, make, model, shape, batch, steps, infer in [
            ('MLP train, batch 32', make_mlp, ref.MLP, (784,), 32, 60, False),
            ('MLP train, batch 256', make_mlp, ref.MLP, (784,), 256, 20, False),
            ('LeNet train, batch 32', make_lenet, ref.LeNet, (1, 28, 28), 32, 8, False),
            ('LeNet train, batch 128', make_lenet, ref.LeNet, (1, 28, 28), 128, 3, False),
            ('LeNet infer, batch 128', make_lenet, ref.LeNet, (1, 28, 28), 128, 6, True)]:
        x = rng.standard_normal((batch,) + shape).astype(np.float32)
        y = rng.integers(0, 10, batch).astype(np.int32)
        variants = {'imperative': minimx_step(make, x, y, False, infer),
                    'hybridized': minimx_step(make, x, y, True, infer),
                    'numpy': numpy_step(model(np.random.default_rng(0)), x, y, infer)}
        for fn in variants.values():               # warm up (the checked first calls)
            fn(), fn()
        times: dict = {k: [] for k in variants}
        for _ in range(ROUNDS):                     # A, B, C, A, B, C, ...
            for name, fn in variants.items():
                times[name].append(per_call(fn, steps))
        med = {k: float(np.median(v)) for k, v in times.items()}
        rows.append((label, batch, infer, med, peak_memory(variants)))
    print(f"median of {ROUNDS} interleaved rounds; per second: steps (train) or "
          "images (infer)")
    print(f"{'':<24}{'imperative':>11}{'hybridized':>11}{'numpy':>9}"
          f"{'hyb/imp':>9}{'hyb/numpy':>10}")
    for label, batch, infer, med, _ in rows:
        scale = batch if infer else 1
        speed = {k: scale / v for k, v in med.items()}
        print(f"{label:<24}{speed['imperative']:11.1f}{speed['hybridized']:11.1f}"
              f"{speed['numpy']:9.1f}{med['imperative'] / med['hybridized']:9.2f}x"
              f"{med['numpy'] / med['hybridized']:9.2f}x")
    print("\npeak memory allocated during one call (MB, tracemalloc: NumPy's buffers)")
    for label, _, _, _, peak in rows:
        print(f"{label:<24}{peak['imperative']:11.2f}{peak['hybridized']:11.2f}"
              f"{peak['numpy']:9.2f}{peak['hybridized'] / peak['imperative']:9.2f}x")
    print("targets: hyb/imp >= 1.10x at batch 32; hyb/numpy >= 1.00x at the "
          "benchmark batches")


if __name__ == "__main__":
    main()
