"""Shared pytest set-up. Lives at the root so it also applies to `pytest notebooks/`."""

import os

# Notebooks run by nbval inherit this process's environment: the test profile unless the caller
# chose another.
os.environ.setdefault("DLBOOK_PROFILE", "test")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
