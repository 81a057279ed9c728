"""Errors that end a verification before any check runs.

Each carries a one-line, human-readable message; the CLI prints it as is and exits 2.
"""


class KeelVerifyError(Exception):
    """Base class: str(error) is a complete one-line message."""


class LoadError(KeelVerifyError):
    """The input is not a readable attestation (bad bytes, bad JSON, unsupported form)."""


class TrustConfigError(KeelVerifyError):
    """A trust source (pinned key, trust-root file, TSA roots) is malformed."""


class ReportWriteError(KeelVerifyError):
    """A report file (``--report``, ``--report-dir``) could not be written."""
