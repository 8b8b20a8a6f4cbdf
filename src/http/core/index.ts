export {
  frameworkErrorAnswer,
  type HttpAnswer,
  JSON_CONTENT_TYPE,
  type ProblemContext,
  pathOf,
  problemAnswer,
} from './answer.js';
export {
  DEFAULT_BODY_LIMIT,
  isJsonType,
  parseJsonBody,
  readBody,
  readWebBody,
  refusePoisonedBody,
} from './body.js';
export {
  type IdempotentHandler,
  type IdempotentOptions,
  idempotentCore,
  type RequestFacts,
} from './idempotent.js';
