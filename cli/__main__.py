"""``python -m flipconv.cli``."""

from flipconv.cli.main import main

main()
