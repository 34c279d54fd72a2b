//! A role's sandbox settings as the config writes them (`sandbox`, `sandbox_writable`,
//! `sandbox_readable`, `sandbox_symlinks`, `env_inherit`) and how a layer stacks on them.
//! Knows keys and values; nothing of Landlock or processes.

use std::path::PathBuf;

use super::diagnostic::ConfigError;
use super::fields::{Place, Value};

/// Whether a role's agent runs inside a kernel sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxMode {
    /// Where the kernel can; said once, visibly, where it cannot.
    #[default]
    Auto,
    /// The role does not start without it.
    Require,
    /// Never: the role writes wherever the user can (policy checks only what passes
    /// through the protocol).
    Off,
}

impl SandboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Auto => "auto",
            SandboxMode::Require => "require",
            SandboxMode::Off => "off",
        }
    }
}

/// What the sandbox of a role's agent allows beyond the role's `directories`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SandboxSettings {
    pub mode: SandboxMode,
    /// More places the agent may write (its own state, caches), besides those the
    /// adapter is known to need.
    pub writable: Vec<PathBuf>,
    /// When set, reading is limited to these (and what the agent must read to run).
    pub readable: Option<Vec<PathBuf>>,
    /// Whether the agent may make symlinks where it may write.
    pub symlinks: bool,
    /// When set, the names (or `*` globs) of the proxy's environment the agent gets;
    /// otherwise it gets all of it.
    pub env_inherit: Option<Vec<String>>,
}

/// The sandbox keys one table wrote; `None` means "inherit".
#[derive(Debug, Clone, Default)]
pub struct SandboxLayer {
    mode: Option<SandboxMode>,
    writable: Option<Vec<PathBuf>>,
    readable: Option<Vec<PathBuf>>,
    symlinks: Option<bool>,
    env_inherit: Option<Vec<String>>,
}

impl SandboxLayer {
    /// Reads `key` if it is a sandbox key; false when it is not.
    pub fn read_key(
        &mut self,
        place: &Place<'_>,
        key: &str,
        value: &Value<'_>,
    ) -> Result<bool, ConfigError> {
        let paths = |v| -> Result<Vec<PathBuf>, ConfigError> {
            Ok(place
                .non_empty_strings(key, v)?
                .into_iter()
                .map(PathBuf::from)
                .collect())
        };
        match key {
            "sandbox" => self.mode = Some(read_mode(place, key, value)?),
            "sandbox_writable" => self.writable = Some(paths(value)?),
            "sandbox_readable" => self.readable = Some(paths(value)?),
            "sandbox_symlinks" => self.symlinks = Some(place.boolean(key, value)?),
            "env_inherit" => self.env_inherit = Some(place.non_empty_strings(key, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Writes this layer over `settings`: each key replaces whole.
    pub fn apply(&self, settings: &mut SandboxSettings) {
        if let Some(mode) = self.mode {
            settings.mode = mode;
        }
        if let Some(writable) = &self.writable {
            settings.writable.clone_from(writable);
        }
        if self.readable.is_some() {
            settings.readable.clone_from(&self.readable);
        }
        if let Some(symlinks) = self.symlinks {
            settings.symlinks = symlinks;
        }
        if self.env_inherit.is_some() {
            settings.env_inherit.clone_from(&self.env_inherit);
        }
    }
}

fn read_mode(place: &Place<'_>, key: &str, value: &Value<'_>) -> Result<SandboxMode, ConfigError> {
    match place.string(key, value)?.as_str() {
        "auto" => Ok(SandboxMode::Auto),
        "require" => Ok(SandboxMode::Require),
        "off" => Ok(SandboxMode::Off),
        other => Err(place.error(
            value.span(),
            format!(
                "`{key}` {} must be \"auto\", \"require\" or \"off\", not {other:?}",
                place.label()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::SandboxMode;
    use crate::config::{ConfigOrigin, Team, load_str};

    fn load(text: &str) -> Result<Team, crate::config::ConfigError> {
        load_str(text, ConfigOrigin::File("team.toml".into()))
    }

    #[test]
    fn a_role_inherits_the_defaults_sandbox_and_overrides_key_by_key() {
        let team = load(
            "[defaults]\nsandbox = \"require\"\nenv_inherit = [\"PATH\", \"LC_*\"]\n\
             [roles.a]\ncommand = \"x\"\nsandbox_writable = [\"~/.cache/x\"]\n\
             [roles.b]\ncommand = \"x\"\nsandbox = \"off\"\nsandbox_symlinks = true\n",
        )
        .expect("valid");
        let a = &team.roles["a"].sandbox;
        assert_eq!(a.mode, SandboxMode::Require);
        assert_eq!(a.writable, [PathBuf::from("~/.cache/x")]);
        assert_eq!(
            a.env_inherit.as_deref(),
            Some(&["PATH".to_string(), "LC_*".to_string()][..])
        );
        assert!(!a.symlinks);
        let b = &team.roles["b"].sandbox;
        assert_eq!(b.mode, SandboxMode::Off);
        assert!(b.symlinks);
    }

    #[test]
    fn an_unknown_sandbox_mode_is_an_error_that_names_the_choices() {
        let error = load("[roles.a]\ncommand = \"x\"\nsandbox = \"maybe\"\n").expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains("\"auto\", \"require\" or \"off\""), "{text}");
        assert!(text.contains("team.toml:3"), "{text}");
    }
}
