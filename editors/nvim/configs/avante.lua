-- configs/avante.lua: avante.nvim (yetone/avante.nvim) with Ourocodus as its ACP
-- provider, in the `acp_providers` shape its README documents (command, args, env).
-- avante.nvim has no semver releases (its README says `version = false`); the ACP
-- providers exist on its main branch since late 2025. Neovim 0.10+.
return {
  "yetone/avante.nvim",
  build = "make",
  event = "VeryLazy",
  version = false,
  dependencies = { "nvim-lua/plenary.nvim", "MunifTanjim/nui.nvim" },
  opts = {
    provider = "ourocodus",
    acp_providers = {
      ourocodus = {
        command = "ourocodus",
        args = { "acp" },
        env = {},
      },
    },
  },
}
