"""Loaders of users' files: monthly CSV exports and workbooks into the raw tables."""
