"""Write the public API of MXNet 1.x as JSON: run with MXNet installed (not minimx).

    python tools/mxnet_api_dump.py > tools/mxnet_api.json

The list is the reference that tools/api_page.py compares minimx against. It was made
with MXNet 1.9.1 in a side virtualenv (``pip install mxnet==1.9.1 "numpy<1.24"``);
MXNet is never a dependency of minimx. A name is public when it does not start with
``_``, is defined by MXNet itself (not a re-exported ``numpy`` or ``ctypes``), and is not
one of MXNet's own plumbing modules.
"""
from __future__ import annotations

import importlib
import inspect
import json
import sys

# The namespaces the book's reader uses, by their usual spelling.
NAMESPACES = {
    "mx": "mxnet",
    "mx.nd": "mxnet.ndarray",
    "mx.nd.random": "mxnet.ndarray.random",
    "mx.nd.linalg": "mxnet.ndarray.linalg",
    "mx.autograd": "mxnet.autograd",
    "mx.random": "mxnet.random",
    "mx.init": "mxnet.initializer",
    "mx.optimizer": "mxnet.optimizer",
    "mx.lr_scheduler": "mxnet.lr_scheduler",
    "mx.metric": "mxnet.metric",
    "mx.kv": "mxnet.kvstore",
    "mx.io": "mxnet.io",
    "mx.test_utils": "mxnet.test_utils",
    "mx.gluon": "mxnet.gluon",
    "mx.gluon.nn": "mxnet.gluon.nn",
    "mx.gluon.loss": "mxnet.gluon.loss",
    "mx.gluon.data": "mxnet.gluon.data",
    "mx.gluon.data.vision": "mxnet.gluon.data.vision",
    "mx.gluon.data.vision.transforms": "mxnet.gluon.data.vision.transforms",
    "mx.gluon.utils": "mxnet.gluon.utils",
    "mx.sym": "mxnet.symbol",
    "mx.mod": "mxnet.module",
    "mx.gluon.model_zoo.vision": "mxnet.gluon.model_zoo.vision",
}
# Modules that MXNet's namespaces import for their own use (not API).
PLUMBING = {"base", "ctypes", "np", "numpy", "os", "sys", "logging", "math", "warnings",
            "re", "json", "collections", "functools", "threading", "time", "pickle",
            "numbers", "operator", "ctypes", "itertools", "io", "struct", "traceback",
            "py_str", "string_types", "numeric_types", "integer_types"}


def public_names(module) -> list[str]:
    names = []
    for name in dir(module):
        if name.startswith("_") or name in PLUMBING:
            continue
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            if obj.__name__.startswith("mxnet."):
                names.append(name)
            continue
        owner = getattr(obj, "__module__", None) or ""
        if callable(obj) and not owner.startswith(("mxnet", "ndarray", "symbol")):
            continue      # re-exported from NumPy, ctypes, typing, ... (generated
            # operators report the module "ndarray" or "symbol")
        if not callable(obj) and not isinstance(obj, (int, float, str, tuple)):
            continue
        names.append(name)
    return sorted(names)


def main() -> None:
    import mxnet
    out = {"mxnet_version": mxnet.__version__, "namespaces": {}}
    for spelling, path in NAMESPACES.items():
        out["namespaces"][spelling] = public_names(importlib.import_module(path))
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
