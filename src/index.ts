export type { ActionBy, OperatorAction, OperatorActions, RetryNowResult } from './actions/actions.js';
export type { AdoptOptions, AdoptProgress, AdoptResult } from './changes/adopt.js';
export type { ApplyOptions, Selection } from './changes/apply.js';
export type { EntityOptions } from './changes/definition.js';
export type { Entity, SelectionInput, TransitionInput, UpdateInput, WriteOptions } from './changes/entity.js';
export type { FoldCheck, LogEntry } from './changes/history.js';
export type { Job } from './changes/jobs/job.js';
export type { Jobs } from './changes/jobs/jobs.js';
export type {
  JobInput,
  JobItem,
  JobItemStatus,
  JobItemsOptions,
  JobItemsPage,
  JobState,
  JobStatus,
  ResumeResult,
  RunOptions,
} from './changes/jobs/types.js';
export type { EntityKey } from './changes/keys.js';
export type { ChangeResult, Rejection, RejectReason } from './changes/result.js';
export type { AlertMessage } from './commands/alert-channels.js';
export type { DeliveryPass } from './commands/alert-delivery.js';
export type { AlertDeliveryOptions } from './commands/alert-delivery-options.js';
export type {
  Alert,
  AlertDeliveryRecord,
  AlertFilter,
  Alerts,
  ResolveAlertResult,
} from './commands/alerts.js';
export type { DownstreamState } from './commands/breaker.js';
export { canonicalJson, fingerprintOf } from './commands/canonical.js';
export type { ChangeCommandDefinition, Guard, LocalChange } from './commands/change.js';
export type { ChangeBatchOptions } from './commands/change-batch.js';
export type { Command, CommandRef } from './commands/command.js';
export type {
  CallSpec,
  CallStep,
  CommandDefinition,
  CommandFailure,
  LocalStep,
  Outcome,
  QueryAnswer,
  Reply,
  RetryPolicy,
  StepContext,
} from './commands/definition.js';
export { uuidV7, uuidV7Time } from './commands/failover.js';
export type { InputLimitsOptions } from './commands/input-limits.js';
export type { InputSchema } from './commands/input-schema.js';
export type { JsonSchema, JsonSchemaTypeName } from './commands/json-schema.js';
export type { NotifyResult } from './commands/notify.js';
export type { RequeuedCommand, RequeueOptions, RequeueResult } from './commands/requeue.js';
export type { Definite } from './commands/resolve.js';
export type { CommandResult } from './commands/result.js';
export {
  type PruneKeysOptions,
  type PruneKeysResult,
  pruneExpiredKeys,
  type RetentionSource,
} from './commands/retention.js';
export type { CommandStatus } from './commands/sql.js';
export type { StandardSchemaV1 } from './commands/standard-schema.js';
export type {
  CommandAlert,
  IntakeRecord,
  Timeline,
  TimelineEvent,
  TimelineStore,
  TimelineStores,
} from './commands/timeline.js';
export { isUnreachable } from './commands/unreachable.js';
export type { TallyOptions } from './config.js';
export { type ChangeContext, currentContext, withContext } from './context.js';
export { joinTransaction } from './db/joined.js';
export {
  type DataDirHolder,
  ensurePgliteTemplate,
  type PgliteOptions,
  pglite,
  pgliteTemplateOptions,
  readDataDirHolder,
} from './db/pglite/index.js';
export { postgres } from './db/postgres/index.js';
export type { DialectName, Executor, Isolation, QueryableLike, SqlQuery } from './db/types.js';
export { type ErrorCode, ErrorCodes, isTallyError, TallyError } from './errors.js';
export {
  type ArchivedRange,
  type ArchiveOptions,
  type ArchiveProgress,
  type ArchiveResult,
  type ArchiveStop,
  archiveLog,
} from './evidence/archive.js';
export type { ArchivedRow, ArchiveFileEntry, ArchiveManifest } from './evidence/archive-file.js';
export {
  type ArchivedEntry,
  type ArchiveLocation,
  historyWithArchive,
  proveArchivedRow,
  proveConsistencyWithArchive,
  stateAtWithArchive,
} from './evidence/archive-read.js';
export { type ArchiveAudit, verifyArchivedLog } from './evidence/archive-verify.js';
export {
  checkSealedEntries,
  type SealedEntriesOptions,
  type SealedEntry,
  type SealedState,
} from './evidence/entries.js';
export {
  type CheckpointFailure,
  type LogAudit,
  loadSealKey,
  type ProofFailure,
  type ProofVerdict,
  type SealKey,
  type TrustedKey,
  trustedKeys,
  verifyProof,
} from './evidence/index.js';
export {
  type ConsistencyResult,
  type ProveFailure,
  type ProveResult,
  proveConsistency,
  proveLogRow,
} from './evidence/prove.js';
export {
  type SealRound,
  SealSchedule,
  type SealScheduleOptions,
  unsealedEstimate,
} from './evidence/seal-loop.js';
export {
  auditSealedLog,
  type SealedLogReport,
  type SealOptions,
  type SealResult,
  sealOnce,
  verifySealedLog,
} from './evidence/sealer.js';
export {
  type PruneInboxOptions,
  type PruneInboxResult,
  pruneInboxBehind,
} from './feed/inbox-prune.js';
export {
  applyOnce,
  BEGINNING_SNAPSHOT,
  type CommandEventEntry,
  type ConsumerOptions,
  checkPosition,
  dropConsumer,
  type FeedBatch,
  FeedConsumer,
  type FeedEntry,
  type FeedHandler,
  type FeedLag,
  type FeedPosition,
  type FeedSource,
  type FeedTxHandler,
  feedChannel,
  feedNotifyEnabled,
  type InboxOwner,
  openConsumer,
  type PGliteListenLike,
  type PgListenPoolLike,
  type PruneSeqsResult,
  pruneFeedSeqs,
  pruneInbox,
  type ReplayFrom,
  type RunOptions as FeedRunOptions,
  setFeedNotify,
  type WakeSource,
} from './feed/index.js';
export * from './feed/sinks/index.js';
export * from './reconcile/index.js';
export type { MigrateResult } from './schema/migrate.js';
export { createTally, Tally } from './tally.js';
export type { RoundResult, Worker, WorkerOptions } from './worker/worker.js';
