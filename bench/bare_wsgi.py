"""The floor for bench/pages_bench.py: a bare Flask app answering one JSON endpoint (and /healthz)."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(ok=True)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
