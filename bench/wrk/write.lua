-- POST /set_email with a fresh email on every request, on the harness's session (write-heavy).
local counter = 0
request = function()
  counter = counter + 1
  local body = "email_address=user" .. counter .. "%40example.com"
  return wrk.format("POST", "/set_email", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
