"""The Dagster code location of the whole cycle: `from python_enrich.orchestration import defs`.

Load → dbt build → drain → rebuild, as assets (dbt seeds and models through dagster-dbt, dbt tests
as asset checks, the drain with its figures as metadata), with a monthly and a daily schedule and a
sensor for new months and waiting names. Optional: `pip install -e '.[dagster]'`; nothing else in
python_enrich imports this package. docs/orchestration.md is the guide.
"""

from python_enrich.orchestration.definitions import defs

__all__ = ["defs"]
