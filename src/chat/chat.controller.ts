import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { clientAbortSignal } from '../common/client-abort.js';
import { GatewayErrors } from '../common/gateway-errors.js';
import { nodeResponse, type HttpResponse } from '../common/http.js';
import { ApiOpenAIErrors } from '../common/openapi.js';
import { sendJson } from '../common/send.js';
import { setCacheHeader } from '../common/cache-header.js';
import { ChatCompletionRequestDto } from './chat.dto.js';
import { ChatService } from './chat.service.js';
import { writeEventStream } from './sse.js';

@ApiTags('OpenAI')
@ApiBearerAuth()
@Controller('v1/chat')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly errors: GatewayErrors,
  ) {}

  @Post('completions')
  @ApiOperation({ summary: 'Chat completion (OpenAI), JSON or server-sent events with stream: true' })
  @ApiBody({ type: ChatCompletionRequestDto })
  @ApiOkResponse({ description: 'A chat.completion object; with stream: true, text/event-stream of chat.completion.chunk objects ending with data: [DONE].' })
  @ApiOpenAIErrors()
  async create(@Body() body: ChatCompletionRequestDto, @Res() reply: HttpResponse): Promise<void> {
    // The answer is written on the Node response itself: one write for JSON, one per event for SSE.
    const res = nodeResponse(reply);
    // A client that disconnects aborts the upstream call, streaming or not.
    const { signal, dispose } = clientAbortSignal(res);
    try {
      if (body.stream === true) {
        // The first chunk (before the gateway reshapes it) says whether the stream is a replay.
        const chunks = await this.chat.stream(body, signal, (first) => setCacheHeader(res, first));
        await writeEventStream(res, chunks, signal, this.errors);
      } else {
        sendJson(res, 200, await this.chat.complete(body, signal, (completion) => setCacheHeader(res, completion)));
      }
    } finally {
      dispose();
    }
  }
}
