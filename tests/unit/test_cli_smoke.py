"""The ``footfall`` command assembles and answers."""

from __future__ import annotations

from typer.testing import CliRunner

from footfall import __version__
from footfall.cli import build_app


def test_version_prints_the_package_version() -> None:
    """``footfall --version`` prints the installed version."""
    result = CliRunner().invoke(build_app(), ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output
