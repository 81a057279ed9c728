"""Renderers of a :class:`~keel_verify.results.Report`. They show; they decide nothing."""
