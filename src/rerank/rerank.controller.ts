import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { clientAbortSignal } from '../common/client-abort.js';
import { nodeResponse, type HttpResponse } from '../common/http.js';
import { ApiOpenAIErrors } from '../common/openapi.js';
import { setCacheHeader } from '../common/cache-header.js';
import { RerankRequestDto } from './rerank.dto.js';
import { RerankService, type RerankResponse } from './rerank.service.js';

@ApiTags('Rerank')
@ApiBearerAuth()
@Controller()
export class RerankController {
  constructor(private readonly reranker: RerankService) {}

  /** `/v1/rerank` is Jina's (and Cohere v1's) path, `/v2/rerank` Cohere v2's: the same route. */
  @Post(['v1/rerank', 'v2/rerank'])
  @HttpCode(200)
  @ApiOperation({ summary: 'Rerank documents against a query (Cohere v2 / Jina shape)' })
  @ApiOkResponse({ description: '{ id, model, results: [{ index, relevance_score, document?: { text } }], meta }, best first' })
  @ApiOpenAIErrors()
  async rerank(@Body() body: RerankRequestDto, @Res({ passthrough: true }) res: HttpResponse): Promise<RerankResponse> {
    const { signal, dispose } = clientAbortSignal(nodeResponse(res));
    try {
      return await this.reranker.rerank(body, signal, (result) => setCacheHeader(res, result));
    } finally {
      dispose();
    }
  }
}
