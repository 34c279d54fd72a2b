//! The demo's scratch directory: the team config (three roles, each this very
//! executable running `fake-agent --name ROLE`), the proxy's log, and an empty
//! project directory for the session. Removed after a good run, kept after a bad one.

use std::path::{Path, PathBuf};

use super::failure::DemoFailure;

/// The demo team: role names and their personas, the route first.
pub const ROLES: &[(&str, &str)] = &[
    (
        "architect",
        "Plans the work and splits it between the roles.",
    ),
    ("backend", "Writes the server-side code."),
    ("test", "Writes and runs the tests."),
];

#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// A fresh directory under the system temp dir, with the team config written.
    pub fn create(executable: &Path) -> Result<Workspace, DemoFailure> {
        let name = format!("ourocodus-demo-{}", uuid::Uuid::new_v4().simple());
        let workspace = Workspace {
            root: std::env::temp_dir().join(name),
        };
        create_dir(&workspace.root)?;
        create_dir(&workspace.project_dir())?;
        let config = workspace.config_path();
        std::fs::write(&config, team_toml(executable)).map_err(|source| DemoFailure::Setup {
            path: config.clone(),
            source,
        })?;
        Ok(workspace)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("team.toml")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("proxy.log")
    }

    /// The demo's own event store (the user's is never touched).
    pub fn store_path(&self) -> PathBuf {
        self.root.join("store.db")
    }

    /// The session's working directory (the "project" the editor has open).
    pub fn project_dir(&self) -> PathBuf {
        self.root.join("project")
    }

    /// Removes the directory (best effort: it is in the temp dir anyway).
    pub fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn create_dir(path: &Path) -> Result<(), DemoFailure> {
    std::fs::create_dir(path).map_err(|source| DemoFailure::Setup {
        path: path.to_path_buf(),
        source,
    })
}

/// The team config: every role runs `<executable> fake-agent --name ROLE`.
pub fn team_toml(executable: &Path) -> String {
    let quoted = |text: &str| toml::Value::String(text.to_string()).to_string();
    let mut config = format!(
        "# Written by `ourocodus demo`: every role is the scriptable fake agent.\n\
         [defaults]\ncommand = {}\nroute = [{}]\n",
        quoted(&executable.to_string_lossy()),
        quoted(ROLES[0].0),
    );
    for (role, persona) in ROLES {
        config.push_str(&format!(
            "\n[roles.{role}]\npersona = {}\nargs = [\"fake-agent\", \"--name\", {}]\n",
            quoted(persona),
            quoted(role),
        ));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigOrigin, load_str};

    #[test]
    fn the_team_config_loads_with_every_role_running_the_fake_agent() {
        let toml = team_toml(Path::new("/opt/odd \"path\"/ourocodus"));
        let team = load_str(&toml, ConfigOrigin::BuiltIn).expect("the demo team loads");
        let names: Vec<&str> = team.roles.keys().map(|r| r.as_str()).collect();
        assert_eq!(names, ["architect", "backend", "test"]);
        assert_eq!(team.route.len(), 1);
        assert_eq!(team.route[0].as_str(), "architect");
        for (role, spec) in &team.roles {
            assert_eq!(spec.command, "/opt/odd \"path\"/ourocodus");
            assert_eq!(spec.args, ["fake-agent", "--name", role.as_str()]);
        }
    }
}
