import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsObject, IsOptional, IsString, Length, Matches, Max, Min, ValidateNested } from 'class-validator';

export class AddSigningKeyDto {
  @ApiProperty({ description: 'PEM public key (EC P-256, Ed25519, RSA >= 2048)' })
  @IsString()
  @Length(50, 16384)
  publicKey: string;
}

export class BootEventDto {
  @ApiProperty() @IsInt() @Min(0) @Max(23) pcr: number;
  @ApiProperty() @IsString() @Length(1, 100) @Matches(/^[\w.:/@+-]+$/, { message: 'component may hold letters, digits and _ . : / @ + -' }) component: string;
  @ApiProperty() @Matches(/^(sha256:)?[0-9a-f]{64}$/, { message: 'digest must be 64 lowercase hex digits (optionally sha256:)' }) digest: string;
}

export class ReferenceValuesDto {
  @ApiProperty({ type: [BootEventDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(512)
  @ValidateNested({ each: true })
  @Type(() => BootEventDto)
  events: BootEventDto[];

  @ApiProperty({ required: false, example: { '0': '00'.repeat(32) } })
  @IsOptional()
  @IsObject()
  pcrs?: Record<string, string>;
}

export class RevokeReleaseDto {
  @ApiProperty({ required: false })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  reason?: string;
}
