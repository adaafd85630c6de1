"""The polytrack server: one process serving gRPC and an MLflow-compatible REST gateway."""
