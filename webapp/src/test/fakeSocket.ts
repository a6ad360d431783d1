// A WebSocket the test drives: it records what the app opened and lets the test open, send
// to and close each socket.
export class FakeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static sockets: FakeWebSocket[] = [];

  readyState = FakeWebSocket.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[] = [],
  ) {
    FakeWebSocket.sockets.push(this);
  }

  static install(): void {
    FakeWebSocket.sockets = [];
    globalThis.WebSocket = FakeWebSocket as unknown as typeof WebSocket;
  }

  static last(): FakeWebSocket {
    const socket = FakeWebSocket.sockets.at(-1);
    if (!socket) throw new Error("no WebSocket was opened");
    return socket;
  }

  /** The socket whose URL contains `part`, latest first. */
  static find(part: string): FakeWebSocket {
    const socket = [...FakeWebSocket.sockets].reverse().find((s) => s.url.includes(part));
    if (!socket) throw new Error(`no WebSocket to ${part}; opened: ${FakeWebSocket.sockets.map((s) => s.url)}`);
    return socket;
  }

  open(): void {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.(new Event("open"));
  }

  send(): void {}

  receive(data: unknown): void {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(data) }));
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.(new CloseEvent("close", { code, reason }));
  }

  /** The server closes the socket. */
  serverClose(code: number, reason = ""): void {
    this.close(code, reason);
  }
}
