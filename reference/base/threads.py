"""Thread pools for runs that alternate NumPy and torch step by step.

A side-by-side run calls NumPy's BLAS (OpenBLAS's pool) and torch (its own
OpenMP pool) in turns, every step.  Each pool spins for a while after its work
and steals the cores the other needs: measured on 2 cores, 600 steps of the
two-layer network took 54 s with both pools at their defaults and 8.4 s with
one thread each.  At these sizes (a 100 x 784 batch) one thread is also the
fastest setting for either side alone (benchmarks/train_speed.py).
"""

from contextlib import contextmanager


@contextmanager
def one_thread_each():
    """NumPy's BLAS and torch on one thread each inside the block; both restored after it."""
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)
