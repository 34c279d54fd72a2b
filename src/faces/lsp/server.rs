//! The LSP requests the face answers (`tower-lsp-server`'s `LanguageServer`): the
//! handshake, which opens the workspace's team session; open documents; code
//! actions on a selection; and `workspace/executeCommand`, which sends a prompt to
//! the core. Knows nothing of how the team's answers are shown (the runner does).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use tower_lsp_server::LanguageServer;
use tower_lsp_server::jsonrpc::{Error as LspError, ErrorCode, Result as LspResult};
use tower_lsp_server::ls_types::{
    CodeActionParams, CodeActionProviderCapability, CodeActionResponse,
    DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    ExecuteCommandOptions, ExecuteCommandParams, InitializeParams, InitializeResult,
    InitializedParams, ServerCapabilities, ServerInfo, TextDocumentSyncCapability,
    TextDocumentSyncKind,
};

use super::ask::{self, AskError, AskKind};
use super::state::{Ask, FaceState, lock};
use crate::core::{CancelScope, Command, SessionParams};

/// How long a question waits for the workspace's session to open.
const SESSION_WAIT: Duration = Duration::from_secs(30);

/// The face's server half.
pub struct Backend {
    pub state: Arc<FaceState>,
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> LspResult<InitializeResult> {
        *lock(&self.state.root) = workspace_root(&params);
        let window = params.capabilities.window.as_ref();
        let progress = window.and_then(|w| w.work_done_progress).unwrap_or(false);
        self.state.progress.store(progress, Ordering::Relaxed);
        let workspace = params.capabilities.workspace.as_ref();
        let apply = workspace.and_then(|w| w.apply_edit).unwrap_or(false);
        self.state.apply_edit.store(apply, Ordering::Relaxed);
        Ok(InitializeResult {
            capabilities: capabilities(),
            server_info: Some(ServerInfo {
                name: "ourocodus".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            ..InitializeResult::default()
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let cwd = lock(&self.state.root).clone().unwrap_or_else(current_dir);
        let hello = Command::Hello {
            request: self.state.next_request(),
        };
        let opening = self.state.next_request();
        *lock(&self.state.opening) = Some(opening.clone());
        let open = Command::NewSession {
            request: opening,
            params: SessionParams {
                cwd,
                ..SessionParams::default()
            },
        };
        if self.state.send(hello).await {
            self.state.send(open).await;
        }
    }

    async fn shutdown(&self) -> LspResult<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let document = params.text_document;
        lock(&self.state.documents).open(document.uri, document.text, document.version);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        if let Some(change) = params.content_changes.into_iter().last() {
            let version = params.text_document.version;
            lock(&self.state.documents).replace(params.text_document.uri, change.text, version);
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        lock(&self.state.documents).close(&params.text_document.uri);
    }

    async fn code_action(&self, params: CodeActionParams) -> LspResult<Option<CodeActionResponse>> {
        let (uri, range) = (params.text_document.uri, params.range);
        if range.start == range.end {
            return Ok(None);
        }
        let (blank, version) = {
            let documents = lock(&self.state.documents);
            // Asked at every cursor move: the range is looked at, not copied.
            let blank = documents.read_range(&uri, &range, |t| t.trim().is_empty());
            (blank.unwrap_or(true), documents.version(&uri))
        };
        if blank {
            return Ok(None);
        }
        let roles = lock(&self.state.roles).clone();
        Ok(Some(ask::code_actions(&roles, &uri, range, version)))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> LspResult<Option<Value>> {
        if params.command == ask::CANCEL {
            return self.cancel().await.map(|()| None);
        }
        let (kind, args) =
            ask::parse_command(&params.command, params.arguments).map_err(invalid)?;

        self.ask(kind, args).await?;
        Ok(None)
    }
}

impl Backend {
    /// `ourocodus.cancel`: every running turn of the workspace's session (their
    /// progress ends "cancelled" as the core says so).
    async fn cancel(&self) -> LspResult<()> {
        let session = self
            .state
            .session(SESSION_WAIT)
            .await
            .map_err(internal_owned)?;
        let cancel = Command::Cancel {
            session,
            scope: CancelScope::Session,
        };
        if !self.state.send(cancel).await {
            return Err(internal("the team is gone"));
        }
        Ok(())
    }

    /// Sends a question to the core as a prompt in the workspace's session; its
    /// answer comes back through the runner.
    async fn ask(&self, kind: AskKind, args: ask::AskArgs) -> LspResult<()> {
        let session = self
            .state
            .session(SESSION_WAIT)
            .await
            .map_err(internal_owned)?;
        // What the range holds now: the code asked about when there is no text, and
        // for a change, what the edit may only replace.
        let (held, now) = match (&args.uri, &args.range) {
            (Some(uri), Some(range)) => {
                let documents = lock(&self.state.documents);
                (documents.text_in(uri, range), documents.version(uri))
            }
            _ => (None, None),
        };
        if let Some(offered) = args.version
            && now != Some(offered)
        {
            return Err(invalid(AskError::Stale { offered, now }));
        }
        let text = match (&args.text, &held) {
            (Some(text), _) if !text.trim().is_empty() => text.clone(),
            (_, Some(code)) if code.len() > ask::MAX_TEXT => {
                return Err(invalid(AskError::TooLarge(code.len())));
            }
            (_, Some(code)) if !code.trim().is_empty() => code.clone(),
            (_, Some(_)) => return Err(invalid(AskError::EmptyText)),
            (_, None) => return Err(invalid(AskError::NotOpen)),
        };
        // A change is applied only over the code it was asked for, which needs it open.
        if kind == AskKind::Change && held.is_none() {
            return Err(invalid(AskError::NotOpen));
        }
        let request = self.state.next_request();
        let blocks = ask::prompt_blocks(kind, &args, &text);
        let before = if kind == AskKind::Change { held } else { None };
        let ask = Ask { kind, args, before };
        lock(&self.state.asks).insert(request.clone(), ask);
        let prompt = Command::Prompt {
            request,
            session,
            blocks,
            meta: None,
        };
        if !self.state.send(prompt).await {
            return Err(internal("the team is gone"));
        }
        Ok(())
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![ask::ASK.into(), ask::CHANGE.into(), ask::CANCEL.into()],
            ..ExecuteCommandOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

/// The first workspace folder, else the root URI, as a path.
#[allow(deprecated)]
fn workspace_root(params: &InitializeParams) -> Option<PathBuf> {
    let folder = params
        .workspace_folders
        .as_ref()
        .and_then(|folders| folders.first())
        .map(|f| &f.uri);
    let uri = folder.or(params.root_uri.as_ref())?;
    uri.to_file_path().map(|path| path.into_owned())
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

fn invalid(error: AskError) -> LspError {
    LspError::invalid_params(error.to_string())
}

fn internal_owned(message: String) -> LspError {
    LspError {
        code: ErrorCode::InternalError,
        message: message.into(),
        data: None,
    }
}

fn internal(message: &'static str) -> LspError {
    internal_owned(message.into())
}
