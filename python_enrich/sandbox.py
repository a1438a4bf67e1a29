"""python -m python_enrich.sandbox: the EQC stand-in server (see python_enrich.eqc.sandbox)."""

from python_enrich.eqc.sandbox import main

if __name__ == "__main__":
    raise SystemExit(main())
