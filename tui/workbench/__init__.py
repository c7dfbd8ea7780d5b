"""Workbench: see screen.py."""
