"""`python -m govrag.cli`: the same as the `govrag` command."""

from govrag.cli import main

main()
