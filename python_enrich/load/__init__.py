"""Loaders of users' files: monthly CSV exports and workbooks into the raw tables."""

from python_enrich.load.cli import LoadError, load_file, main

__all__ = ["LoadError", "load_file", "main"]
