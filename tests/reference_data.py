"""The project's own test reference data (tests/data/): known inputs and the answers they must give."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
