"""Autograd overhead on a tiny graph (Chapter 2).

Times 10,000 iterations of

    x.attach_grad(); with autograd.record(): y = (x * 2 + 1).sum(); y.backward()

on a (4, 4) float32 array. Targets: <= 35 us per iteration (issue 3) and at most half
of PyTorch eager's time per iteration (issue 12). If PyTorch is installed, the same loop
runs in it, in this process, in rounds interleaved with minimx's (so that the load of a
shared machine hits both), and the ratio of the medians is printed. A second figure
checks that operators pay nothing measurable for autograd when not recording.
"""
import statistics
import timeit

import numpy as np

from minimx import autograd, nd

ITERATIONS = 10_000
ROUNDS = 15                 # interleaved rounds of ITERATIONS // 5 iterations each
TARGET_US = 35.0
TARGET_RATIO = 0.5          # minimx / PyTorch eager


def minimx_step(x) -> None:
    x.attach_grad()
    with autograd.record():
        y = (x * 2 + 1).sum()
    y.backward()


def torch_step_factory():
    try:
        import torch
    except ImportError:
        return None, None
    torch.set_num_threads(1)
    base = torch.ones((4, 4), dtype=torch.float32)

    def step() -> None:
        x = base.detach().requires_grad_()
        y = (x * 2 + 1).sum()
        y.backward()
    return step, torch.__version__


def rounds_us(fns, rounds: int = ROUNDS) -> list:
    """Per-iteration times of each of `fns`, in rounds interleaved A, B, A, B, ..."""
    number = ITERATIONS // 5
    for fn in fns:
        fn()                                               # warm up
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, t in zip(fns, times):
            t.append(timeit.timeit(fn, number=number) / number * 1e6)
    return times


def main() -> None:
    x = nd.array(np.ones((4, 4), dtype=np.float32))
    step, version = torch_step_factory()
    fns = [lambda: minimx_step(x)] + ([step] if step is not None else [])
    times = rounds_us(fns)
    t_mx = statistics.median(times[0])
    verdict = 'ok' if t_mx <= TARGET_US else 'OVER TARGET'
    print(f"autograd loop, (4,4) float32, {ROUNDS} interleaved rounds of "
          f"{ITERATIONS // 5} iterations: median (best)")
    print(f"  minimx            {t_mx:7.2f} ({min(times[0]):6.2f}) us/iter   {verdict} "
          f"(target <= {TARGET_US} us)")
    if step is not None:
        t_pt = statistics.median(times[1])
        ratio = t_mx / t_pt
        verdict = 'ok' if ratio <= TARGET_RATIO else 'OVER TARGET'
        print(f"  PyTorch {version:<9} {t_pt:7.2f} ({min(times[1]):6.2f}) us/iter   "
              f"minimx/PyTorch = {ratio:.2f}   {verdict} (target <= {TARGET_RATIO})")
    else:
        print("  PyTorch           not installed (pip install torch to compare)")
    # Not recording, the dispatcher's only autograd work is reading one flag.
    from minimx.ndarray.tape import _state
    a = nd.array(np.ones((4, 4), dtype=np.float32))
    plain = min(timeit.repeat(lambda: a * 2, number=100_000, repeat=7)) / 100_000 * 1e6
    flag = min(timeit.repeat(lambda: _state.recording, number=100_000, repeat=7)) / 100_000 * 1e6
    empty = min(timeit.repeat(lambda: None, number=100_000, repeat=7)) / 100_000 * 1e6
    print(f"  not recording: x * 2 takes {plain:.2f} us, of which reading the recording "
          f"flag is {max(flag - empty, 0) * 1000:.0f} ns")


if __name__ == '__main__':
    main()
