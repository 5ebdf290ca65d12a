"""The performance harness behind `make bench`.

`dataset` builds (or reuses) a migrated SQLite database of 100,000 certified pieces with
real signed certificates; `run` serves it, and a bare Flask app (`bare`), under the
gunicorn settings of `make run`, loads each with wrk and prints requests/s and latency.
"""
