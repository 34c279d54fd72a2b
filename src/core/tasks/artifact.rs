//! What a completed task produced, as its role names it: a file, a pull request, a
//! document or a link. Knows names and kinds; nothing of files or the web.

use serde::{Deserialize, Serialize};

/// The kinds of thing a task may leave behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    File,
    Pr,
    Document,
    Link,
}

impl ArtifactKind {
    pub const ALL: [ArtifactKind; 4] = [
        ArtifactKind::File,
        ArtifactKind::Pr,
        ArtifactKind::Document,
        ArtifactKind::Link,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::File => "file",
            ArtifactKind::Pr => "pr",
            ArtifactKind::Document => "document",
            ArtifactKind::Link => "link",
        }
    }

    pub fn parse(text: &str) -> Option<ArtifactKind> {
        ArtifactKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One artifact: its kind and where it is (a path, a URL, a name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub kind: ArtifactKind,
    #[serde(rename = "ref")]
    pub target: String,
}

impl Artifact {
    /// A bare name with no kind given: a URL is a link (a pull request when it says
    /// so), anything else a file.
    pub fn guess(target: String) -> Artifact {
        let kind = if target.starts_with("https://") || target.starts_with("http://") {
            if target.contains("/pull/") || target.contains("/merge_requests/") {
                ArtifactKind::Pr
            } else {
                ArtifactKind::Link
            }
        } else {
            ArtifactKind::File
        };
        Artifact { kind, target }
    }
}

impl std::fmt::Display for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_is_a_file_a_url_a_link_and_a_pull_url_a_pr() {
        let kinds = [
            "src/users.rs",
            "https://example.com/x",
            "https://h/o/r/pull/7",
        ]
        .map(|t| Artifact::guess(t.to_string()).kind);
        assert_eq!(
            kinds,
            [ArtifactKind::File, ArtifactKind::Link, ArtifactKind::Pr]
        );
    }

    #[test]
    fn an_artifact_reads_and_writes_as_kind_and_ref() {
        let artifact: Artifact =
            serde_json::from_str(r#"{"kind":"document","ref":"docs/paging.md"}"#).unwrap();
        assert_eq!(artifact.kind, ArtifactKind::Document);
        assert_eq!(
            serde_json::to_string(&artifact).unwrap(),
            r#"{"kind":"document","ref":"docs/paging.md"}"#
        );
        assert!(serde_json::from_str::<Artifact>(r#"{"kind":"exe","ref":"x"}"#).is_err());
    }
}
