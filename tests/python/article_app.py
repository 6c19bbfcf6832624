"""The article's Flask app ("Sessions in Flask"), plus the cart / permanent / clear routes of
its additional notes, written as a Flask developer would. flacon's side-by-side tests run it
next to `flacon serve` with the same key and compare every response.

Usage: article_app.py SECRET_KEY [REDIS_URL]
  (prints "listening on PORT", serves on 127.0.0.1). With REDIS_URL, sessions live in Redis
  through Flask-Session 0.8 with its defaults, instead of Flask's signed cookie (with a
  postgres:// URL, in PostgreSQL through its SQLAlchemy interface). The
  environment variable ARTICLE_APP_CONFIG, a JSON object, is added to app.config first
  (SESSION_COOKIE_NAME, SESSION_KEY_PREFIX, ...), as a Flask app's config.py would.
"""

import json
import os
import re
import sys

from flask import Flask, flash, redirect, render_template_string, request, session, url_for
from werkzeug.serving import make_server

app = Flask(__name__)
# Under gunicorn (the benchmark) the key comes from the environment.
app.secret_key = sys.argv[1] if __name__ == "__main__" else os.environ["ARTICLE_APP_SECRET_KEY"]
app.config.update(json.loads(os.environ.get("ARTICLE_APP_CONFIG", "{}")))
if __name__ == "__main__" and len(sys.argv) > 2:
    from flask_session import Session

    if sys.argv[2].startswith("postgres"):
        from flask_sqlalchemy import SQLAlchemy

        # SQLAlchemy's dialect is called postgresql.
        app.config["SQLALCHEMY_DATABASE_URI"] = sys.argv[2].replace("postgres://", "postgresql://", 1)
        app.config["SESSION_TYPE"] = "sqlalchemy"
        app.config["SESSION_SQLALCHEMY"] = SQLAlchemy(app)
    else:
        import redis

        app.config["SESSION_TYPE"] = "redis"
        app.config["SESSION_REDIS"] = redis.from_url(sys.argv[2])
    Session(app)


@app.route("/set_email", methods=["GET", "POST"])
def set_email():
    if request.method == "POST":
        session["email"] = request.form["email_address"]
        return redirect(url_for("get_email"))

    return "\n <form method=\"post\">\n <label for=\"email\">Enter your email address:</label>\n <input type=\"email\" id=\"email\" name=\"email_address\" required />\n <button type=\"submit\">Submit</button>\n </form>\n "


@app.route("/get_email")
def get_email():
    return render_template_string("\n {% if session['email'] %}\n <h1>Welcome {{ session['email'] }}!</h1>\n {% else %}\n <h1>Welcome! Please enter your email <a href=\"{{ url_for('set_email') }}\">here.</a></h1>\n {% endif %}\n ")


@app.route("/delete_email")
def delete_email():
    session.pop("email", default=None)
    return "<h1>Session deleted!</h1>"


@app.route("/cart/add/<item>")
def cart_add(item):
    session.setdefault("cart", []).append(item)
    session.modified = True  # Flask does not see the in-place append by itself
    return {"cart": session["cart"]}


@app.route("/cart")
def cart():
    return {"cart": session.get("cart", [])}


@app.route("/permanent")
def permanent():
    session.permanent = True
    return "permanent"


@app.route("/clear")
def clear():
    session.clear()
    return "cleared"


MESSAGES = (
    "<!doctype html>\n<title>Messages</title>\n<h1>Messages (flacon)</h1>\n"
    "{% for category, message in get_flashed_messages(with_categories=true, category_filter=[only] if only else []) %}\n"
    "<p class=\"{{ category }}\">{{ message }}</p>\n"
    "{% else %}\n<p>No messages.</p>\n{% endfor %}\n"
    "<form method=post action=/flash>\n<input name=message required>\n"
    "<select name=category><option>message</option><option>error</option></select>\n"
    "<button type=submit>Flash</button>\n</form>\n"
)


FEEDBACK = (
    "<!doctype html>\n<title>Feedback</title>\n"
    "<form method=post action=/feedback>\n"
    "<input type=hidden name=csrf_token value=\"{{ csrf_token }}\">\n"
    "<textarea name=text required></textarea>\n<button type=submit>Send</button>\n</form>\n"
)


@app.route("/feedback", methods=["GET", "POST"])
def feedback():
    from flask_wtf.csrf import generate_csrf, validate_csrf
    from wtforms.validators import ValidationError

    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as e:
            return e.args[0], 400
        words = len(request.form.get("text", "").split())
        flash(f"Thanks for your feedback ({words} words)")
        return redirect(url_for("messages"))
    return render_template_string(FEEDBACK, csrf_token=generate_csrf())


@app.route("/flash", methods=["POST"])
def flash_message():
    flash(request.form["message"], request.form.get("category", "message"))
    return redirect(url_for("messages"))


@app.route("/messages")
def messages():
    return render_template_string(MESSAGES, only=request.args.get("only"))


WHOAMI = "{% if user %}<h1>Signed in as {{ user }}</h1>{% else %}<h1>Not signed in</h1>{% endif %}"

# Flask-Login only when asked: its session protection rewrites `_fresh` in any session
# without its `_id`, which the other side-by-side tests must not see.
if os.environ.get("ARTICLE_APP_FLASK_LOGIN"):
    from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

    login_manager = LoginManager(app)

    class User(UserMixin):
        def __init__(self, user_id):
            self.id = user_id

    @login_manager.user_loader
    def load_user(user_id):
        # flacon's remember-me token signs `user|issued.id`, which Flask-Login hands over
        # as the user id (the alternative-token pattern): the user is named before the stamp.
        user, _, stamp = user_id.rpartition("|")
        if user and re.fullmatch(r"[0-9]{1,15}\.[A-Za-z0-9_-]{22}", stamp):
            return User(user)
        return User(user_id)

    @app.route("/login", methods=["POST"])
    def login():
        login_user(User(request.form["user"]), remember="remember" in request.form)
        return redirect(url_for("whoami"))

    @app.route("/whoami")
    def whoami():
        user = current_user.id if current_user.is_authenticated else None
        return render_template_string(WHOAMI, user=user)

    @app.route("/logout", methods=["POST"])
    def logout():
        logout_user()
        return redirect(url_for("whoami"))


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening on {server.port}", flush=True)
    server.serve_forever()
