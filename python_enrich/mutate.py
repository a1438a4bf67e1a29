"""python -m python_enrich.mutate: mutation testing (code: python_enrich/tools/mutate.py)."""

from python_enrich.tools.mutate import main

if __name__ == "__main__":
    raise SystemExit(main())
