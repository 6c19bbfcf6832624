-- GET /get_email with the session cookie set by the harness (read-heavy).
wrk.method = "GET"
wrk.path = "/get_email"
