"""Atlas: see screen.py."""
