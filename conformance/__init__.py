"""polytrack's conformance suite: the API contract as data (`cases/`), one runner (`runner/`) that
owns every assertion, and dumb executors (`executors/<client>/`) that forward calls through each
client library. See README.md.
"""
