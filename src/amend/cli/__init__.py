"""The ``amend`` command line."""
