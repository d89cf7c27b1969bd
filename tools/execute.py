"""Re-execute the book's chapters in place, so that their stored outputs are current.

Usage::

    python tools/execute.py                        # every chapter in _toc.yml, in book order
    python tools/execute.py book/02_ndarray.ipynb  # only these notebooks
    python tools/execute.py --check                # run nothing; fail if a chapter was
                                                   # not executed top to bottom

Each notebook runs top to bottom in a fresh kernel started with *this* Python
interpreter (the venv's, under ``make execute``), with the notebook's folder as
the working directory: the same conditions as nbval in ``make test``. The result
is normalised so that re-running an unchanged chapter gives a tiny diff or none:
no execution timestamps in cell metadata, cell ids kept, execution counts
sequential from 1.

``--check`` (used by ``make test``) closes a gap in nbval: nbval does not compare
the outputs of a cell that was never run, so a chapter saved without outputs
would pass. The check requires every non-empty code cell to carry execution
counts 1, 2, 3, ... in order, as a fresh top-to-bottom run leaves them.

A notebook whose execution fails is left untouched on disk, and the script
exits non-zero after reporting the failing cell.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
import yaml
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
TOC = ROOT / "_toc.yml"
CELL_TIMEOUT = 600  # seconds per cell
KERNEL_NAME = "python3"
RAISES_TAG = "raises-exception"
RAISES_MARKER = "# NBVAL_RAISES_EXCEPTION"


class _ThisPythonKernelSpecs(KernelSpecManager):
    """Resolve every kernel name to an IPython kernel run by ``sys.executable``.

    A ``python3`` kernelspec installed elsewhere (e.g. in ~/.local/share/jupyter)
    could point at another interpreter without minimx installed; this avoids it.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=f"Python 3 ({sys.executable})",
            language="python",
        )


def toc_notebooks(toc_path: Path = TOC) -> list[Path]:
    """The ``.ipynb`` files named in ``_toc.yml``, in book order."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(entry: dict) -> None:
        if "file" in entry:
            files.append(entry["file"])
        for key in ("parts", "chapters", "sections"):
            for sub in entry.get(key) or []:
                walk(sub)

    files.append(toc["root"])
    walk({k: v for k, v in toc.items() if k != "root"})
    notebooks = []
    for name in files:
        base = ROOT / name
        if base.suffix in (".ipynb", ".md"):
            base = base.with_suffix("")
        notebook = base.with_name(base.name + ".ipynb")
        if notebook.is_file():
            notebooks.append(notebook)
        elif not base.with_name(base.name + ".md").is_file():
            raise FileNotFoundError(
                f"_toc.yml lists {name!r}, but neither {name}.ipynb nor {name}.md exists"
            )
    return notebooks


def normalise(nb: nbformat.NotebookNode) -> None:
    """Strip what changes from run to run without meaning anything."""
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if cell.source.strip():
            count += 1
            cell.execution_count = count
        else:
            cell.execution_count = None
        cell.outputs = merge_streams(cell.get("outputs", []))
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = cell.execution_count


def merge_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same stream (stdout, stderr) into one.

    A kernel sends printed text in as many messages as it flushes, and the book would
    show each message as its own box (a training log of nine boxes); nbval compares
    the joined text either way.
    """
    merged: list = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (output.output_type == "stream" and last is not None
                and last.output_type == "stream" and last.name == output.name):
            last.text += output.text
        else:
            merged.append(output)
    return merged


def execution_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Why ``nb`` does not look freshly executed top to bottom (empty if it does)."""
    problems = []
    expected = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        expected += 1
        if cell.execution_count != expected:
            got = "never run" if cell.execution_count is None else f"[{cell.execution_count}]"
            problems.append(f"cell {index}: execution count {got}, expected [{expected}]")
    return problems


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def execute(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    km = AsyncKernelManager(
        kernel_name=KERNEL_NAME, kernel_spec_manager=_ThisPythonKernelSpecs()
    )
    client = NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL_NAME,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # nbval lets a cell raise if it is tagged `raises-exception` or contains the
    # comment `# NBVAL_RAISES_EXCEPTION`; nbclient knows only the tag, so tag
    # the commented cells for the run and untag them afterwards.
    tagged = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if (cell.cell_type == "code" and RAISES_MARKER in cell.source
                and RAISES_TAG not in tags):
            cell.metadata["tags"] = [*tags, RAISES_TAG]
            tagged.append(cell)
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        print(f"FAILED {_shown(path)}: not written\n{exc}", file=sys.stderr)
        return False
    for cell in tagged:
        cell.metadata["tags"].remove(RAISES_TAG)
        if not cell.metadata["tags"]:
            del cell.metadata["tags"]
    normalise(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    print(f"ok     {_shown(path)}  ({time.perf_counter() - start:.1f} s)")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path,
        help="notebooks to execute (default: every chapter in _toc.yml, in order)",
    )
    parser.add_argument(
        "--check", action="store_true",
        help="execute nothing; fail if a notebook was not run top to bottom in a fresh kernel",
    )
    args = parser.parse_args(argv)
    if args.notebooks:
        paths = [p.resolve() for p in args.notebooks]
        missing = [str(p) for p in paths if not p.is_file() or p.suffix != ".ipynb"]
        if missing:
            parser.error("not a notebook: " + ", ".join(missing))
    else:
        try:
            paths = toc_notebooks()
        except FileNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 1
        if not paths:
            print("no notebooks listed in _toc.yml", file=sys.stderr)
            return 1
    if args.check:
        failed = False
        for path in paths:
            problems = execution_problems(nbformat.read(path, as_version=4))
            if problems:
                failed = True
                print(f"{_shown(path)} was not executed top to bottom:", file=sys.stderr)
                for problem in problems[:5]:
                    print(f"  {problem}", file=sys.stderr)
                if len(problems) > 5:
                    print(f"  ... and {len(problems) - 5} more", file=sys.stderr)
        if failed:
            print("run `make execute` (or tools/execute.py NOTEBOOK) and commit the result",
                  file=sys.stderr)
            return 1
        return 0
    for path in paths:
        if not execute(path):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
