-- configs/codecompanion.lua: CodeCompanion.nvim with Ourocodus as its ACP adapter.
-- For CodeCompanion v18 and newer (`interactions`; v17 and older call it `strategies`),
-- checked against its docs for v19/v20 (doc/configuration/adapters-acp.md). Neovim 0.11+.
-- CodeCompanion shows one chat: roles arrive labelled ([role]) in the text, tool calls
-- titled `role: ...`; it renders no plan, so the task graph is not shown (use /tasks or
-- this repository's own plugin). Ourocodus sends no authMethods, so CodeCompanion
-- never calls `authenticate`.
return {
  "olimorris/codecompanion.nvim",
  dependencies = { "nvim-lua/plenary.nvim" },
  opts = {
    adapters = {
      acp = {
        ourocodus = function()
          -- Built on the claude_code adapter (its chat handling suits Claude Code
          -- children); only the command and the names change.
          return require("codecompanion.adapters").extend("claude_code", {
            name = "ourocodus",
            formatted_name = "Ourocodus",
            commands = {
              default = { "ourocodus", "acp" },
              -- e.g. a team file of your own:
              -- team = { "ourocodus", "acp", "--config", vim.fn.expand("~/ourocodus.toml") },
            },
          })
        end,
      },
    },
    interactions = {
      chat = { adapter = "ourocodus" },
    },
  },
}
