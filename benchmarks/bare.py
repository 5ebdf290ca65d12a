"""The baseline: a bare Flask app with one route returning a constant small JSON.

Served by `python -m benchmarks` under the same gunicorn settings as the registry, so
the ratio of the two says what the registry's own work costs.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def status():
    return {"status": "ok"}
