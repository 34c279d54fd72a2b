-- tests/harness.lua: the suite's small test runner: named tests, bounded waits, buffer
-- assertions, a fake-agent team on the real `ourocodus` binary, and the final tally.
local M = { passed = 0, failed = 0, figures = {} }

local TIMEOUT_MS = 10000

-- Straight to stdout, one line each (print() goes through Neovim's message area).
local function say(text)
  io.stdout:write(text, "\n")
  io.stdout:flush()
end

function M.paths()
  local script = debug.getinfo(1, "S").source:sub(2)
  local tests = vim.fs.dirname(vim.fn.fnamemodify(script, ":p"))
  local plugin = vim.fs.dirname(tests)
  local repo = vim.fs.dirname(vim.fs.dirname(plugin))
  return { tests = tests, plugin = plugin, repo = repo }
end

--- `$OUROCODUS_BIN`, else target/release/ourocodus, relative to the repository root.
function M.binary(repo)
  local bin = os.getenv("OUROCODUS_BIN") or "target/release/ourocodus"
  if bin:sub(1, 1) ~= "/" then
    bin = repo .. "/" .. bin
  end
  return bin
end

--- Waits up to `timeout_ms` for `condition()`; fails the test with `what` otherwise.
function M.wait_for(what, condition, timeout_ms)
  if not vim.wait(timeout_ms or TIMEOUT_MS, condition, 10) then
    error("timed out waiting for " .. what, 2)
  end
end

function M.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(("%s: expected %s, got %s"):format(what or "value", vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

function M.ok(value, what)
  if not value then
    error((what or "assertion") .. " failed", 2)
  end
end

function M.contains(haystack, needle, what)
  if not haystack:find(needle, 1, true) then
    error(("%s: %q not in:\n%s"):format(what or "text", needle, haystack), 2)
  end
end

function M.lacks(haystack, needle, what)
  if haystack:find(needle, 1, true) then
    error(("%s: %q should not be in:\n%s"):format(what or "text", needle, haystack), 2)
  end
end

--- A project directory and a team config of fake agents, one per role.
--- The text of a role's pane (the team pane when `role` is nil) of the plugin's view, flushed first.
function M.pane_text(role)
  local view = require("ourocodus").view()
  view:flush()
  return role and view:role(role):text() or view.team:text()
end

--- Waits until `needle` is in the role's (or the team's) pane.
function M.wait_text(role, needle)
  M.wait_for(("%q in the %s pane"):format(needle, role or "team"), function()
    return M.pane_text(role):find(needle, 1, true) ~= nil
  end)
end

function M.team(bin, roles)
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir .. "/project", "p")
  local toml = { ("[defaults]\ncommand = %q\nroute = [%q]\n"):format(bin, roles[1]) }
  for _, role in ipairs(roles) do
    toml[#toml + 1] = ("\n[roles.%s]\npersona = \"the %s role\"\nargs = [\"fake-agent\", \"--name\", %q]\n"):format(role, role, role)
  end
  local config = dir .. "/team.toml"
  vim.fn.writefile(vim.split(table.concat(toml), "\n"), config)
  return { dir = dir, project = dir .. "/project", config = config }
end

function M.test(name, fn, before, after)
  local ok, err = xpcall(function()
    if before then
      before()
    end
    fn()
  end, debug.traceback)
  if after then
    local cleaned, cleanup_err = pcall(after)
    if ok and not cleaned then
      ok, err = false, cleanup_err
    end
  end
  if ok then
    M.passed = M.passed + 1
    say("ok   " .. name)
  else
    M.failed = M.failed + 1
    say("FAIL " .. name .. "\n" .. tostring(err))
  end
end

M.say = say

function M.figure(text)
  M.figures[#M.figures + 1] = text
  say("     " .. text)
end

function M.finish()
  say(("%d passed, %d failed"):format(M.passed, M.failed))
  os.exit(M.failed > 0 and 1 or 0)
end

return M
