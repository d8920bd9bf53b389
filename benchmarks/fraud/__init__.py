"""Fraud scan benchmark: a generated vote log with injected attacks (see `report.py`)."""
