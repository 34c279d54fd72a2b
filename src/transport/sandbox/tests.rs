use std::path::PathBuf;

use landlock::{ABI, AccessFs};

use super::rules::{Access, rules};
use super::{SandboxPlan, SandboxState};

fn plan(writable: &[&str]) -> SandboxPlan {
    SandboxPlan {
        writable: writable.iter().map(PathBuf::from).collect(),
        ..SandboxPlan::default()
    }
}

fn rights_of(plan: &SandboxPlan, path: &str) -> Option<landlock::BitFlags<AccessFs>> {
    let access = Access::new(ABI::V7, plan);
    rules(plan, &access)
        .into_iter()
        .find(|(p, _)| p == &PathBuf::from(path))
        .map(|(_, rights)| rights)
}

#[test]
fn a_writable_directory_gets_every_write_right_but_making_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let rights = rights_of(&plan(&[path]), path).expect("a rule");
    assert!(rights.contains(AccessFs::WriteFile | AccessFs::MakeReg | AccessFs::RemoveFile));
    assert!(rights.contains(AccessFs::Refer | AccessFs::Truncate | AccessFs::MakeDir));
    assert!(!rights.contains(AccessFs::MakeSym));
    let mut with_links = plan(&[path]);
    with_links.symlinks = true;
    assert!(
        rights_of(&with_links, path)
            .unwrap()
            .contains(AccessFs::MakeSym)
    );
}

#[test]
fn a_file_and_a_device_get_file_rights_only_and_reading_is_handled_only_when_narrowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    std::fs::write(&file, "{}").unwrap();
    let file = file.to_str().unwrap();
    let open = plan(&[file]);
    let rights = rights_of(&open, file).expect("a rule");
    assert!(
        !rights.contains(AccessFs::MakeReg),
        "no directory rights on a file"
    );
    assert_eq!(
        rights_of(&open, "/dev/null"),
        Some(AccessFs::WriteFile | AccessFs::Truncate)
    );
    assert!(
        !Access::new(ABI::V7, &open)
            .handled()
            .contains(AccessFs::ReadFile)
    );
    let mut narrowed = open.clone();
    narrowed.readable = Some(vec![PathBuf::from("/srv")]);
    assert!(
        Access::new(ABI::V7, &narrowed)
            .handled()
            .contains(AccessFs::ReadFile)
    );
    assert!(rights_of(&narrowed, "/usr").is_some_and(|r| r.contains(AccessFs::Execute)));
}

#[test]
fn the_state_says_what_the_agent_runs_under() {
    assert_eq!(
        SandboxState::Enforced { abi: 7 }.to_string(),
        "enforced (Landlock ABI 7)"
    );
    assert_eq!(SandboxState::Off.to_string(), "off");
}
