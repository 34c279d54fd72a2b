/**
 * A test double of the parts of the `vscode` module the extension's glue calls,
 * recording what it was asked and answering pickers from a script. It checks our
 * calls, not VS Code's behaviour: VS Code itself cannot run here.
 */

import Module from "node:module";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

type Listener<T> = (value: T) => unknown;

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly fsPath: string,
  ) {}
  static file(path: string): Uri {
    return new Uri("file", path);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, [base.fsPath, ...parts].join("/"));
  }
  toString(): string {
    return pathToFileURL(this.fsPath).href;
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    this.start = typeof a === "number" ? new Position(a, b as number) : a;
    this.end = typeof a === "number" ? new Position(c!, d!) : (b as Position);
  }
}

/** An open document: its (unsaved) text, edits applied, saves counted. */
export class FakeDocument {
  saves = 0;
  readonly uri: Uri;
  constructor(
    path: string,
    public text: string,
    readonly languageId = "plaintext",
  ) {
    this.uri = Uri.file(path);
  }
  get lineCount(): number {
    return this.text.split("\n").length;
  }
  lineAt(line: number) {
    const text = this.text.split("\n")[line] ?? "";
    return { text, range: new Range(line, 0, line, text.length) };
  }
  getText(range?: Range): string {
    if (!range) return this.text;
    const lines = this.text.split("\n").slice(range.start.line, range.end.line + 1);
    lines[lines.length - 1] = lines[lines.length - 1]!.slice(0, range.end.character);
    lines[0] = lines[0]!.slice(range.start.character);
    return lines.join("\n");
  }
  async save(): Promise<boolean> {
    this.saves++;
    return true;
  }
}

export class WorkspaceEdit {
  readonly replaced: { uri: Uri; range: Range; text: string }[] = [];
  replace(uri: Uri, range: Range, text: string): void {
    this.replaced.push({ uri, range, text });
  }
}

/** A webview view as VS Code hands it to a provider: what the page is given, what it is posted. */
export class FakeView {
  visible = true;
  readonly posted: unknown[] = [];
  private receive?: Listener<unknown>;
  private disposed: Listener<void>[] = [];
  readonly webview = {
    options: {} as { enableScripts?: boolean; localResourceRoots?: Uri[] },
    html: "",
    cspSource: "https://file+.vscode-resource.vscode-cdn.net",
    asWebviewUri: (uri: Uri) => ({ toString: () => `https://file+.vscode-resource.vscode-cdn.net${uri.fsPath}` }),
    postMessage: async (message: unknown) => {
      this.posted.push(structuredClone(message));
      return true;
    },
    onDidReceiveMessage: (listener: Listener<unknown>) => {
      this.receive = listener;
      return { dispose: () => (this.receive = undefined) };
    },
  };
  onDidDispose(listener: Listener<void>) {
    this.disposed.push(listener);
    return { dispose: () => undefined };
  }
  /** What the page posts to the host. */
  async fromPage(message: unknown): Promise<void> {
    await this.receive?.(message);
  }
  dispose(): void {
    for (const listener of this.disposed) listener();
  }
}

export interface Script {
  settings: Record<string, unknown>;
  workspace: string;
  /** The label to pick in the next quick pick (undefined: dismissed). */
  quickPick?: (labels: string[]) => string | undefined;
  inputBox?: string;
  /** The button a notification's user clicks (undefined: none). */
  notification?: (message: string, buttons: string[]) => string | undefined;
}

/** The fake module and what it recorded. */
export function fakeVscode(script: Script) {
  const commands = new Map<string, (...args: unknown[]) => unknown>();
  const providers = new Map<string, { provider: { resolveWebviewView(view: FakeView): void }; options: unknown }>();
  const log: string[] = [];
  const errors: string[] = [];
  const notifications: string[] = [];
  const updates: [string, unknown][] = [];
  const documents: FakeDocument[] = [];
  const view = new FakeView();
  const state = { activeTextEditor: undefined as unknown, shown: 0 };
  const channel = {
    info: (line: string) => log.push(`info ${line}`),
    warn: (line: string) => log.push(`warn ${line}`),
    error: (line: string) => log.push(`error ${line}`),
    show: () => void state.shown++,
    dispose: () => undefined,
  };
  const api = {
    Uri,
    Range,
    Position,
    WorkspaceEdit,
    ConfigurationTarget: { Global: 1, Workspace: 2 },
    window: {
      createOutputChannel: () => channel,
      registerWebviewViewProvider: (id: string, provider: never, options: unknown) => {
        providers.set(id, { provider, options });
        return { dispose: () => providers.delete(id) };
      },
      showErrorMessage: async (message: string) => {
        errors.push(message);
        return undefined;
      },
      showInformationMessage: async (message: string, ...buttons: string[]) => {
        notifications.push(message);
        return script.notification?.(message, buttons);
      },
      showQuickPick: async (items: { label: string }[]) => {
        const label = script.quickPick?.(items.map((i) => i.label));
        return items.find((i) => i.label === label);
      },
      showInputBox: async () => script.inputBox,
      get activeTextEditor() {
        return state.activeTextEditor;
      },
    },
    commands: {
      registerCommand: (id: string, run: (...args: unknown[]) => unknown) => {
        commands.set(id, run);
        return { dispose: () => commands.delete(id) };
      },
      executeCommand: async (id: string, ...args: unknown[]) => {
        const focus = /^(.*)\.focus$/.exec(id);
        if (focus && providers.has(focus[1]!)) {
          if (!view.webview.html) providers.get(focus[1]!)!.provider.resolveWebviewView(view);
          return;
        }
        return commands.get(id)?.(...args);
      },
    },
    workspace: {
      getConfiguration: () => ({
        get: (key: string) => script.settings[key],
        update: async (key: string, value: unknown) => void updates.push([key, value]),
      }),
      get workspaceFolders() {
        return [{ uri: Uri.file(script.workspace) }];
      },
      textDocuments: documents,
      asRelativePath: (path: string) => (path.startsWith(`${script.workspace}/`) ? path.slice(script.workspace.length + 1) : path),
      applyEdit: async (edit: WorkspaceEdit) => {
        for (const { uri, text } of edit.replaced) {
          const doc = documents.find((d) => d.uri.fsPath === uri.fsPath);
          if (doc) doc.text = text; // whole-document replacements only, as the glue makes them
        }
        return true;
      },
    },
  };
  return { api, commands, providers, log, errors, notifications, updates, documents, view, state, channel };
}

export type Fake = ReturnType<typeof fakeVscode>;

/**
 * Loads the bundled extension (`dist/extension.cjs`, what the .vsix ships) with
 * `require("vscode")` answered by `fake.api`.
 */
export function loadBundle(fake: Fake): { activate(context: unknown): void; deactivate(): Promise<void> } {
  const bundle = fileURLToPath(new URL("../dist/extension.cjs", import.meta.url));
  const require = createRequire(import.meta.url);
  delete require.cache[bundle];
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = loader._load;
  loader._load = function (request: string, ...rest: unknown[]) {
    return request === "vscode" ? fake.api : original.call(this, request, ...rest);
  };
  try {
    return require(bundle);
  } finally {
    loader._load = original;
  }
}
