"""Shared platform pieces: configuration, logging, metrics, HTTP server lifecycle."""
