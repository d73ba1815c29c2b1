"""Fuzzers that run as scripts (python -m tests.fuzz.<name>) and, shortened, in the suite."""
