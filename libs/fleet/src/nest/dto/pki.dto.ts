import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsInt, IsOptional, IsString, IsUUID, Length, Matches, Max, Min } from 'class-validator';
import { DEVICE_ID_PATTERN } from '@fleetguard/common';

/** Which devices must renew with a new key: listed ones, a product's, those of one issuing CA, or all (admin). */
export class RekeyDto {
  @ApiProperty({ required: false, type: [String] }) @IsOptional() @IsArray() @ArrayMaxSize(10000) @Matches(DEVICE_ID_PATTERN, { each: true }) deviceIds?: string[];
  @ApiProperty({ required: false }) @IsOptional() @IsUUID() productId?: string;
  @ApiProperty({ required: false, description: 'devices whose current certificate this issuing CA generation signed' }) @IsOptional() @IsInt() @Min(1) @Max(1_000_000) caGeneration?: number;
  @ApiProperty({ required: false, description: 'every device the caller sees' }) @IsOptional() @IsBoolean() all?: boolean;
  @ApiProperty({ example: 'keyCompromise' }) @IsString() @Length(1, 200) reason: string;
}
