//! The demo's own words around the transcript: what you are looking at, each
//! beat's heading, how to use Ourocodus for real, and what went wrong if it did.

use super::beats::Beat;
use super::style::{Painter, Tone};

/// The Zed settings that make Ourocodus an agent server.
pub const ZED_SETTINGS: &str = r#"{"agent_servers": {"Ourocodus": {"type": "custom", "command": "ourocodus", "args": ["acp"]}}}"#;

const RULE_WIDTH: usize = 78;

pub fn header(painter: &Painter) -> String {
    let title = painter.paint(Tone::Heading, "Ourocodus demo");
    let lines = [
        "Your editor sees ONE agent, `ourocodus acp`. Behind it runs a team of role-tagged",
        "agents (here architect, backend and test); an @mention picks who answers.",
        "Below is what an editor shows during a short scripted session through the real",
        "proxy: each role in its own colour, tool calls as cards, plans as checklists.",
        "The agents are `ourocodus fake-agent`, which reads each prompt as a tiny script",
        "(say, echo, plan, sleep, ask permission...): no model, key or network needed.",
    ];
    let body: Vec<String> = lines.iter().map(|l| painter.paint(Tone::Dim, l)).collect();
    format!("{title}\n{}\n", body.join("\n"))
}

/// The heading of beat `number` (from 1) of `total`.
pub fn beat_heading(painter: &Painter, beat: &Beat, number: usize, total: usize) -> String {
    let label = format!("── {number}/{total} · {} ", beat.title);
    let fill = RULE_WIDTH.saturating_sub(label.chars().count());
    let rule = format!("{label}{}", "─".repeat(fill));
    format!(
        "\n{}\n{}\n",
        painter.paint(Tone::Heading, &rule),
        painter.paint(Tone::Dim, &wrap(beat.explanation, RULE_WIDTH - 3, "   "))
    )
}

pub fn footer(painter: &Painter) -> String {
    let rule = format!("── Use it for real {}", "─".repeat(RULE_WIDTH - 19));
    let steps = [
        (
            "ourocodus init",
            "write ourocodus.toml: your roles, each a real ACP agent",
        ),
        (
            "ourocodus config check",
            "validate it and print the resolved team",
        ),
        (
            "ourocodus acp",
            "what your editor runs; in Zed's settings.json:",
        ),
    ];
    let mut out = format!("\n{}\n", painter.paint(Tone::Heading, &rule));
    for (command, what) in steps {
        let command = painter.paint(Tone::User, &format!("{command:<24}"));
        out.push_str(&format!("  {command}{what}\n"));
    }
    out.push_str(&format!(
        "    {}\n",
        painter.paint(Tone::User, ZED_SETTINGS)
    ));
    let mention =
        "  Then mention roles in a prompt (@backend, @test, @all); no mention goes to the route.";
    out.push_str(&painter.paint(Tone::Dim, mention));
    out.push('\n');
    out
}

/// Says what went wrong, on stderr, with where to look.
pub fn failure(painter: &Painter, what: &str, log_tail: &str, kept: &std::path::Path) -> String {
    let mut out = format!(
        "\n{} {what}\n",
        painter.paint_strong(Tone::Failure, "demo failed:")
    );
    if !log_tail.is_empty() {
        out.push_str("last lines of the proxy's log:\n");
        for line in log_tail.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str(&format!(
        "the team config and full log are kept in {}\n",
        kept.display()
    ));
    out
}

/// Wraps `text` at word boundaries, each line starting with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_the_width() {
        let text = "one two three four five six seven eight nine ten";
        let wrapped = wrap(text, 14, "  ");
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 16),
            "{wrapped}"
        );
        let words: Vec<&str> = wrapped.split_whitespace().collect();
        assert_eq!(words.join(" "), text);
    }

    #[test]
    fn the_zed_settings_are_valid_json() {
        let settings: serde_json::Value = serde_json::from_str(ZED_SETTINGS).expect("json");
        assert_eq!(settings["agent_servers"]["Ourocodus"]["args"][0], "acp");
    }

    #[test]
    fn the_footer_shows_the_zed_settings_verbatim() {
        let footer = footer(&Painter::plain());
        assert!(footer.contains(ZED_SETTINGS));
        assert!(footer.contains("ourocodus init"));
    }
}
