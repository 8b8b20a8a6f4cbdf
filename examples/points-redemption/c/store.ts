// C's own records: what it issued, what it refused, what it is still recording. In memory: C is a
// party we do not own; the chain's tests read its records over HTTP (GET /admin/state).
import { isDeepStrictEqual } from 'node:util';

export interface IssueRequest {
  user: string;
  prize: string;
  qty: number;
  ts: string;
  nonce: string;
}

export type Record =
  | { key: string; request: IssueRequest; status: 'issued'; prizeId: string; at: number }
  | { key: string; request: IssueRequest; status: 'refused'; reason: string; at: number };

export type IssueAnswer =
  | { kind: 'recorded'; record: Record }
  | { kind: 'conflict' } // the key was first used with another request
  | { kind: 'recording' }; // known but not recorded yet (slow recording)

/** Stock, idempotency by key, first come first served. */
export class PrizeStore {
  readonly records = new Map<string, Record>();
  readonly recording = new Map<string, IssueRequest>();
  /** Every issue request that arrived, in order: what B actually sent. */
  readonly received: { key: string; request: IssueRequest; at: number }[] = [];
  readonly queries: { key: string; at: number; answer: string }[] = [];
  effects = 0;
  /** Every unit ever put into stock: issued + stock = supplied, always. */
  supplied: number;

  constructor(public stock: number) {
    this.supplied = stock;
  }

  /** Sets the units left; what was issued stays issued. */
  restock(stock: number): void {
    this.supplied += stock - this.stock;
    this.stock = stock;
  }

  /** Looks up or starts a request; `record` is false while a slow recording is pending. */
  arrive(key: string, request: IssueRequest): IssueAnswer | null {
    this.received.push({ key, request: structuredClone(request), at: Date.now() });
    const known = this.records.get(key)?.request ?? this.recording.get(key);
    if (known && !isDeepStrictEqual(known, request)) return { kind: 'conflict' };
    const rec = this.records.get(key);
    if (rec) return { kind: 'recorded', record: rec };
    if (this.recording.has(key)) return { kind: 'recording' };
    return null;
  }

  /** Records the outcome of a new request: issued while stock lasts, else refused (or refused on purpose). */
  commit(key: string, request: IssueRequest, refuse = false): Record {
    this.recording.delete(key);
    const prior = this.records.get(key);
    if (prior) return prior;
    let rec: Record;
    if (refuse) {
      rec = { key, request, status: 'refused', reason: 'campaign_ended', at: Date.now() };
    } else if (this.stock < request.qty) {
      rec = { key, request, status: 'refused', reason: 'out_of_stock', at: Date.now() };
    } else {
      this.stock -= request.qty;
      this.effects++;
      rec = { key, request, status: 'issued', prizeId: `P-${this.effects}`, at: Date.now() };
    }
    this.records.set(key, rec);
    return rec;
  }

  query(key: string): Record | null {
    const rec = this.records.get(key) ?? null;
    this.queries.push({ key, at: Date.now(), answer: rec ? rec.status : 'not_found' });
    return rec;
  }
}
