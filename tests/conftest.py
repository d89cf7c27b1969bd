"""Shared pytest configuration for minimx's tests.

Markers (``gpu``, ``ch02`` ... ``ch14``, ``appendix``, ``tangle``, ``slow``) are declared in
pyproject.toml. This file only adds what needs code:

* tests marked ``gpu`` are skipped unless CuPy imports and sees a CUDA device, or
  the environment variable ``MINIMX_CUPY_STANDIN=<devices>`` puts minimx on its
  NumPy-backed CuPy stand-in (``minimx/_cupy_standin.py``, chapter 9), e.g.
  ``MINIMX_CUPY_STANDIN=2 python -m pytest -m gpu tests``;
* the ``contexts`` fixture lists the devices a test should cover;
* hypothesis runs derandomized (the same examples on every run, no example
  database), so a test run is reproducible and CI cannot fail by chance.

minimx is imported inside the fixture, never at module level, so that collecting
the tests (and the nbval run over ``book/``) does not depend on the package.
"""

from __future__ import annotations

import functools
import os

import pytest
from hypothesis import settings

settings.register_profile("minimx", derandomize=True, database=None)
settings.load_profile("minimx")


@functools.lru_cache(maxsize=None)
def _gpu_unavailable_reason() -> str | None:
    """``None`` if CuPy can use a CUDA device, else why not (asked once)."""
    if os.environ.get("MINIMX_CUPY_STANDIN"):
        return None  # minimx imports its CuPy stand-in instead (minimx.context)
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install
        return ("needs CuPy and a CUDA device: cupy does not import "
                f"({exc.__class__.__name__}: {exc})")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, no device, driver too old, ...
        return f"needs a CUDA device: CuPy cannot query devices ({exc.__class__.__name__}: {exc})"
    if count < 1:
        return "needs a CUDA device: CuPy reports none"
    return None


def gpu_available() -> bool:
    return _gpu_unavailable_reason() is None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return  # do not import CuPy when no test asks for it
    reason = _gpu_unavailable_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture
def contexts() -> list:
    """The devices to test on: two logical CPUs, plus ``gpu(0)`` when there is one."""
    import minimx as mx

    ctxs = [mx.cpu(0), mx.cpu(1)]
    if gpu_available():
        ctxs.append(mx.gpu(0))
    return ctxs
