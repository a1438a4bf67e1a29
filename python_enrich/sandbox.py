"""python -m python_enrich.sandbox: the EQC stand-in server (code: python_enrich/standins/sandbox.py)."""

from python_enrich.standins.sandbox import main

if __name__ == "__main__":
    raise SystemExit(main())
