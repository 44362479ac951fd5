"""Benchmarks (`python3 main.py bench ...`): numbers with ceilings measured in the same run, never tests."""
