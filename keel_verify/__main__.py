"""``python -m keel_verify`` is ``keel-verify``."""

from keel_verify.entry import keel_verify

keel_verify()
