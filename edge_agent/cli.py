"""Commands that ``edge_agent`` adds to ``footfall``.

Only typer and rich are imported at module level; heavy dependencies are
imported inside the commands, so ``footfall --help`` stays fast on a Pi.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands and command groups to the root app."""
