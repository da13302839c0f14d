"""What the tests, the load tests and the local stack need but the product does not ship: the
synthetic population, the simulators of outside systems and the posko offline client.

Not in the wheel (pyproject's ``packages``); importable from a checkout because the editable
install puts the repository root on the path. It may import the product (``gelombang``,
``services``); the product never imports it (tests/unit/test_testkit_boundary.py).
"""
