"""Operations: see screen.py."""
