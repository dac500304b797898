"""rtcore's benchmarks: every figure is a ratio against a baseline run in the same process.

Run them with ``python -m benchmarks`` (``--quick`` for a short run, ``--only
NAME`` to pick suites, ``--json FILE`` to choose where results go).
"""
