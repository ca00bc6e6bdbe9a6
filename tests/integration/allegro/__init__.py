"""Allegro against its simulator served on 127.0.0.1 (the fixtures: conftest.py)."""
