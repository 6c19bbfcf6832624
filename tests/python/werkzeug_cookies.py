"""Werkzeug's own Cookie header parsing, driven from flacon's cookie-parsing test.

Usage:
  werkzeug_cookies.py   < headers (hex of the raw header bytes, one per line)
      Reads each header as a WSGI server hands it to Flask (bytes decoded as latin-1 into
      HTTP_COOKIE), parses it with werkzeug.http.parse_cookie (what request.cookies uses)
      and prints, per line, JSON {"ok": true, "cookies": [[name, first value], ...]} or
      {"ok": false, "error": exception class name}.
"""

import json
import sys

from werkzeug.http import parse_cookie


def main():
    for line in sys.stdin:
        header = bytes.fromhex(line.strip())
        try:
            parsed = parse_cookie({"HTTP_COOKIE": header.decode("latin-1")})
        except Exception as error:  # noqa: BLE001 - reported to the Rust side
            print(json.dumps({"ok": False, "error": type(error).__name__}))
            continue
        print(json.dumps({"ok": True, "cookies": [[k, parsed.get(k)] for k in parsed.keys()]}))


if __name__ == "__main__":
    main()
