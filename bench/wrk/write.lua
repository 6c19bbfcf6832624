-- POST /set_email with a fresh email on every request, on the harness's session (write-heavy).
-- wrk.format ignores wrk.headers (the -H Cookie) when given headers, so merge them here.
local counter = 0
request = function()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  local body = "email_address=user" .. counter .. "%40example.com"
  return wrk.format("POST", "/set_email", headers, body)
end
