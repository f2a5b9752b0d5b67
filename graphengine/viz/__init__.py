"""Looking at models: the summary table (and, later, graph pictures)."""
