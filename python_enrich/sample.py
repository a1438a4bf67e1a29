"""python -m python_enrich.sample: the sample exports generator (code: python_enrich/standins/sample.py)."""

from python_enrich.standins.sample import main

if __name__ == "__main__":
    raise SystemExit(main())
