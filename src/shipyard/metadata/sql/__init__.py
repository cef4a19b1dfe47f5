"""The SQL metadata backend (SQLAlchemy 2 + Alembic): SQLite by default, PostgreSQL by URL.

Importing this package imports nothing: `open_metadata` imports `sql.backend`, and with it
SQLAlchemy, only when a backend is opened, so that processes which never open one (the warm
worker the local executor forks from, `python flow.py show`) stay small and start fast.
"""
