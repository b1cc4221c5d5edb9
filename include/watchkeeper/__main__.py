"""`python -m watchkeeper` runs the CLI."""

from watchkeeper.cli import run

run()
