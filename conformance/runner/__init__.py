"""The conformance runner: loads the cases, drives a server through executors, judges the answers.

Modules: `schema` (case files -> `Case` messages), `values` (substitutions, generators, capture
paths), `matchers` (expected vs actual), `wire` (RPC descriptors and MLflow's JSON form),
`executors` (the JSON-lines executor processes), `http` (raw HTTP steps), `servers` (spawning
polytrack or MLflow), `implementations` (features and known failures), `engine` (running cases),
`report` (console report, MATRIX.md, counts) and `cli` (what `polytrack conformance` calls).
"""
