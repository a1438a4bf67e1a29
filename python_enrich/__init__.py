"""Company-id enrichment: the Python companion of the dbt project."""
