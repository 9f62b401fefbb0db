import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { clientAbortSignal } from '../common/client-abort.js';
import { nodeResponse, type HttpResponse } from '../common/http.js';
import { ApiOpenAIErrors } from '../common/openapi.js';
import { setCacheHeader } from '../common/cache-header.js';
import { EmbeddingRequestDto } from './embeddings.dto.js';
import { EmbeddingsService, type EmbeddingResponse } from './embeddings.service.js';

@ApiTags('OpenAI')
@ApiBearerAuth()
@Controller('v1')
export class EmbeddingsController {
  constructor(private readonly embeddings: EmbeddingsService) {}

  @Post('embeddings')
  @HttpCode(200)
  @ApiOperation({ summary: 'Embeddings (OpenAI), float or base64' })
  @ApiOkResponse({ description: "{ object: 'list', data: [{ object: 'embedding', index, embedding }], model, usage }" })
  @ApiOpenAIErrors()
  async create(@Body() body: EmbeddingRequestDto, @Res({ passthrough: true }) res: HttpResponse): Promise<EmbeddingResponse> {
    const { signal, dispose } = clientAbortSignal(nodeResponse(res));
    try {
      return await this.embeddings.embed(body, signal, (result) => setCacheHeader(res, result));
    } finally {
      dispose();
    }
  }
}
