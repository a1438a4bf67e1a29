"""The EQC registry: the HTTP client, the parser of its answers, and the sandbox that stands in
for the registry in the demo, the tests and the benchmarks (its synthetic registry and server)."""
