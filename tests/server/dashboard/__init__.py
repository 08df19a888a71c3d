"""The dashboard in headless Chromium.

A package, so that its conftest.py stays apart from tests/server/conftest.py.
"""
