-- config.lua: the plugin's options, their defaults, and merging the user's setup({...}).
local M = {}

M.defaults = {
  -- "acp" (the plugin's own ACP client) or "lsp" (Neovim's LSP client on `ourocodus lsp`:
  -- prompts, cancel, live updates, progress and permissions; no session list/load or
  -- team operations).
  transport = "acp",
  -- The command line of the proxy: Ourocodus's editor face (default: `ourocodus acp`,
  -- or `ourocodus lsp` with transport = "lsp").
  cmd = { "ourocodus", "acp" },
  -- Working directory of the session (default: Neovim's cwd when it starts).
  cwd = nil,
  -- Extra environment for the proxy process.
  env = nil,
  -- Serve fs/read_text_file and fs/write_text_file through Neovim buffers and files.
  fs = true,
  -- Ask why when rejecting an approval gate (sent as _meta.ourocodus.feedback).
  ask_feedback = true,
}

M.options = vim.deepcopy(M.defaults)

function M.setup(opts)
  opts = opts or {}
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts)
  -- Lists are replaced, not merged index by index.
  if M.options.transport ~= "acp" and M.options.transport ~= "lsp" then
    vim.notify('ourocodus: transport must be "acp" or "lsp"; using "acp"', vim.log.levels.WARN)
    M.options.transport = "acp"
  end
  M.options.cmd = opts.cmd or (M.options.transport == "lsp" and { "ourocodus", "lsp" } or vim.deepcopy(M.defaults.cmd))
  if type(M.options.cmd) == "string" then
    M.options.cmd = { M.options.cmd }
  end
  return M.options
end

return M
