"""The `callpath` command: the root and its groups (`main`), one module per group, and
what they share (`common`)."""

from callpath.cli.main import app, main

__all__ = ["app", "main"]
