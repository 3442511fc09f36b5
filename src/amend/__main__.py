"""``python -m amend`` is the ``amend`` command."""

from amend.cli.app import main

main()
