"""``python -m flipconv.cli``."""

from flipconv.cli.main import run

run()
