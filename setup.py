"""Package discovery for the mapped layout (everything else is in pyproject.toml).

The repository keeps ``passes/`` and ``backends/`` at the top level but installs them as
``fourier.passes`` and ``fourier.backends``. setuptools' own ``find`` cannot discover packages
through such a mapping, and a hand-written list silently drops a new subpackage (a plain
``pip install .`` once shipped without ``fourier.passes.rules``). So every directory under the three
roots that holds a file is a package here; ``tests/test_packaging.py`` builds the wheel and
checks that every module and data file of the source tree is in it.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup

ROOTS = {"fourier": "fourier", "fourier.passes": "passes", "fourier.backends": "backends"}


def discover(roots: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Every directory under each root that holds a file (modules, or package data such as
    ``static/`` and ``examples/``, which Python can import as namespace packages), as a dotted
    package name."""
    here = Path(__file__).parent
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for prefix, root in roots.items():
        package_dir[prefix] = root
        for found in sorted((here / root).rglob("*")):
            rel = found.parent.relative_to(here / root)
            if found.is_dir() or "__pycache__" in rel.parts or found.suffix in (".pyc", ".pyo"):
                continue
            name = ".".join([prefix, *rel.parts])
            if name not in packages:
                packages.append(name)
    return packages, package_dir


PACKAGES, PACKAGE_DIR = discover(ROOTS)
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
