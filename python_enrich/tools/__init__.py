"""Developer tools: benchmarks, the demo, mutation testing, SQL table generation; never on the path of real data."""
