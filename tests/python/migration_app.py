"""The Flask half of a migration: Flask-Session on Redis, Flask-Login and Flask-WTF's
CSRFProtect, under /flask/, behind nginx beside `flacon serve` (docs/examples/
nginx-migration.conf). Its pages hand over to flacon's: a login ends on flacon's /messages
with a flash, and /flask/feedback takes a form flacon served.

Usage: migration_app.py SECRET_KEY REDIS_URL   (prints "listening on PORT")
"""

import sys

import redis
from flask import Flask, flash, redirect, render_template_string, request
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_session import Session
from flask_wtf.csrf import CSRFProtect
from werkzeug.serving import make_server

app = Flask(__name__)
app.secret_key = sys.argv[1]
app.config["SESSION_TYPE"] = "redis"
app.config["SESSION_REDIS"] = redis.from_url(sys.argv[2])
Session(app)
CSRFProtect(app)
login_manager = LoginManager(app)


class User(UserMixin):
    def __init__(self, user_id):
        self.id = user_id


@login_manager.user_loader
def load_user(user_id):
    return User(user_id)


LOGIN = """<!doctype html>
<title>Sign in (Flask)</title>
<h1>Sign in on the Flask app</h1>
<form method=post action=/flask/login>
<input type=hidden name=csrf_token value="{{ csrf_token() }}">
<input id=user name=user required>
<button type=submit>Sign in</button>
</form>"""


@app.route("/flask/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        login_user(User(request.form["user"]))
        flash(f"Signed in on Flask as {request.form['user']}")
        return redirect("/messages")
    return render_template_string(LOGIN)


@app.route("/flask/whoami")
def whoami():
    user = current_user.id if current_user.is_authenticated else None
    return render_template_string(
        "{% if user %}<h1>Signed in as {{ user }}</h1>{% else %}<h1>Not signed in</h1>{% endif %}",
        user=user)


@app.route("/flask/feedback", methods=["POST"])
def feedback():
    words = len(request.form.get("text", "").split())
    flash(f"Flask took flacon's form ({words} words)")
    return redirect("/messages")


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening on {server.port}", flush=True)
    server.serve_forever()
