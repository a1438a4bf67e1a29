"""The EQC registry as the product uses it: the HTTP client, the parser of its answers, and the
evidence rules (the stand-in registry and its server are in python_enrich/standins/)."""
