//! `ourocodus demo`: a scripted editor session through the real proxy, printed as
//! an editor would show it. It writes a team of fake agents to a temp dir, starts
//! `ourocodus acp` on it, plays the beats and prints the transcript; exit 1 (with
//! the proxy's log) if the proxy times out, errors or answers wrongly.
//!
//! - `beats`      the session's prompts and what each shows
//! - `workspace`  the temp dir: team config, proxy log, project dir
//! - `proxy`      the `ourocodus acp` child: send, bounded receive, stop
//! - `editor`     the ACP client side: session, prompts, permissions, cancel
//! - `render`     wire messages → transcript text
//! - `narration`  header, beat headings, footer, failure report
//! - `style`      colour or not, and which
//! - `pace`       pauses for humans, none with `--fast`
//! - `failure`    what can go wrong

mod beats;
mod editor;
mod failure;
mod narration;
mod pace;
mod proxy;
mod render;
mod style;
mod workspace;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use beats::BEATS;
use editor::DemoEditor;
use failure::DemoFailure;
use pace::Pace;
use proxy::ProxyProcess;
use render::Renderer;
use style::Painter;
use workspace::Workspace;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Never colour the output (otherwise colour is used on a terminal unless NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
    /// No pauses between the steps (for tests and the impatient).
    #[arg(long)]
    pub fast: bool,
}

/// Runs the demo; exit 1 if the proxy misbehaved (already reported on stderr).
pub fn run(args: DemoArgs) -> Result<ExitCode, crate::error::Error> {
    let painter = Painter::for_stdout(args.no_color);
    let mut stdout = std::io::stdout();
    stdout.write_all(narration::header(&painter).as_bytes())?;
    let (executable, workspace) = match prepare() {
        Ok(prepared) => prepared,
        Err(failure) => {
            let failed = painter.paint_strong(style::Tone::Failure, "demo failed:");
            eprintln!("\n{failed} {failure}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let outcome = play_session(&executable, &workspace, painter, Pace::new(args.fast));
    match outcome {
        Ok(()) => {
            stdout.write_all(narration::footer(&painter).as_bytes())?;
            stdout.flush()?;
            workspace.remove();
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            let tail = proxy::log_tail(&workspace, 20);
            let report =
                narration::failure(&painter, &failure.to_string(), &tail, workspace.root());
            let _ = stdout.flush();
            eprint!("{report}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// This executable (which the team runs as `fake-agent`) and the scratch directory.
fn prepare() -> Result<(PathBuf, Workspace), DemoFailure> {
    let executable = std::env::current_exe().map_err(DemoFailure::NoExecutable)?;
    let workspace = Workspace::create(&executable)?;
    Ok((executable, workspace))
}

/// Starts the proxy, plays every beat, and stops the proxy (also after a failure).
fn play_session(
    executable: &Path,
    workspace: &Workspace,
    painter: Painter,
    pace: Pace,
) -> Result<(), DemoFailure> {
    let mut proxy = ProxyProcess::start(executable, workspace)?;
    let mut renderer = Renderer::new(painter);
    let played = play_beats(&mut proxy, &mut renderer, workspace, pace);
    let stopped = proxy.stop();
    played.and(stopped)
}

fn play_beats(
    proxy: &mut ProxyProcess,
    renderer: &mut Renderer,
    workspace: &Workspace,
    pace: Pace,
) -> Result<(), DemoFailure> {
    let painter = *renderer.painter();
    let mut editor = DemoEditor::new(proxy, renderer, std::io::stdout(), pace);
    editor.open_session(&workspace.project_dir())?;
    for (index, beat) in BEATS.iter().enumerate() {
        pace.between_beats();
        let heading = narration::beat_heading(&painter, beat, index + 1, BEATS.len());
        editor.narrate(&heading)?;
        editor.play(beat)?;
    }
    Ok(())
}
