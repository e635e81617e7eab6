"""``python -m kt_cli``: the ``kt`` command."""

from kt_cli.main import main

main()
