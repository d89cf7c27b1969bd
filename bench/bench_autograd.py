"""Autograd overhead on a tiny graph (Chapter 2).

Times 10,000 iterations of

    x.attach_grad(); with autograd.record(): y = (x * 2 + 1).sum(); y.backward()

on a (4, 4) float32 array. Target (issue 3): <= 35 us per iteration. If PyTorch is
installed, the same loop runs in it, in this process, and the ratio is printed. A
second figure checks that operators pay nothing measurable for autograd when not
recording.
"""
import timeit

import numpy as np

from minimx import autograd, nd

ITERATIONS = 10_000
TARGET_US = 35.0


def minimx_step(x) -> None:
    x.attach_grad()
    with autograd.record():
        y = (x * 2 + 1).sum()
    y.backward()


def per_iteration_us(fn, rounds: int = 5) -> float:
    fn()                                                   # warm up
    return min(timeit.repeat(fn, number=ITERATIONS, repeat=rounds)) / ITERATIONS * 1e6


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


def main() -> None:
    x = nd.array(np.ones((4, 4), dtype=np.float32))
    t_mx = per_iteration_us(lambda: minimx_step(x))
    verdict = 'ok' if t_mx <= TARGET_US else 'OVER TARGET'
    print(f"autograd loop, (4,4) float32, {ITERATIONS} iterations, best of 5")
    print(f"  minimx            {t_mx:7.2f} us/iter   {verdict} (target <= {TARGET_US} us)")
    step, version = torch_step_factory()
    if step is not None:
        t_pt = per_iteration_us(step)
        print(f"  PyTorch {version:<9} {t_pt:7.2f} us/iter   minimx/PyTorch = {t_mx / t_pt:.2f}")
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
