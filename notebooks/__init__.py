"""Tutorials (a package only so that pytest gives notebooks/conftest.py a unique module name)."""
