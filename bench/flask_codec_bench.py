"""Times Flask's own session serializer (sign = dumps, verify = loads) on the sessions in
bench/sessions/, the same ones flacon's criterion bench uses. Prints JSON: name -> ns/op."""

import json
import pathlib
import sys
import timeit

from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface

here = pathlib.Path(__file__).parent
app = Flask(__name__)
app.secret_key = "benchmark-secret-key-2026"
serializer = SecureCookieSessionInterface().get_signing_serializer(app)
results = {}
with app.test_request_context():  # as in a request: sorted keys, app JSON provider
    for name, file in [("article", "article.json"), ("typical", "typical.json"),
                       ("signed-in", "signed-in.json"), ("3kb", "large-3kb.json")]:
        session = TaggedJSONSerializer().loads((here / "sessions" / file).read_text().strip())
        cookie = serializer.dumps(session)
        for op, fn in [("sign", lambda: serializer.dumps(session)),
                       ("verify", lambda: serializer.loads(cookie, max_age=2678400))]:
            timer = timeit.Timer(fn)
            number, _ = timer.autorange()
            best = min(timer.repeat(repeat=5, number=number)) / number
            results[f"{op}/{name}"] = best * 1e9
json.dump(results, sys.stdout)
print()
