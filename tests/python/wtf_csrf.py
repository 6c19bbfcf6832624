"""Flask-WTF's CSRF tokens, driven from flacon's interop tests.

Usage:
  wtf_csrf.py generate KEY COUNT
      COUNT tokens from Flask-WTF's generate_csrf, each in a fresh session, one JSON line
      each: {"secret": the session's csrf_token, "token": the form token}.
  wtf_csrf.py validate KEY   < cases, one JSON line each: {"secret": str or null, "token": str}
      Flask-WTF's validate_csrf on each, with the session holding the secret (none if null):
      one JSON line each, null when accepted, else Flask-WTF's message.
"""

import json
import sys

from flask import Flask, session
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError


def app_with(key):
    app = Flask(__name__)
    app.secret_key = key
    return app


def generate(key, count):
    app = app_with(key)
    for _ in range(count):
        with app.test_request_context():
            token = generate_csrf()
            print(json.dumps({"secret": session["csrf_token"], "token": token}))


def validate(key):
    app = app_with(key)
    for line in sys.stdin:
        case = json.loads(line)
        with app.test_request_context():
            if case["secret"] is not None:
                session["csrf_token"] = case["secret"]
            try:
                validate_csrf(case["token"])
                print(json.dumps(None))
            except ValidationError as e:
                print(json.dumps(e.args[0]))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]))
    else:
        validate(sys.argv[2])
