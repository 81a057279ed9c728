"""Primitives: canonical bytes, Ed25519 key and signature decoding, RFC 3161 parsing and
verification. Pure functions that establish facts; trust decisions live in ``trust/``."""
