"""The one place the verifier's version lives (read by reports and --version)."""

__version__ = "0.1.0"
