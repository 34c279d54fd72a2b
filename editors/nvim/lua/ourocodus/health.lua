-- health.lua: `:checkhealth ourocodus` — Neovim's version, the configured binary found
-- on PATH, and the version it reports.
local config = require("ourocodus.config")

local M = {}

M.MIN_NVIM = { 0, 10, 0 }

function M.check()
  local health = vim.health
  health.start("ourocodus")
  local version = vim.version()
  local nvim = ("%d.%d.%d"):format(version.major, version.minor, version.patch)
  if vim.version.lt(version, M.MIN_NVIM) then
    health.error("Neovim " .. nvim .. " is too old: ourocodus.nvim needs 0.10 or newer (vim.system)")
  else
    health.ok("Neovim " .. nvim)
  end
  local cmd = config.options.cmd
  local binary = cmd[1]
  local path = binary and vim.fn.exepath(binary) or ""
  if path == "" then
    health.error(("`%s` not found (setup({ cmd = ... }) names the binary)"):format(tostring(binary)), {
      "cargo install --path . in a clone of Ourocodus, or set cmd to the binary's full path",
    })
    return
  end
  health.ok("binary: " .. path)
  local result = vim.system({ path, "--version" }, { text = true }):wait(5000)
  if result.code == 0 and (result.stdout or ""):match("^ourocodus ") then
    health.ok("version: " .. vim.trim(result.stdout))
  else
    health.warn(("`%s --version` did not answer as ourocodus does: %s"):format(path, vim.trim((result.stdout or "") .. (result.stderr or ""))))
  end
  health.info("command: " .. table.concat(cmd, " "))
end

return M
