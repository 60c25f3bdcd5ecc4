"""A package, so that this folder's test_compare.py and the one in
tests/benchmark/report/ import as different modules."""
