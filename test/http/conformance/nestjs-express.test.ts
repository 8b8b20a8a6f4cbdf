import { nestExpressAdapter } from './adapters.js';
import { conformance } from './cases.js';

conformance(nestExpressAdapter, {
  malformedJson: {
    status: 400,
    code: 'INVALID_REQUEST',
    why:
      "Nest turns body-parser's SyntaxError into a BadRequestException that keeps only the message and " +
      'the status (core/router/routes-resolver.js mapExternalException) before any filter sees it, so ' +
      'the filter knows only "a 400 the framework chose": the generic code, the same status.',
  },
});
