"""Where the project's files are."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The specs and reference data beside the project (`../shared`). WDH_SHARED_DIR points elsewhere,
# e.g. for the mutation run, whose copy of the project lives in mutants/.
SHARED_DIR = Path(os.environ.get("WDH_SHARED_DIR") or PROJECT_DIR.parent / "shared")
