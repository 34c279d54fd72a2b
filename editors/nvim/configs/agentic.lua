-- configs/agentic.lua: agentic.nvim (carlos-algms/agentic.nvim) with Ourocodus as an
-- ACP provider. Needs Neovim 0.11+; `acp_providers` fields as its README documents
-- (command, args, env, default_mode). Ourocodus's session modes are `team` (prompts
-- without a mention go to the config's route) and one per role (everything goes to
-- that role), so `default_mode` picks who answers by default.
return {
  "carlos-algms/agentic.nvim",
  opts = {
    provider = "ourocodus",
    acp_providers = {
      ourocodus = {
        name = "Ourocodus",
        command = "ourocodus",
        args = { "acp" },
        env = {},
        default_mode = "team",
      },
    },
  },
  keys = {
    { "<C-\\>", function() require("agentic").toggle() end, mode = { "n", "v", "i" }, desc = "Toggle Ourocodus chat" },
  },
}
