"""Data parallelism over processes: `dist_sync` over MPI, 2 ranks vs 1 process
(Chapter 9).

The same LeNet step with a global batch of 64 and of 256: once in one process with the
whole batch, once in two MPI processes (`mpirun -n 2`) with half of it each, the
gradients summed by `kv.create('dist_sync')`. Reported: milliseconds per global step.
Each rank gets one BLAS thread (OMP_NUM_THREADS=1), and so does the single process for
one line and all threads for the other, so that the comparison is fair on a machine
with few cores. Needs the `dist` extra (mpi4py, mpich); skipped with a note otherwise.
"""
import os
import shutil
import subprocess
import sys

WORKER = r'''
import sys, time
import numpy as np
import minimx as mx
from minimx import autograd, gluon, nd
from minimx.gluon import nn

batch, steps, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
kv = mx.kv.create(kind)
mx.random.seed(0)
net = nn.HybridSequential()
net.add(nn.Conv2D(16, kernel_size=3, padding=1, activation='relu'),
        nn.MaxPool2D(pool_size=2), nn.Conv2D(32, kernel_size=3, activation='relu'),
        nn.Flatten(), nn.Dense(64, activation='relu'), nn.Dense(10))
net.initialize(mx.init.Xavier())
trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01},
                        kvstore=kv)
loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
local = batch // kv.num_workers
rng = np.random.default_rng(kv.rank)
data = nd.array(rng.random((local, 1, 8, 8), dtype=np.float32))
label = nd.array(rng.integers(0, 10, local), dtype='int32')

def step():
    with autograd.record():
        loss = loss_fn(net(data), label)
    loss.backward()
    trainer.step(batch)

for _ in range(3):
    step()
kv.barrier()
times = []
for _ in range(5):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    kv.barrier()
    times.append((time.perf_counter() - start) / steps)
if kv.rank == 0:
    print(np.median(times))
'''


def run(command: list, threads: 'str | None') -> float:
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = env['OPENBLAS_NUM_THREADS'] = threads
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout}{done.stderr}")
    return float(done.stdout.split()[-1])


def main() -> None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        print("skipped: mpi4py is not installed (pip install 'minimx[dist]')")
        return
    launcher = shutil.which('mpirun', path=os.path.dirname(sys.executable) + os.pathsep
                            + os.environ.get('PATH', ''))
    if launcher is None:
        print("skipped: no mpirun (pip install 'minimx[dist]' installs MPICH's)")
        return
    worker = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'minimx_bench_dist.py')
    with open(worker, 'w') as f:
        f.write(WORKER)
    for batch, steps in [(64, 20), (256, 8)]:
        args = [worker, str(batch), str(steps)]
        one_all = run([sys.executable, *args, 'local'], None)
        one_1 = run([sys.executable, *args, 'local'], '1')
        two = run([launcher, '-n', '2', sys.executable, *args, 'dist_sync'], '1')
        print(f"LeNet, global batch {batch:3d}: 1 process (all BLAS threads) "
              f"{one_all * 1e3:6.2f} ms, 1 process (1 thread) {one_1 * 1e3:6.2f} ms, "
              f"2 MPI ranks x {batch // 2} (1 thread each) {two * 1e3:6.2f} ms "
              f"per global step ({one_1 / two:.2f}x the 1-thread process)")


if __name__ == "__main__":
    main()
