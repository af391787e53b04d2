"""The IR sits below the op registry: nothing under ``fourier/ir/`` imports ``fourier.ops``.

The registry installs itself as the IR's op knowledge (`fourier.ir.core.set_op_provider`) when
it is imported; the IR never reaches up for it, at module level or inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import fourier.ir

IR_DIR = Path(fourier.ir.__file__).parent


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` statement anywhere in the file names, with its line."""
    package = "fourier.ir"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            found += [(node.lineno, a.value) for a in node.args if isinstance(a, ast.Constant)]
    return found


def test_no_ir_module_imports_the_op_registry() -> None:
    files = sorted(IR_DIR.glob("*.py"))
    assert files
    offending = [
        f"{path.name}:{line} imports {module}"
        for path in files
        for line, module in _imported_modules(path)
        if isinstance(module, str) and (module == "fourier.ops" or module.startswith("fourier.ops."))
    ]
    assert offending == []


def test_the_check_sees_a_function_level_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from fourier.ops.registry import get_op\n    from ..ops import registry\n")
    modules = [m for _, m in _imported_modules(bad)]
    assert "fourier.ops.registry" in modules and "fourier.ops" in modules


def test_importing_the_ir_loads_no_registry_and_says_what_to_import() -> None:
    script = (
        "import sys\n"
        "from fourier.ir import Graph, parser, verifier, rewriter, saved, snapshot\n"
        "assert not [m for m in sys.modules if m.startswith('fourier.ops')], 'registry loaded'\n"
        "try:\n"
        "    Graph().add_node('Const', [], {})\n"
        "except RuntimeError as e:\n"
        "    print(e)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "import fourier.ops" in run.stdout
