"""Data parallelism on one machine: the same global batch on two CPU contexts vs one
(Chapter 9).

Target (issue 11): a LeNet step with the batch split over [cpu(0), cpu(1)] costs at
most 1.15 times the step on [cpu(0)] alone. minimx runs the two contexts one after the
other in one thread (NumPy's BLAS already uses the cores), so the two-context step does
the same arithmetic plus the split, smaller products and the kvstore's sums and copies:
this measures that overhead. Each (batch, contexts) pair is timed in interleaved rounds
and the ratio is the median of the per-round ratios, so that load from other processes
hits both sides alike.

The table is printed twice: with NumPy's BLAS as configured, and with BLAS held to one
thread (through threadpoolctl, when installed). On a machine shared with other work,
BLAS threads that wait for busy cores can make one batch of 64 slower than one of 256;
the one-thread table shows the overhead of the two contexts without that noise.
"""
import contextlib
import time

import numpy as np

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.gluon import nn

TARGET = 1.15


def lenet():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(16, kernel_size=3, padding=1, activation='relu'),
            nn.MaxPool2D(pool_size=2), nn.Conv2D(32, kernel_size=3, activation='relu'),
            nn.Flatten(), nn.Dense(64, activation='relu'), nn.Dense(10))
    return net


def stepper(ctxs: list, batch_size: int, hybrid: bool = False):
    """A function that runs one training step of LeNet on `ctxs` (8x8 digits)."""
    mx.random.seed(0)
    net = lenet()
    if hybrid:
        net.hybridize()
    net.initialize(mx.init.Xavier(), ctx=ctxs)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    rng = np.random.default_rng(0)
    data = nd.array(rng.random((batch_size, 1, 8, 8), dtype=np.float32))
    label = nd.array(rng.integers(0, 10, batch_size), dtype='int32')

    def step():
        parts = gluon.utils.split_and_load(data, ctxs)
        labels = gluon.utils.split_and_load(label, ctxs)
        with autograd.record():
            losses = [loss_fn(net(x), y) for x, y in zip(parts, labels)]
        for loss in losses:
            loss.backward()
        trainer.step(batch_size)
        nd.waitall()
    return step


def seconds_per_step(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def blas_threads(n):
    """A scope with BLAS held to `n` threads (None: as configured)."""
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=n, user_api='blas')


def main() -> None:
    ok = True
    for threads in (None, 1):
        scope = blas_threads(threads)
        if scope is None:
            print("BLAS one thread: threadpoolctl not installed, skipped")
            continue
        print("BLAS threads:", "as configured" if threads is None else threads)
        with scope:
            ok &= measure()
    if not ok:
        print("note: over target; see the ratio column")


def measure() -> bool:
    ok = True
    for batch_size, steps, hybrid in [(64, 30, False), (256, 10, False), (64, 30, True)]:
        one = stepper([mx.cpu(0)], batch_size, hybrid)
        two = stepper([mx.cpu(0), mx.cpu(1)], batch_size, hybrid)
        for s in (one, two):                     # warm up: deferred init, caches, BLAS
            seconds_per_step(s, 3)
        ratios, t_one, t_two = [], [], []
        for _ in range(9):
            a, b = seconds_per_step(one, steps), seconds_per_step(two, steps)
            t_one.append(a)
            t_two.append(b)
            ratios.append(b / a)
        ratio = float(np.median(ratios))
        ok &= ratio <= TARGET
        print(f"  LeNet{' hybridized' if hybrid else ''} step, global batch "
              f"{batch_size:3d}: one context "
              f"{np.median(t_one) * 1e3:6.2f} ms, two contexts "
              f"{np.median(t_two) * 1e3:6.2f} ms, ratio {ratio:.2f} "
              f"({'ok' if ratio <= TARGET else 'OVER TARGET'}, <= {TARGET})")
    return ok


if __name__ == "__main__":
    main()
