"""The monitoring dashboard: pages and JSON API for the operations team.

The application is `balmon.dashboard.app.create_app`; this package imports nothing itself, so
a command that only needs `auth` (users, tokens) does not load FastAPI and every page.
"""
