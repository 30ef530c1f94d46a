import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Matches, Max, Min } from 'class-validator';
import { INTEGRITY_STATUSES } from '@fleetguard/common';

const STATUS_LIST = new RegExp(`^(${INTEGRITY_STATUSES.join('|')})(,(${INTEGRITY_STATUSES.join('|')}))*$`);
export const FIRMWARE_VERSION = /^[0-9A-Za-z.+_-]{1,64}$/;
export const DEVICE_PAGE_MAX = 500;
export const DEVICE_PAGE_DEFAULT = 50;

export class ListDevicesQueryDto {
  @ApiPropertyOptional({ description: `integrity status, or several comma-separated: ${INTEGRITY_STATUSES.join(', ')}`, example: 'stale,contraindicated' })
  @IsOptional()
  @IsString()
  @Matches(STATUS_LIST, { message: `status must be one or more (comma-separated) of: ${INTEGRITY_STATUSES.join(', ')}` })
  status?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID(undefined, { message: 'productId must be a product id (UUID)' })
  productId?: string;

  @ApiPropertyOptional({ example: '1.4.2' })
  @IsOptional()
  @IsString()
  @Matches(FIRMWARE_VERSION, { message: 'firmwareVersion may hold 1..64 letters, digits and . + _ -' })
  firmwareVersion?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'true: evidenced SL-C below the product target; false: scored and at or above it' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'belowTarget must be true or false' })
  belowTarget?: 'true' | 'false';

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'true: active devices without an affirming result within 2 × the attestation interval' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'stale must be true or false' })
  stale?: 'true' | 'false';

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'true: devices whose ATTESTED release contains a component an advisory affects, with no not_affected statement' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'exposed must be true or false' })
  exposed?: 'true' | 'false';

  @ApiPropertyOptional({ description: 'the "next" value of the previous page' })
  @IsOptional()
  @IsString()
  @Length(1, 64, { message: 'cursor is not a device list cursor' })
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: DEVICE_PAGE_MAX, default: DEVICE_PAGE_DEFAULT })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: `limit must be a whole number 1..${DEVICE_PAGE_MAX}` })
  @Min(1, { message: `limit must be a whole number 1..${DEVICE_PAGE_MAX}` })
  @Max(DEVICE_PAGE_MAX, { message: `limit must be a whole number 1..${DEVICE_PAGE_MAX}` })
  limit?: number;
}

export class FleetReportQueryDto {
  @ApiPropertyOptional({ enum: ['csv', 'json'], default: 'csv' })
  @IsOptional()
  @IsIn(['csv', 'json'], { message: 'format must be csv or json' })
  format?: 'csv' | 'json';
}
