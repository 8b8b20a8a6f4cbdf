import type { CallRow, CommandRow } from './sql.js';

/** What the next locked transaction left to do. */
export type Plan =
  | { kind: 'stop'; row: CommandRow }
  | { kind: 'again' }
  | {
      kind: 'io';
      what: 'send' | 'query';
      step: string;
      attempt: number;
      /** The stored call (request and downstream key), as read under the lock that recorded the I/O. */
      call: CallRow;
      /** This call is its downstream's breaker probe (the breaker is open). */
      probe: boolean;
      /** The command as the transaction that recorded this I/O saved it (its answer is recorded against it). */
      row: CommandRow;
    };
