"""polytrack: track experiments and runs against a polytrack (or MLflow) server."""
