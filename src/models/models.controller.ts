import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiOpenAIErrors } from '../common/openapi.js';
import { ModelsService, type GatewayModel } from './models.service.js';

@ApiTags('OpenAI')
@ApiBearerAuth()
@Controller('v1/models')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  @Get()
  @ApiOperation({ summary: 'Every configured name as an OpenAI model object, with its kind (llm, embedding, reranker)' })
  @ApiOkResponse({ description: "{ object: 'list', data: [{ id, object: 'model', created, owned_by, kind }] }" })
  list(): { object: 'list'; data: GatewayModel[] } {
    return this.models.list();
  }

  @Get(':model')
  @ApiOperation({ summary: 'One configured name' })
  @ApiOpenAIErrors()
  retrieve(@Param('model') model: string): GatewayModel {
    return this.models.retrieve(model);
  }
}
