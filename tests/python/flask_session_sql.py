"""Flask-Session 0.8's SQLAlchemy interface on PostgreSQL, driven from flacon's tests.

Usage: flask_session_sql.py DATABASE_URL < commands, one JSON line each:
  ["schema"]                       creates the table as Flask-Session does (its own
                                   create(checkfirst=True)) and prints its columns from
                                   information_schema: [[name, type, max length, nullable]]
  ["set", KEY, SID, NAME, VALUE]    a request that sets session[NAME] = VALUE on the session
                                   whose cookie is SID (null: a new one); prints [sid]
  ["get", KEY, SID, NAME]           a request that reads session[NAME]; prints [value or null]
"""

import json
import sys

from flask import Flask, session
from flask_session import Session
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text


def app_for(url, key):
    app = Flask(__name__)
    app.secret_key = key
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SESSION_TYPE="sqlalchemy")
    db = SQLAlchemy(app)
    app.config["SESSION_SQLALCHEMY"] = db

    @app.route("/set/<name>/<value>")
    def set_value(name, value):
        session[name] = value
        return "ok"

    @app.route("/get/<name>")
    def get_value(name):
        return json.dumps(session.get(name))

    Session(app)
    return app, db


def main(url):
    url = url.replace("postgres://", "postgresql://", 1)  # SQLAlchemy's dialect name
    apps = {}
    for line in sys.stdin:
        command = json.loads(line)
        if command[0] == "schema":
            app, db = app_for(url, "schema")
            with app.app_context():
                rows = db.session.execute(text(
                    "SELECT column_name, data_type, character_maximum_length, is_nullable "
                    "FROM information_schema.columns WHERE table_name = 'sessions' "
                    "ORDER BY ordinal_position")).all()
                constraints = db.session.execute(text(
                    "SELECT constraint_type FROM information_schema.table_constraints "
                    "WHERE table_name = 'sessions' ORDER BY constraint_type")).all()
            print(json.dumps([[list(r) for r in rows], [c[0] for c in constraints]]))
            continue
        key = command[1]
        if key not in apps:
            apps[key] = app_for(url, key)[0]
        client = apps[key].test_client()
        sid = command[2]
        if sid is not None:
            client.set_cookie("session", sid)
        if command[0] == "set":
            response = client.get(f"/set/{command[3]}/{command[4]}")
            cookie = client.get_cookie("session")
            print(json.dumps([cookie.value if cookie else sid]))
        else:
            print(client.get(f"/get/{command[3]}").get_data(as_text=True))


if __name__ == "__main__":
    main(sys.argv[1])
