"""``python -m rfq`` is the ``rfq`` command."""

from rfq.cli import main

main()
