//! A role's part in the task graph as the config writes it (`can_delegate`,
//! `task_timeout`, `task_retries`) and how a layer stacks on it. Knows keys and values;
//! nothing of tasks themselves.

use std::time::Duration;

use super::diagnostic::ConfigError;
use super::fields::{Place, Value};

/// How long a task may be in flight on its role before it counts as failed, by default.
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How many times a task is handed back after its agent crashed or timed out on it.
pub const DEFAULT_TASK_RETRIES: u32 = 3;

/// What a role may do with tasks, and how its tasks are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSettings {
    /// Whether the role may hand tasks to others (`delegate`).
    pub can_delegate: bool,
    pub timeout: Duration,
    pub retries: u32,
}

impl TaskSettings {
    /// A role named `architect` plans; the others do.
    pub fn for_role(name: &str) -> TaskSettings {
        TaskSettings {
            can_delegate: name == "architect",
            timeout: DEFAULT_TASK_TIMEOUT,
            retries: DEFAULT_TASK_RETRIES,
        }
    }
}

/// The task keys one table wrote; `None` means "inherit".
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskLayer {
    can_delegate: Option<bool>,
    timeout: Option<Duration>,
    retries: Option<u32>,
}

impl TaskLayer {
    /// Reads `key` if it is a task key; false when it is not.
    pub fn read_key(
        &mut self,
        place: &Place<'_>,
        key: &str,
        value: &Value<'_>,
    ) -> Result<bool, ConfigError> {
        match key {
            "can_delegate" => self.can_delegate = Some(place.boolean(key, value)?),
            "task_timeout" => self.timeout = Some(place.duration(key, value)?),
            "task_retries" => {
                let retries = place.unsigned(key, value, 100)?;
                self.retries = u32::try_from(retries).ok();
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub fn apply(&self, settings: &mut TaskSettings) {
        if let Some(can) = self.can_delegate {
            settings.can_delegate = can;
        }
        if let Some(timeout) = self.timeout {
            settings.timeout = timeout;
        }
        if let Some(retries) = self.retries {
            settings.retries = retries;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{ConfigOrigin, load_str};

    #[test]
    fn only_the_architect_delegates_unless_the_config_says_otherwise() {
        let team = load_str(
            "[defaults]\ntask_retries = 5\n[roles.architect]\n[roles.backend]\n\
             [roles.lead]\ncan_delegate = true\ntask_timeout = \"10m\"\n",
            ConfigOrigin::File("team.toml".into()),
        )
        .expect("valid");
        let tasks = |name: &str| team.roles[name].tasks;
        assert!(tasks("architect").can_delegate);
        assert!(!tasks("backend").can_delegate);
        assert!(tasks("lead").can_delegate);
        assert_eq!(tasks("lead").timeout, Duration::from_secs(600));
        assert_eq!(tasks("backend").timeout, super::DEFAULT_TASK_TIMEOUT);
        assert_eq!(tasks("backend").retries, 5, "from [defaults]");
    }
}
