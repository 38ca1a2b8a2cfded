"""PEP 517 build backend: maturin, plus the ``agent-sessions`` executable in the wheel.

maturin packs only the pyo3 extension module of ``crates/py`` (it cannot put a pyo3 module
and a Rust binary in one wheel), but ``pip install .`` must also give the ``agent-sessions``
command, which is the session host too. So before maturin builds the wheel this backend
builds the CLI crate (``scripts/build_cli.sh``: a release build, in the same target
folder, so the two builds share every compiled dependency) and copies the binary to
``build/wheel-data/scripts/agent-sessions``. ``[tool.maturin] data`` points there, so the
wheel carries it as ``agent_sessions-<v>.data/scripts/agent-sessions`` and pip installs it
into the environment's ``bin`` folder, where ``agent_sessions._host`` finds it.

Everything else is maturin's own backend, unchanged. Set ``AGENT_SESSIONS_SKIP_HOST_BUILD=1``
to reuse an already built ``build/wheel-data/scripts/agent-sessions``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from maturin import (  # noqa: F401  (re-exported hooks)
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)
import maturin as _maturin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_SCRIPTS = os.path.join(ROOT, "build", "wheel-data", "scripts")
BIN = "agent-sessions"


def _with_cargo_on_path() -> str:
    """Returns cargo's path; puts rustup's folder on PATH if cargo is only there (maturin
    would otherwise try to download a toolchain)."""
    cargo = shutil.which("cargo")
    if cargo:
        return cargo
    home = os.environ.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo")
    candidate = os.path.join(home, "bin", "cargo")
    if os.path.isfile(candidate):
        os.environ["PATH"] = os.path.dirname(candidate) + os.pathsep + os.environ.get("PATH", "")
        return candidate
    raise RuntimeError(
        "agent-sessions needs a Rust toolchain to build: install it (https://rustup.rs) so that "
        "`cargo` is on PATH"
    )


def build_host() -> str:
    """Builds the agent-sessions CLI (release) and stages it for the wheel; returns its path."""
    dst = os.path.join(DATA_SCRIPTS, BIN)
    _with_cargo_on_path()  # the script below runs cargo from PATH
    if os.environ.get("AGENT_SESSIONS_SKIP_HOST_BUILD") and os.path.isfile(dst):
        return dst
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    if not os.path.isabs(target):
        target = os.path.join(ROOT, target)
    # The same release build as every other path (static where it can be: see the script).
    cmd = [
        "bash",
        os.path.join(ROOT, "scripts", "build_cli.sh"),
        "--target-dir",
        target,
    ]
    sys.stderr.write("Running `{}`\n".format(" ".join(cmd)))
    sys.stderr.flush()
    # Cargo's progress goes to stderr; keep stdout clean (maturin's backend parses its own).
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    src = os.path.join(target, "release", BIN)
    os.makedirs(DATA_SCRIPTS, exist_ok=True)
    tmp = dst + ".tmp"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dst)
    return dst


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):  # type: ignore[no-untyped-def]
    # maturin checks that the data folder exists even when only writing metadata.
    os.makedirs(DATA_SCRIPTS, exist_ok=True)
    return _maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):  # type: ignore[no-untyped-def]
    build_host()
    return _maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):  # type: ignore[no-untyped-def]
    build_host()
    return _maturin.build_editable(wheel_directory, config_settings, metadata_directory)


if __name__ == "__main__":
    print(build_host())
