import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { DELIVERY_STATUSES } from '../../core/webhook.rules';

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://ops.example.com/fleetguard', description: 'http(s) URL the events are POSTed to' })
  @IsString()
  @Length(1, 2000)
  url: string;

  @ApiProperty({ description: 'HMAC-SHA256 key that signs each delivery (16..200 characters); write-only, never returned' })
  @IsString()
  @Length(1, 200)
  secret: string;

  @ApiProperty({ example: ['attestation.failed', 'device.revoked'], description: 'attestation.failed, attestation.stale, device.revoked, score.below-target, device.exposed, device.unsupported, pki.finding' })
  @IsArray()
  @ArrayMaxSize(10)
  @IsString({ each: true })
  @Length(1, 40, { each: true })
  events: string[];
}

export const DELIVERY_PAGE_MAX = 500;

export class ListDeliveriesQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES, description: 'only deliveries in this state' })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES, { message: `status must be one of: ${DELIVERY_STATUSES.join(', ')}` })
  status?: (typeof DELIVERY_STATUSES)[number];

  @ApiPropertyOptional({ minimum: 1, maximum: DELIVERY_PAGE_MAX, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: `limit must be a whole number 1..${DELIVERY_PAGE_MAX}` })
  @Min(1, { message: `limit must be a whole number 1..${DELIVERY_PAGE_MAX}` })
  @Max(DELIVERY_PAGE_MAX, { message: `limit must be a whole number 1..${DELIVERY_PAGE_MAX}` })
  limit?: number;
}
