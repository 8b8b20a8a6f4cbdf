export { idempotencyKeyOf } from './header.js';
export {
  type JsonSendOptions,
  jsonSend,
  type OutboundAnswer,
  type OutboundClient,
  type OutboundRequest,
} from './outbound.js';
export { type TallyFastifyOptions, tallyFastify } from './plugin.js';
export {
  DEFAULT_PROBLEM_TYPE_BASE,
  PROBLEM_CONTENT_TYPE,
  type Problem,
  problemOf,
} from './problem.js';
export { type CommandResponse, commandResponse } from './respond.js';
export { type IdempotentRouteOptions, idempotent, sendProblem } from './route.js';
export { HTTP_STATUS_BY_CODE, httpStatusOf } from './status.js';
