#!/usr/bin/env python3
"""Generate book/api_coverage.md: MXNet 1.x's public API against what minimx has.

The page is made from the package itself (``import minimx``) and from the list of
MXNet 1.9.1's public names in ``tools/mxnet_api.json`` (written by
``tools/mxnet_api_dump.py``), so it cannot drift from the code: ``make tangle``
rewrites it and ``make test`` runs ``--check``, which fails when the committed page
differs from what the package now says.

Usage: ``python tools/api_page.py [--check]``. Exit status: 0 current (or written),
1 ``--check`` found the page stale.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tools" / "mxnet_api.json"
PAGE = ROOT / "book" / "api_coverage.md"


def resolve(spelling: str):
    """The minimx object for an MXNet spelling such as ``mx.gluon.nn`` (None if absent)."""
    obj = importlib.import_module("minimx")
    for part in spelling.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def own_names(namespace) -> set[str]:
    """Public names a minimx namespace offers (its ``__all__`` where it has one),
    without the submodules a package shows as attributes (``mx.nd.elemwise``): those
    are where the names live, not names a program calls."""
    names = getattr(namespace, "__all__", None) or dir(namespace)
    return {n for n in names if not n.startswith("_")
            and not inspect.ismodule(getattr(namespace, n, None))}


def codes(names) -> str:
    return ", ".join(f"`{n}`" for n in sorted(names)) or "none"


def render(reference: dict) -> str:
    version = reference["mxnet_version"]
    rows, sections = [], []
    total = have_total = 0
    for spelling, names in reference["namespaces"].items():
        namespace = resolve(spelling)
        have = [n for n in names if namespace is not None and hasattr(namespace, n)]
        missing = [n for n in names if n not in have]
        total, have_total = total + len(names), have_total + len(have)
        share = f"{len(have) / len(names):.0%}" if names else "-"
        rows.append(f"| [`{spelling}`](#{spelling.replace('.', '-')}) | {len(names)} "
                    f"| {len(have)} | {share} |")
        lines = [f"({spelling.replace('.', '-')})=", f"## `{spelling}`", ""]
        if namespace is None:
            lines.append(f"Not in minimx yet: none of MXNet's {len(names)} names.")
        else:
            extra = sorted(own_names(namespace) - set(names))
            lines += [f"**In minimx ({len(have)}):** {codes(have)}", "",
                      f"**Not yet ({len(missing)}):** {codes(missing)}"]
            if extra:
                lines += ["", f"**Only in minimx ({len(extra)}):** {codes(extra)}"]
        sections.append("\n".join(lines))
    head = f"""# What minimx implements

This page compares the public names of Apache MXNet {version}'s Python API, namespace
by namespace, with what `import minimx as mx` offers today. A name counts as present
when the minimx namespace has it; whether it behaves as MXNet's does is what the
chapters and `tests/` check.

The page is generated, so it cannot drift from the package: `tools/api_page.py`
imports minimx and compares it with `tools/mxnet_api.json`, the list of MXNet
{version}'s public names (written by `tools/mxnet_api_dump.py` in a side virtualenv
with MXNet installed). `make tangle` rewrites the page and `make test` fails when it
is stale. "Only in minimx" lists names a minimx namespace exports that MXNet's does
not (helpers and operator classes that a later version moves out of sight).

Overall: **{have_total} of {total}** MXNet names ({have_total / total:.0%}).

| namespace | MXNet {version} | minimx | share |
|---|---:|---:|---:|
"""
    return head + "\n".join(rows) + "\n\n" + "\n\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="fail if book/api_coverage.md is not what the package says")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    text = render(json.loads(REFERENCE.read_text(encoding="utf-8")))
    if args.check:
        if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run `make tangle` (or "
                  "`python tools/api_page.py`) and commit the page.", file=sys.stderr)
            return 1
        print("api_page --check: book/api_coverage.md matches the package.")
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
