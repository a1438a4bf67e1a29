"""python -m python_enrich.sqlgen: SQL table generation (code: python_enrich/tools/sqlgen.py)."""

from python_enrich.tools.sqlgen import main

if __name__ == "__main__":
    raise SystemExit(main())
