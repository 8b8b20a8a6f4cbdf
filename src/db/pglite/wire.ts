/**
 * The few PostgreSQL wire-protocol (v3) messages the socket server reads or writes itself; everything
 * else passes to PGlite as it came. https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

export const SSL_REQUEST = 80877103;
export const GSS_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;

/** A message of the startup phase (no type byte): its code and total length, or null when incomplete. */
export function startupHeader(buf: Buffer): { length: number; code: number } | null {
  if (buf.length < 8) return null;
  const length = buf.readInt32BE(0);
  if (buf.length < length) return null;
  return { length, code: buf.readInt32BE(4) };
}

/** Splits complete messages (type byte + int32 length) off the front of `buf`. */
export function splitMessages(buf: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let at = 0;
  while (buf.length - at >= 5) {
    const len = buf.readInt32BE(at + 1);
    if (len < 4) throw new Error('malformed message length');
    if (buf.length - at < 1 + len) break;
    messages.push(buf.subarray(at, at + 1 + len));
    at += 1 + len;
  }
  return { messages, rest: buf.subarray(at) };
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');

/** AuthenticationOk, the parameters a driver expects, BackendKeyData and ReadyForQuery. */
export function startupReply(params: Record<string, string>, key: { pid: number; secret: number }): Buffer {
  const auth = Buffer.alloc(4); // AuthenticationOk: int32 0
  const keyData = Buffer.alloc(8);
  keyData.writeInt32BE(key.pid, 0);
  keyData.writeInt32BE(key.secret, 4);
  return Buffer.concat([
    message('R', auth),
    ...Object.entries(params).map(([k, v]) => message('S', Buffer.concat([cstr(k), cstr(v)]))),
    message('K', keyData),
    readyForQuery('I'),
  ]);
}

export function readyForQuery(status: 'I' | 'T' | 'E'): Buffer {
  return message('Z', Buffer.from(status, 'latin1'));
}

/** An ErrorResponse with severity, SQLSTATE and message. */
export function errorResponse(sqlState: string, text: string): Buffer {
  return message(
    'E',
    Buffer.concat([cstr('SERROR'), cstr('VERROR'), cstr(`C${sqlState}`), cstr(`M${text}`), Buffer.from([0])]),
  );
}

export function simpleQuery(text: string): Buffer {
  return message('Q', cstr(text));
}

export const SYNC = message('S', Buffer.alloc(0));

/** Close (statement) messages for `names`, then Sync. */
export function closeStatements(names: Iterable<string>): Buffer {
  const parts: Buffer[] = [];
  for (const n of names) parts.push(message('C', Buffer.concat([Buffer.from('S', 'latin1'), cstr(n)])));
  parts.push(SYNC);
  return Buffer.concat(parts);
}

/** The status of the last ReadyForQuery in a backend response, or null when it has none. */
export function lastReadyStatus(res: Uint8Array): 'I' | 'T' | 'E' | null {
  const buf = Buffer.from(res.buffer, res.byteOffset, res.byteLength);
  let status: 'I' | 'T' | 'E' | null = null;
  let at = 0;
  while (buf.length - at >= 5) {
    const len = buf.readInt32BE(at + 1);
    if (buf[at] === 0x5a && len === 5) status = String.fromCharCode(buf[at + 5]!) as 'I' | 'T' | 'E';
    at += 1 + len;
  }
  return status;
}

/**
 * Prepared statements live in PGlite's one session, shared by every connection: a connection's statement
 * names get its own prefix (Parse, Bind, Describe and Close of a statement), so two clients that prepare
 * the same name never collide. Returns the message to send and the session-wide name it prepares or
 * closes, if any.
 */
export function prefixStatementName(
  msg: Buffer,
  prefix: string,
): { msg: Buffer; prepared?: string; closed?: string } {
  const type = String.fromCharCode(msg[0]!);
  const body = msg.subarray(5);
  if (type === 'P') {
    const end = body.indexOf(0);
    const name = body.subarray(0, end).toString('utf8');
    if (name === '') return { msg };
    const renamed = prefix + name;
    return { msg: message('P', Buffer.concat([cstr(renamed), body.subarray(end + 1)])), prepared: renamed };
  }
  if (type === 'B') {
    const portalEnd = body.indexOf(0);
    const nameEnd = body.indexOf(0, portalEnd + 1);
    const name = body.subarray(portalEnd + 1, nameEnd).toString('utf8');
    if (name === '') return { msg };
    return {
      msg: message(
        'B',
        Buffer.concat([body.subarray(0, portalEnd + 1), cstr(prefix + name), body.subarray(nameEnd + 1)]),
      ),
    };
  }
  if ((type === 'D' || type === 'C') && body[0] === 0x53 /* 'S' */) {
    const name = body.subarray(1, body.indexOf(0, 1)).toString('utf8');
    if (name === '') return { msg };
    const renamed = message(type, Buffer.concat([Buffer.from('S', 'latin1'), cstr(prefix + name)]));
    return type === 'C' ? { msg: renamed, closed: prefix + name } : { msg: renamed };
  }
  return { msg };
}
