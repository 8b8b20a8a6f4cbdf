import { TallyError } from '../errors.js';

/**
 * Reads the Idempotency-Key request header. The IETF draft defines it as a Structured Field String
 * (`Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`); a bare token (`Idempotency-Key: abc-123`),
 * as many clients send it, is accepted too. Missing, empty, repeated or malformed: INVALID_IDEMPOTENCY_KEY
 * (400). The characters allowed inside are checked by the command engine.
 *
 * @example
 * idempotencyKeyOf('"order-42"'); // 'order-42'
 * idempotencyKeyOf('order-42');   // 'order-42'
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string {
  if (header === undefined) throw invalid('the Idempotency-Key header is missing');
  if (Array.isArray(header)) {
    if (header.length !== 1) throw invalid('send one Idempotency-Key header, not several');
    return idempotencyKeyOf(header[0]);
  }
  const value = header.trim();
  if (value === '') throw invalid('the Idempotency-Key header is empty');
  if (!value.startsWith('"')) {
    if (/[\s",;]/.test(value)) throw invalid('the Idempotency-Key header must be one quoted string');
    return value;
  }
  let out = '';
  for (let i = 1; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\') {
      const next = value[++i];
      if (next !== '"' && next !== '\\') throw invalid('the Idempotency-Key string has a bad escape');
      out += next;
    } else if (ch === '"') {
      if (i !== value.length - 1) throw invalid('the Idempotency-Key header must be one quoted string');
      if (out === '') throw invalid('the Idempotency-Key header is empty');
      return out;
    } else {
      const c = ch.charCodeAt(0);
      if (c < 0x20 || c > 0x7e) throw invalid('the Idempotency-Key string has a non-printable character');
      out += ch;
    }
  }
  throw invalid('the Idempotency-Key string is not closed');
}

function invalid(message: string): TallyError {
  return new TallyError('INVALID_IDEMPOTENCY_KEY', message);
}
