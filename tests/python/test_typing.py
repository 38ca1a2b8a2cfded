"""The shipped type information: stubs match the native module, the package type-checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import agent_sessions

PKG = Path(agent_sessions.__file__).parent


def test_py_typed_and_stubs_are_shipped() -> None:
    assert (PKG / "py.typed").exists()
    assert (PKG / "_native.pyi").exists()


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("mypy")
    # Run outside the source tree so the installed package is what gets checked.
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=os.path.dirname(PKG.parent), timeout=600)


def test_stubtest_native_module() -> None:
    r = _mypy("mypy.stubtest", "agent_sessions._native")
    assert r.returncode == 0, r.stdout + r.stderr


def test_package_type_checks() -> None:
    r = _mypy("mypy", "--strict", "-p", "agent_sessions")
    assert r.returncode == 0, r.stdout + r.stderr
