"""``python -m keel_verify`` is ``keel-verify``."""

from keel_verify.cli import main

main()
