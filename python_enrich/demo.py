"""python -m python_enrich.demo: the demo (code: python_enrich/tools/demo.py)."""

from python_enrich.tools.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
