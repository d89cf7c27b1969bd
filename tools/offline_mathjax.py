"""Sphinx extension: serve MathJax from the book itself, so maths renders offline.

Jupyter Book loads MathJax from a CDN by default; a reader without a network then sees
raw TeX. This extension copies MathJax 3 (the ``tex-chtml`` component, its fonts and
TeX extensions) out of the ``django-static-mathjax`` wheel, a plain copy of MathJax's
``es5`` build with no Django dependency, into ``_build/html/_static/mathjax`` and points
Sphinx's ``mathjax_path`` at it. Listed in ``_config.yml`` under ``sphinx.local_extensions``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

# What tex-chtml.js loads by itself or on demand; the rest of es5/ (SVG output,
# MathML input, speech maps) is not needed by the book.
PARTS = ["tex-chtml.js", "output/chtml", "input/tex", "ui", "a11y"]


def _es5() -> Path:
    try:
        import mathjax  # the django-static-mathjax wheel (the [book] extra)
    except ImportError as exc:
        raise RuntimeError(
            "offline_mathjax: MathJax is not installed; run `make setup` (it installs the "
            "[book] extra, which brings django-static-mathjax)") from exc
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _use_local_mathjax(app, config) -> None:
    _es5()  # fail early, with the fix, if the files are missing
    config.mathjax_path = "mathjax/tex-chtml.js"


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src, dst = _es5(), Path(app.outdir) / "_static" / "mathjax"
    for part in PARTS:
        if (src / part).is_dir():
            shutil.copytree(src / part, dst / part, dirs_exist_ok=True)
        elif (src / part).is_file():
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / part, dst / part)


def setup(app):
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
