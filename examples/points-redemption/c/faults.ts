// C's fault switches, set over HTTP (POST /admin/faults) by a person or a test.

export type CallbackMode = 'normal' | 'drop' | 'duplicate' | 'reorder';

export interface Faults {
  /** Every issue request waits this long before C looks at it. */
  delayMs: number;
  /** The next n new requests are recorded, then the connection is cut: the reply is lost after commit. */
  loseReplyNext: number;
  /** The next n requests cut the connection before C records anything (C crashed mid-request). */
  crashNext: number;
  /** New requests are recorded this long after they arrive (the reply waits too); until then a query says not found. */
  slowRecordMs: number;
  /** What happens to callbacks: sent once, dropped, sent twice, or held and sent in reverse order. */
  callbacks: CallbackMode;
  /** The next n new requests are refused for good (campaign ended). */
  refuseNext: number;
}

export function defaultFaults(): Faults {
  return { delayMs: 0, loseReplyNext: 0, crashNext: 0, slowRecordMs: 0, callbacks: 'normal', refuseNext: 0 };
}

const MODES = new Set<CallbackMode>(['normal', 'drop', 'duplicate', 'reorder']);

/** Applies a partial update after checking every field; returns an error message or null. */
export function applyFaults(target: Faults, patch: unknown): string | null {
  if (!patch || typeof patch !== 'object') return 'send a JSON object';
  const p = patch as Partial<Record<keyof Faults, unknown>>;
  const next = { ...target };
  for (const [k, v] of Object.entries(p)) {
    if (k === 'callbacks') {
      if (!MODES.has(v as CallbackMode)) return `callbacks must be one of ${[...MODES].join(', ')}`;
      next.callbacks = v as CallbackMode;
    } else if (k in target) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
        return `${k} must be a non-negative integer`;
      (next as Record<string, unknown>)[k] = v;
    } else {
      return `unknown fault ${k}`;
    }
  }
  Object.assign(target, next);
  return null;
}
