"""The kit's own tests: a package, so pytest and mypy both name its modules ``tests.<name>``."""
