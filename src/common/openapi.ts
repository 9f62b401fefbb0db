import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

class OpenAIErrorDetailDto {
  @ApiProperty({ example: "Invalid value for 'temperature': temperature must not be greater than 2." }) message!: string;
  @ApiProperty({ example: 'invalid_request_error' }) type!: string;
  @ApiPropertyOptional({ type: String, nullable: true, example: 'temperature' }) param!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, example: 'invalid_value' }) code!: string | null;
}

export class OpenAIErrorDto {
  @ApiProperty({ type: OpenAIErrorDetailDto }) error!: OpenAIErrorDetailDto;
}

/** The error answers every /v1 route shares, documented once. */
export function ApiOpenAIErrors(): MethodDecorator & ClassDecorator {
  const errors: Array<[number, string]> = [
    [400, 'Invalid body (param names the field), or the upstream refused the request (its own code, param and type, e.g. context_length_exceeded)'],
    [401, 'Missing or wrong gateway key (when GATEWAY_API_KEYS is set)'],
    [404, 'Unknown model, or a model of another kind (code model_not_found / model_wrong_kind), or the upstream answered 404 (its own code)'],
    [413, 'The body is over the limit, or the upstream found the request too large (its own code)'],
    [422, 'The upstream could not process the request (its own code, param and type)'],
    [502, 'The upstream failed or answered badly (its status is in the message)'],
    [503, 'The upstream is rate-limited, overloaded or unreachable; or the gateway is shutting down (server_shutting_down: retry on another replica)'],
    [504, 'The upstream did not answer in time'],
  ];
  return applyDecorators(...errors.map(([status, description]) => ApiResponse({ status, description, type: OpenAIErrorDto })));
}
