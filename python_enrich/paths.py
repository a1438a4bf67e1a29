"""Where the project's files are."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
