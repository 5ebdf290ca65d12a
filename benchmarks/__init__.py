"""The performance harness behind `make bench`.

`dataset` builds (or reuses) a migrated SQLite database of 100,000 certified pieces with
real signed certificates and their transparency log; `run` serves it, and a bare Flask
app (`bare`), under the gunicorn settings of `make run`, loads each with wrk and prints
requests/s and latency, then measures the audit's CSV export (`export`); `logbench`
times the log's appends and its proofs at 1,000,000 entries against pymerkle's.
"""
