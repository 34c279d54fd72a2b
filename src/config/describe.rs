//! Human-readable summary of a resolved team (`ourocodus config check`) (stub).

use super::Team;

pub fn describe_team(_team: &Team) -> String {
    String::new()
}
