/**
 * `tally/evidence`: sealed checkpoints of the log and their proofs (decision 0060, docs/evidence.md).
 * Pure functions over bytes and keys: nothing here opens a database, so an auditor's verifier is this
 * subpath and a public key. The checkpoint sinks are here too (a file, a webhook: no database either);
 * the NATS one is on `tally/nats`, the schedule that seals on the package root (it needs the database).
 */

export { type AuditFailure, auditLog, type LogAudit } from './audit.js';
export {
  type ConsistencyProofBundle,
  consistencyBundle,
  type InclusionProofBundle,
  inclusionBundle,
  type ProofBundle,
  type ProvenLeaf,
} from './bundle.js';
export {
  type Checkpoint,
  type CheckpointFailure,
  checkpointBody,
  checkpointHash,
  type OpenedCheckpoint,
  openCheckpoint,
  parseCheckpointBody,
  signCheckpoint,
} from './checkpoint.js';
export { type FrontierState, MerkleFrontier } from './frontier.js';
export { EMPTY_ROOT, fromBase64, HASH_SIZE, leafHash, nodeHash, toBase64 } from './hash.js';
export {
  generateSealKey,
  keyIdOf,
  loadSealKey,
  publicKeyPem,
  type SealKey,
  sealKeyFrom,
  sealKeyFromPem,
  sealKeyPem,
  type TrustedKey,
  trustedKeys,
} from './keys.js';
export { encodeLogRow, LOG_ROW_TAG, type LogRowLeaf, logRowLeafHash } from './leaf.js';
export { type DecodedLogRow, decodeLogRow } from './leaf-decode.js';
export { consistencyProof, inclusionProof, type LeafHashes, rootOf } from './merkle.js';
export { type ProofCheck, verifyConsistency, verifyInclusion } from './rfc9162.js';
export {
  type CheckpointSink,
  checkpointDeliveryId,
  type PublishReport,
  type SinkFailure,
  SinkFanout,
} from './sink.js';
export { fileCheckpointSink } from './sink-file.js';
export { type CheckpointDelivery, type WebhookSinkOptions, webhookCheckpointSink } from './sink-webhook.js';
export { type ProofFailure, type ProofVerdict, type VerifyProofOptions, verifyProof } from './verify.js';
