"""Flask's own session serializer, driven from flacon's interop tests.

Usage:
  flask_codec.py resign KEY TIMESTAMP   < cookies (one per line)
      Loads each cookie with Flask's SecureCookieSessionInterface serializer (no age
      limit) and prints, per line, JSON {"ok": bool, "error": str, "payload": tagged JSON
      Flask writes for it, "cookie": what Flask signs for it at TIMESTAMP}.
  flask_codec.py sign-raw KEY TIMESTAMP   < payloads (one JSON text per line)
      Signs each payload text as it stands (no re-serializing) the way Flask's cookie
      serializer would, and prints the cookie: for payloads Flask never writes but loads.
  flask_codec.py generate KEY TIMESTAMP COUNT SEED
      Prints COUNT random sessions built from every type Flask tags, one JSON line each:
      {"payload": tagged JSON, "cookie": Flask's cookie for it at TIMESTAMP}.
"""

import datetime
import json
import random
import sys
import uuid

import itsdangerous.timed
from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup


def serializer_for(key, timestamp):
    # Flask signs with time.time(); pin it so both sides sign the same instant.
    itsdangerous.timed.TimestampSigner.get_timestamp = lambda self: timestamp
    app = Flask(__name__)
    app.secret_key = key
    return app, SecureCookieSessionInterface().get_signing_serializer(app)


def tagged_payload(app, session):
    with app.app_context():  # inside a request Flask sorts keys; outside it does not
        return TaggedJSONSerializer().dumps(session)


def resign(key, timestamp):
    app, s = serializer_for(key, timestamp)
    for line in sys.stdin:
        cookie = line.strip()
        try:
            session = s.loads(cookie)
        except Exception as e:  # report, do not stop: the test asserts on it
            print(json.dumps({"ok": False, "error": type(e).__name__}))
            continue
        with app.app_context():
            print(json.dumps({
                "ok": True,
                "payload": tagged_payload(app, session),
                "cookie": s.dumps(session),
            }))


class RawText:
    """A serializer that writes the payload text it is given."""

    @staticmethod
    def dumps(text):
        return text


def sign_raw(key, timestamp):
    _, s = serializer_for(key, timestamp)
    s.serializer = RawText
    for line in sys.stdin:
        print(json.dumps(s.dumps(line.strip())))


STRING_POOL = ["", "a", "café", "😀", "line\nbreak", "quote\"back\\slash", "\x7f\x01",
               " t", " di", " b", "_permanent", "10", "9", "日本語", "/path?x=1&y=<2>"]


def random_string(rng):
    if rng.random() < 0.5:
        return rng.choice(STRING_POOL)
    alphabet = "abcXYZ019 _-./\\\"'<>&é€😀\n\t\x00\x7f"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def random_value(rng, depth):
    kinds = ["str", "int", "bigint", "float", "special_float", "bool", "none", "bytes",
             "markup", "uuid", "datetime"]
    if depth < 3:
        kinds += ["list", "tuple", "dict", "tagdict"]
    kind = rng.choice(kinds)
    if kind == "str":
        return random_string(rng)
    if kind == "int":
        return rng.randint(-2**63, 2**63 - 1) if rng.random() < 0.5 else rng.randint(-100, 100)
    if kind == "bigint":
        return rng.choice([1, -1]) * rng.randint(2**63, 2**100)
    if kind == "float":
        return rng.choice([0.1, 1.0, -0.0, 1e16, 1e-5, 2.5e-7, 1.7976931348623157e308,
                           rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-30, 30)])
    if kind == "special_float":
        return rng.choice([float("nan"), float("inf"), float("-inf")])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 10)))
    if kind == "markup":
        return Markup(random_string(rng))
    if kind == "uuid":
        return uuid.UUID(int=rng.getrandbits(128))
    if kind == "datetime":
        tz = datetime.timezone(datetime.timedelta(minutes=rng.randint(-720, 720)))
        return datetime.datetime.fromtimestamp(rng.randint(0, 4_000_000_000), tz)
    items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    if kind == "tagdict":
        return {rng.choice([" t", " di", " b", " m", " u", " d"]): random_value(rng, depth + 1)}
    return {random_string(rng): v for v in items}


def generate(key, timestamp, count, seed):
    app, s = serializer_for(key, timestamp)
    rng = random.Random(seed)
    for _ in range(count):
        session = {random_string(rng): random_value(rng, 1) for _ in range(rng.randint(0, 6))}
        with app.app_context():
            print(json.dumps({"payload": tagged_payload(app, session), "cookie": s.dumps(session)}))


if __name__ == "__main__":
    mode, key, ts = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "resign":
        resign(key, ts)
    elif mode == "sign-raw":
        sign_raw(key, ts)
    else:
        generate(key, ts, int(sys.argv[4]), int(sys.argv[5]))
