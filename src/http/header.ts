import { MAX_KEY_LENGTH } from '../commands/canonical.js';
import { TallyError } from '../errors.js';

/** Why a header was refused: `details.reason` of its INVALID_IDEMPOTENCY_KEY. */
export type IdempotencyKeyRefusal = 'missing' | 'empty' | 'several' | 'malformed' | 'non_ascii' | 'too_long';

/**
 * Reads the Idempotency-Key request header. The IETF draft defines it as a Structured Field String
 * (RFC 8941: `Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`); a bare token
 * (`Idempotency-Key: abc-123`), as many clients send it, is accepted too. Whitespace around the value is
 * not part of it (RFC 9110 strips it; so does this); everything inside the quotes is, spaces included, and
 * the key is case-sensitive. Refused with INVALID_IDEMPOTENCY_KEY (400), `details.reason` saying why:
 * `missing`; `empty`; `several` (two header lines, which Node joins with a comma, or a comma list);
 * `non_ascii` (RFC 8941 strings are printable ASCII; Node hands raw UTF-8 bytes over as Latin-1
 * characters); `too_long` (over 255 characters, the command engine's limit); `malformed` (anything else
 * that is not one string: a bad escape, an unclosed quote, parameters after it). Which characters a key may
 * hold is the command engine's check (checkIdempotencyKey), so both paths refuse alike.
 *
 * @example
 * idempotencyKeyOf('"order-42"'); // 'order-42'
 * idempotencyKeyOf('order-42');   // 'order-42'
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string {
  if (header === undefined) throw invalid('missing', 'the Idempotency-Key header is missing');
  if (Array.isArray(header)) {
    if (header.length === 0) throw invalid('missing', 'the Idempotency-Key header is missing');
    if (header.length !== 1) throw invalid('several', 'send one Idempotency-Key header, not several');
    return idempotencyKeyOf(header[0]);
  }
  const value = header.replace(/^[ \t]+|[ \t]+$/g, '');
  if (value === '') throw invalid('empty', 'the Idempotency-Key header is empty');
  // A quoted key of 255 characters, each escaped, is 2 × 255 + 2 long: anything longer is refused unread.
  if (value.length > 2 * MAX_KEY_LENGTH + 2) throw tooLong();
  if (!value.startsWith('"')) return bare(value);
  let out = '';
  for (let i = 1; i < value.length; i++) {
    const ch = value[i]!;
    const c = ch.charCodeAt(0);
    if (ch === '\\') {
      const next = value[++i];
      if (next !== '"' && next !== '\\') throw malformed('the Idempotency-Key string has a bad escape');
      out += next;
    } else if (ch === '"') {
      const rest = value.slice(i + 1);
      if (/^[ \t]*,/.test(rest)) throw several();
      if (rest !== '') throw malformed('the Idempotency-Key header must be one quoted string');
      if (out === '') throw invalid('empty', 'the Idempotency-Key header is empty');
      if (out.length > MAX_KEY_LENGTH) throw tooLong();
      return out;
    } else if (c > 0x7e) {
      throw nonAscii();
    } else if (c < 0x20) {
      throw malformed('the Idempotency-Key string has a control character');
    } else {
      out += ch;
    }
  }
  throw malformed('the Idempotency-Key string is not closed');
}

/** A bare token: one word of printable ASCII without quotes, commas or semicolons. */
function bare(value: string): string {
  if (value.includes(',')) throw several();
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7e) throw nonAscii();
  }
  if (/[\s",;\\]/.test(value)) throw malformed('the Idempotency-Key header must be one quoted string');
  if (value.length > MAX_KEY_LENGTH) throw tooLong();
  return value;
}

function invalid(reason: IdempotencyKeyRefusal, message: string): TallyError {
  return new TallyError('INVALID_IDEMPOTENCY_KEY', message, { details: { reason } });
}

const malformed = (message: string) => invalid('malformed', message);
const several = () =>
  invalid('several', 'send one Idempotency-Key header with one value, not several (or a comma list)');
const nonAscii = () =>
  invalid('non_ascii', 'the Idempotency-Key header must be printable ASCII (RFC 8941 strings are)');
const tooLong = () =>
  invalid('too_long', `the Idempotency-Key header is longer than ${MAX_KEY_LENGTH} characters`);
