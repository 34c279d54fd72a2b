//! The `ourocodus` command line: parse arguments, set up logging, run a subcommand.

// Subcommands other than `acp` and `lsp` print their results on stdout; those two
// never reach a print here (their stdout is the protocol).
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ourocodus::app::StoreChoice;
use ourocodus::hub_client::listing;

#[derive(Parser)]
#[command(
    name = "ourocodus",
    version,
    about = "One ACP agent in your editor, a team of coding agents behind it"
)]
struct Cli {
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true)]
    log_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// What `acp` and `lsp` take alike: the team, the message cap, the store.
#[derive(clap::Args)]
struct FaceArgs {
    /// Team configuration (default: ./ourocodus.toml, then $XDG_CONFIG_HOME/ourocodus/config.toml, then built in).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Largest message accepted from the editor or an agent (e.g. 64MiB); longer
    /// ones are refused and skipped.
    #[arg(long, default_value = "64MiB", value_parser = ourocodus::faces::parse_size)]
    max_message_size: usize,
    /// The event store (default: `[store] path` of the config, else
    /// $XDG_DATA_HOME/ourocodus/store.db).
    #[arg(long, value_name = "PATH", conflicts_with = "no_store")]
    store: Option<PathBuf>,
    /// Record nothing: sessions cannot be listed or loaded later.
    #[arg(long)]
    no_store: bool,
}

/// `acp`: a face of its own team, or (`--attach`) of a running hub's.
#[derive(clap::Args)]
struct AcpArgs {
    #[command(flatten)]
    face: FaceArgs,
    /// Attach to a running hub (`ourocodus serve`) instead of starting a team: ws://HOST:PORT
    /// or HOST:PORT (default: --hub, else $OUROCODUS_HUB, else 127.0.0.1:7420). The token:
    /// $OUROCODUS_TOKEN, else the hub's token file. The hub's team and store are used, so
    /// --config, --store and --no-store are refused.
    #[arg(
        long,
        value_name = "URL",
        num_args = 0..=1,
        conflicts_with_all = ["config", "store", "no_store"]
    )]
    attach: Option<Option<String>>,
    /// Where the hub is, for --attach without a URL.
    #[arg(long, value_name = "URL", requires = "attach")]
    hub: Option<String>,
}

/// Where and how `serve` listens.
#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed on start).
    #[arg(long, default_value = ourocodus::hub::access::DEFAULT_HUB)]
    listen: std::net::SocketAddr,
    /// Allow a non-loopback --listen address (needs --tls-cert and --tls-key).
    #[arg(long)]
    allow_remote: bool,
    /// Print the monitor's one-time login link even when stdout is not a terminal
    /// (the link is a credential for 10 minutes; a service's output ends up in logs).
    #[arg(long)]
    print_login_link: bool,
    /// Serve TLS only (wss://, https://) with this certificate chain (PEM, leaf first).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A browser origin allowed besides the hub's own (repeatable), e.g. vscode-file://vscode-app.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Largest WebSocket message or frame a client may send; larger ones close its connection.
    #[arg(long, default_value = "16MiB", value_parser = ourocodus::faces::parse_size)]
    max_frame_size: usize,
    /// Bytes a client may leave unread before it is dropped.
    #[arg(long, default_value = "16MiB", value_parser = ourocodus::faces::parse_size, hide = true)]
    max_client_backlog: usize,
    /// How long a browser session of the monitor lasts, in seconds (default 12 hours);
    /// for tests that watch one end.
    #[arg(long, value_name = "SECS", hide = true, value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600))]
    browser_session_secs: Option<u64>,
    /// Connections let in (token or login shown) at once at most; one more is closed
    /// (1013, try again later) and logged. Connections not yet let in have a pool of
    /// their own, 64 at once and 16 from one address (a newcomer pushes out the oldest),
    /// each for 10 s at most.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Milliseconds from accept to upgrade, at most (tests shorten it).
    #[arg(long, default_value_t = 10_000, hide = true)]
    door_timeout_ms: u64,
    /// The team the hub hosts, its message cap and its store (as for `acp`).
    #[command(flatten)]
    face: FaceArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Speak ACP on stdio to an editor, with the team behind it (or, with
    /// --attach, with a running hub's team behind it).
    Acp(AcpArgs),
    /// Speak LSP on stdio (for editors without an ACP client), with the team behind it.
    Lsp(FaceArgs),
    /// Run the hub: the team as a long-lived host several clients attach to, over
    /// WebSocket (the Agent Host Protocol, and ACP for `acp --attach`).
    Serve(ServeArgs),
    /// Print the hub's access token (made, 0600 in the config directory, if there is none).
    Token {
        /// Replace it with a new one first: a running hub refuses the old one from its
        /// next connection on, and ends every browser session and login link.
        #[arg(long)]
        rotate: bool,
    },
    /// Ask the running hub for a new one-time login link to its web monitor (good once,
    /// for 10 minutes) and print it.
    LoginLink(ourocodus::hub_client::HubArg),
    /// Write a commented starter configuration.
    Init {
        /// Where to write it.
        #[arg(default_value = "ourocodus.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Inspect configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The coordination tools' MCP server for one agent: started by the proxy as the
    /// agent's `ourocodus` MCP server, never by hand.
    Mcp {
        /// The proxy's socket.
        #[arg(long)]
        socket: PathBuf,
    },
    /// Run the scriptable fake ACP agent (see `ourocodus fake-agent --help`).
    FakeAgent(ourocodus::fake_agent::FakeAgentArgs),
    /// Play a scripted editor session against a team of fake agents and print it.
    Demo(ourocodus::demo::DemoArgs),
    /// Measure throughput, latency, team start and memory against same-run baselines.
    Bench(ourocodus::bench::BenchArgs),
    /// Print recorded events of the event store (all sessions, or one; times in UTC).
    Log(ourocodus::store::cli::LogArgs),
    /// List the sessions, most recently updated first: the hub's if one runs, else
    /// the event store's (`--store` reads a store without asking a hub).
    Sessions {
        #[command(flatten)]
        store: ourocodus::store::cli::SessionsArgs,
        #[command(flatten)]
        hub: ourocodus::hub_client::HubArg,
    },
    /// Print a session's task graph (default: the latest session): the hub's if one
    /// runs, else as the event store last recorded it (`--store`: the store only).
    Tasks {
        #[command(flatten)]
        store: ourocodus::store::cli_tasks::TasksArgs,
        #[command(flatten)]
        hub: ourocodus::hub_client::HubArg,
    },
    /// Send a prompt to the team on the hub and stream the turn's output (exit code:
    /// 0 done, 1 failed, 2 stopped short, 3 no hub, 130 cancelled).
    Send(ourocodus::hub_client::send::SendArgs),
    /// Follow a session's actions on the hub, one line each (or `--json`).
    Tail(ourocodus::hub_client::tail::TailArgs),
    /// The team's agents as the hub reports them.
    Agents(ourocodus::hub_client::agents::AgentsArgs),
    /// The baseline relay the benchmarks compare against (one parse-and-forward hop).
    #[command(hide = true)]
    BenchRelay {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration and print the resolved team.
    Check { file: Option<PathBuf> },
}

fn main() -> ExitCode {
    pin_mmap_threshold();
    let cli = Cli::parse();
    let quiet = matches!(
        cli.command,
        Command::FakeAgent(_)
            | Command::BenchRelay { .. }
            | Command::Bench(_)
            | Command::Mcp { .. }
    );
    if let Err(e) = init_logging(cli.log_file.as_deref(), quiet) {
        eprintln!("ourocodus: cannot open log file: {e}");
        return ExitCode::from(2);
    }
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ourocodus: {e:#}");
            ExitCode::from(exit_code_for(&e))
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Acp(AcpArgs {
            attach: Some(url),
            hub,
            face,
        }) => {
            let given = url.or(hub);
            let attached =
                ourocodus::hub::attach::run_attach(given.as_deref(), face.max_message_size)?;
            Ok(attached)
        }
        Command::Acp(args) => {
            let (team, options) = face_options(args.face)?;
            Ok(ourocodus::app::run_acp_stdio(team, options)?)
        }
        Command::Lsp(args) => {
            let (team, options) = face_options(args)?;
            Ok(ourocodus::app::run_lsp_stdio(team, options)?)
        }
        Command::Serve(args) => {
            run_serve(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { rotate } => {
            let path = ourocodus::hub::access::token_path()?;
            let token = if rotate {
                let token = ourocodus::hub::access::rotate_token(&path)?;
                eprintln!(
                    "new token in {}: a running hub refuses the old one from now on",
                    path.display()
                );
                token
            } else {
                ourocodus::hub::access::load_or_create_token(&path)?
            };
            println!("{}", token.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::LoginLink(hub) => {
            hub_command(ourocodus::hub_client::login_link::run_login_link(&hub))
        }
        Command::Init { path, force } => {
            ourocodus::config::starter::write_starter(&path, force)?;
            eprintln!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let team = ourocodus::config::load_team(file.as_deref())?;
            print!("{}", ourocodus::config::describe_team(&team));
            let kernel = match ourocodus::transport::sandbox::kernel_abi() {
                Ok(abi) => format!("Landlock ABI {abi}: `auto` and `require` are enforced"),
                Err(reason) => {
                    format!("{reason}: `auto` runs roles unsandboxed, `require` refuses them")
                }
            };
            println!("\nsandbox kernel: {kernel}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Mcp { socket } => Ok(ourocodus::faces::mcp::run_bridge(&socket)),
        Command::FakeAgent(args) => Ok(ourocodus::fake_agent::run(args)),
        Command::Demo(args) => Ok(ourocodus::demo::run(args)?),
        Command::Bench(args) => Ok(ourocodus::bench::run(args)?),
        Command::BenchRelay { command } => Ok(ourocodus::bench::relay::run(&command)?),
        Command::Log(args) => {
            ourocodus::store::cli::run_log(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sessions { store, hub } => hub_command(listing::run_sessions(&store, &hub)),
        Command::Tasks { store, hub } => hub_command(listing::run_tasks(&store, &hub)),
        Command::Send(args) => hub_command(ourocodus::hub_client::send::run_send(&args)),
        Command::Tail(args) => hub_command(ourocodus::hub_client::tail::run_tail(&args)),
        Command::Agents(args) => hub_command(ourocodus::hub_client::agents::run_agents(&args)),
    }
}

/// A hub command's end: its own exit code, or its error on stderr with the code the
/// error calls for (3: no hub); a closed pipe (`| head`) ends it quietly.
fn hub_command(
    result: Result<ExitCode, ourocodus::hub_client::HubCliError>,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(code) => Ok(code),
        Err(e) if e.is_closed_pipe() => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("ourocodus: {e}");
            Ok(ExitCode::from(e.exit_code()))
        }
    }
}

/// The hub, announcing where it listens on stdout (not a protocol face).
fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let (team, face) = face_options(args.face)?;
    let secure = args.tls_cert.is_some();
    let options = ourocodus::hub::serve::ServeOptions {
        listen: args.listen,
        allow_remote: args.allow_remote,
        tls: args.tls_cert.zip(args.tls_key),
        allowed_origins: args.allow_origins,
        max_frame: args.max_frame_size,
        max_backlog: args.max_client_backlog,
        max_connections: args.max_connections,
        door_timeout: std::time::Duration::from_millis(args.door_timeout_ms),
        browser_session: args.browser_session_secs.map_or(
            ourocodus::hub::login_book::SESSION_LIFE,
            std::time::Duration::from_secs,
        ),
        // The token is never printed, and the login link (a credential for minutes)
        // only to a terminal or when asked: stdout of a service ends up in logs.
        print_login_link: args.print_login_link || std::io::stdout().is_terminal(),
    };
    ourocodus::hub::serve::run_serve(options, team, face, |addr, monitor, login| {
        use std::io::Write;
        let ws = if secure { "wss" } else { "ws" };
        let monitor = match login {
            Some(link) => link.to_string(),
            None => format!("{monitor}/ (log in with a link from `ourocodus login-link`)"),
        };
        let announce = format!(
            "ourocodus hub on {ws}://{addr} (token: `ourocodus token`)\n\
             monitor: {monitor}\n"
        );
        // Whoever started the hub may have stopped reading: the hub goes on regardless.
        let _ = std::io::stdout().lock().write_all(announce.as_bytes());
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}

/// How `acp` and `lsp` run: the message cap, and the store the flags or the config choose.
/// The team and the run options a face's arguments name.
fn face_options(
    args: FaceArgs,
) -> anyhow::Result<(ourocodus::config::Team, ourocodus::app::AcpOptions)> {
    let team = ourocodus::config::load_team(args.config.as_deref())?;
    let store = match (args.no_store, args.store) {
        (true, _) => StoreChoice::Off,
        (false, Some(path)) => StoreChoice::Path(path),
        (false, None) => match &team.store_path {
            Some(path) => StoreChoice::Path(path.clone()),
            None => StoreChoice::Default,
        },
    };
    let options = ourocodus::app::AcpOptions {
        max_message: args.max_message_size,
        store,
    };
    Ok((team, options))
}

/// Large buffers (outboxes, the store's batches, agents' long lines) are freed on a
/// thread other than the one that made them; glibc then raises its mmap threshold
/// to their size and serves the next ones from per-thread arenas, which fragment: an
/// 8-agent stream into the store left 100-130 MiB resident instead of 36 MiB.
/// Pinning the threshold keeps big buffers in mmap, returned to the kernel on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn pin_mmap_threshold() {
    const THRESHOLD: libc::c_int = 128 * 1024;
    // SAFETY: mallopt only changes allocator parameters; it is called before any
    // other thread exists, and a refusal (0) just leaves glibc's defaults.
    let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn pin_mmap_threshold() {}

/// Configuration errors exit with 2; everything else with 1.
fn exit_code_for(e: &anyhow::Error) -> u8 {
    let config_error = e.downcast_ref::<ourocodus::config::ConfigError>().is_some()
        || matches!(
            e.downcast_ref::<ourocodus::error::Error>(),
            Some(ourocodus::error::Error::Config(_))
        );
    if config_error { 2 } else { 1 }
}

fn init_logging(log_file: Option<&std::path::Path>, quiet: bool) -> std::io::Result<()> {
    use tracing_subscriber::EnvFilter;
    let default = if quiet { "off" } else { "info" };
    let mut filter =
        EnvFilter::try_from_env("OUROCODUS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // The WebSocket library traces whole handshakes, the hub's token among them:
    // never below debug, whatever else is traced.
    if filter.max_level_hint() == Some(tracing_subscriber::filter::LevelFilter::TRACE) {
        for quiet in ["tungstenite=debug", "tokio_tungstenite=debug"] {
            if let Ok(directive) = quiet.parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => {
            use std::io::IsTerminal;
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder
                .with_ansi(colour)
                .with_writer(std::io::stderr)
                .init()
        }
    }
    Ok(())
}
