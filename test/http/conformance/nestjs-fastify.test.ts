import { nestFastifyAdapter } from './adapters.js';
import { conformance } from './cases.js';

const why =
  "Nest turns Fastify's parser errors (FST_ERR_CTP_*) into an HttpException that keeps only the message " +
  'and the status (core/router/routes-resolver.js mapExternalException): the code is lost before any ' +
  'filter sees it, so a refused body is the generic 400 INVALID_REQUEST (same status, other code).';
conformance(nestFastifyAdapter, {
  malformedJson: { status: 400, code: 'INVALID_REQUEST', why },
  protoKey: { status: 400, code: 'INVALID_REQUEST', why },
});
