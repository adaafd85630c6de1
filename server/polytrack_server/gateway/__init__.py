"""The MLflow-compatible REST gateway, derived from the RPCs' `google.api.http` annotations.

`app.build_gateway` assembles it; `routes` turns bindings into routes, `http_rule` parses path
templates, `codec` (with `decoding` and `encoding`) converts JSON and protobuf, `errors` shapes
error replies.
"""
