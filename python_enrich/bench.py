"""python -m python_enrich.bench: the benchmarks (code: python_enrich/tools/bench.py)."""

from python_enrich.tools.bench import main

if __name__ == "__main__":
    raise SystemExit(main())
