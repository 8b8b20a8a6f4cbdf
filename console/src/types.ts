// The API's shapes (docs/console-api.md), as far as the console reads them.

export type Json = Record<string, unknown>;

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface SessionInfo {
  access: 'read' | 'operator';
  tokens: boolean;
  actions: string[];
  version: string;
}

export interface Overview {
  at: string;
  commands: {
    byStatus: Record<string, number>;
    needsAttention: number;
    overTime: { bucket: string; from: string; series: ({ at: string } & Record<string, number | string>)[] };
  };
  alerts: { open: number };
  jobs: { running: Job[] };
  feed: FeedConsumer[];
  downstreams?: {
    name: string;
    state: string;
    failures: number;
    openedAt: string | null;
    lastError: string | null;
  }[];
  workerRounds: WorkerRounds | null;
  reconcile: ReconcileResult[] | null;
}

/** Worker rounds that claimed something, added up per bucket (worker_rounds keeps `keptHours`). */
export interface WorkerRounds {
  bucket: string;
  from: string;
  keptHours: number;
  series: {
    at: string;
    rounds: number;
    claimed: number;
    succeeded: number;
    failed: number;
    needsAttention: number;
    waiting: number;
    errors: number;
    busyMs: number;
  }[];
  workers: { worker: string; lastAt: string | null; rounds: number; claimed: number; errors: number }[];
}

/** An entity type's last reconcile check and repair, and its recent checks (oldest first). */
export interface ReconcileResult {
  entityType: string;
  last: {
    at: string;
    checked: number | null;
    logEntries: number | null;
    findings: number | null;
    durationMs: number;
  } | null;
  lastRepair: { at: string; repaired: number | null; durationMs: number } | null;
  recent: { at: string; checked: number | null; findings: number | null }[];
}

/** GET /api/entities/:type/:key/chain. */
export interface EntityChain {
  type: string;
  key: string;
  ok: boolean;
  at: string;
  durationMs: number;
  entries: number;
  firstVersion: number | null;
  latestVersion: number | null;
  findings: { kind: string; versions: number[]; message: string }[];
  sealed: {
    origins: { origin: string; treeSize: number }[];
    sealed: number;
    unverified: number;
    unsealed: number;
    changed: { version: number; origin: string; position: number }[];
  };
}

export interface CommandItem {
  id: string;
  type: string;
  principal: string;
  key: string;
  status: string;
  stepIndex: number;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  nextAt: string | null;
  pausedOn: string | null;
  error: { code?: string; message?: string } | null;
}

export interface TimelineEvent {
  id: string;
  kind: string;
  step: string | null;
  data: unknown;
  at: string;
  sinceStartMs?: number | null;
  durationMs?: number | null;
}

export interface Call {
  step: string;
  downstreamKey: string;
  request: unknown;
  sends: number;
  queries: number;
  firstSentAt: string | null;
  lastSentAt: string | null;
  outcome: 'success' | 'failure' | null;
  value: unknown;
  resolvedBy: string | null;
  resolvedAt: string | null;
  createdAt: string;
}

export interface Alert {
  id: string;
  kind: string;
  message: string;
  data: unknown;
  at: string;
  resolvedAt: string | null;
  resolvedBy?: string | null;
  resolvedReason?: string | null;
  commandId?: string | null;
  commandType?: string;
}

export interface CommandPage {
  command: CommandItem & {
    fingerprint: string;
    params: unknown;
    input: unknown;
    decisions: Json;
    outputs: Json;
    result: unknown;
    leaseOwner: string | null;
    leaseUntil: string | null;
  };
  events: TimelineEvent[];
  calls: Call[];
  messages: TimelineEvent[];
  compensation: TimelineEvent[];
  alerts: Alert[];
  actions: string[];
}

export interface LogItem {
  id: string;
  version: number;
  action: string;
  actor: string;
  sourceIp: string | null;
  reason: string | null;
  requestId: string | null;
  commandId: string | null;
  changed: string[];
  before: Json | null;
  after: Json | null;
  at: string;
}

export interface History extends Page<LogItem> {
  type: string;
  key: string;
  latestVersion: number;
  asOf?: { version: number; at: string; state: Json | null } | null;
}

export interface Job {
  id: string;
  key: string;
  entityType: string;
  status: string;
  total: number;
  done: number;
  changed?: number;
  unchanged?: number;
  rejected?: number;
  chunksDone?: number;
  chunkSize?: number;
  error?: unknown;
  op?: unknown;
  createdAt?: string;
  updatedAt?: string;
  finishedAt?: string | null;
}

export interface FeedConsumer {
  name: string;
  source: string;
  entityTypes?: string[] | null;
  delivered?: number;
  lagEntries: number | null;
  lagSeconds: number | null;
  leaseOwner: string | null;
  leaseUntil?: string | null;
  updatedAt: string | null;
  position?: { snapshot: string; upper: string | null; afterId: string | null } | null;
  lastError?: string | null;
}
