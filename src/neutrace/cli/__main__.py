"""``python3 -m neutrace.cli``: the same as the ``neutrace`` command."""

from neutrace.cli import main

main()
