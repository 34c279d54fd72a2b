// ahp.js: an Agent Host Protocol client over the browser's WebSocket: requests
// with ids and timeouts, notifications handed on, dispatched actions numbered by
// clientSeq. Knows JSON-RPC and AHP's envelope; nothing of the page.

const TIMEOUT_MS = 20_000;

export class AhpClient {
  /**
   * `onNotification(method, params)`, `onClose(reason)`. `clientSeq`: the last one
   * this clientId used on an earlier connection (the hub takes each (clientId,
   * clientSeq) once, so a client that comes back goes on counting).
   */
  constructor(url, clientId, { onNotification, onClose }, clientSeq = 0) {
    this.url = url;
    this.clientId = clientId;
    this.onNotification = onNotification;
    this.onClose = onClose;
    this.nextId = 1;
    this.clientSeq = clientSeq;
    this.pending = new Map();
    this.socket = null;
  }

  /** Opens the socket; resolves once open, rejects if it closes first. */
  open() {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("message", (event) => this.receive(event.data));
      socket.addEventListener("close", (event) => {
        const reason = event.reason || `closed (${event.code})`;
        for (const { reject: fail, timer } of this.pending.values()) {
          clearTimeout(timer);
          fail(new Error(reason));
        }
        this.pending.clear();
        reject(new Error(reason));
        this.onClose(reason);
      });
    });
  }

  close() {
    this.socket?.close();
  }

  /** Sends a request; resolves with its result, rejects with its error. */
  request(method, params) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer in ${TIMEOUT_MS / 1000}s`));
      }, TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ jsonrpc: "2.0", id, method, params });
    });
  }

  /** Dispatches an action on a channel; returns its clientSeq. */
  dispatch(channel, action) {
    this.clientSeq += 1;
    this.send({ jsonrpc: "2.0", method: "dispatchAction", params: { channel, clientSeq: this.clientSeq, action } });
    return this.clientSeq;
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    if (message.method && message.id !== undefined) {
      // A request from the hub (resource*): this page serves none.
      this.send({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "not supported by the monitor" } });
    } else if (message.method) {
      this.onNotification(message.method, message.params ?? {});
    } else if (this.pending.has(message.id)) {
      const { resolve, reject, timer } = this.pending.get(message.id);
      this.pending.delete(message.id);
      clearTimeout(timer);
      if (message.error) reject(new Error(message.error.message ?? "error"));
      else resolve(message.result);
    }
  }
}
