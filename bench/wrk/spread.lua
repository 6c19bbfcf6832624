-- POST /set_email round-robin over many sessions (one per line of $FLACON_BENCH_COOKIES,
-- each a whole Cookie header value): writes that do not overlap within one session, the
-- cost of a compare-and-set save without conflicts.
local cookies = {}
for line in io.lines(os.getenv("FLACON_BENCH_COOKIES")) do
  cookies[#cookies + 1] = line
end
local counter = 0
request = function()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookies[counter % #cookies + 1],
  }
  local body = "email_address=user" .. counter .. "%40example.com"
  return wrk.format("POST", "/set_email", headers, body)
end
