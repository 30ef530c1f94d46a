import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize, ArrayUnique, IsArray, IsDefined, IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min, ValidateNested,
} from 'class-validator';
import { COMPONENT_TYPES, ComponentType } from '@fleetguard/common';
import { REQUIREMENT_ID } from '../../core/product.rules';

export class TargetLevelsDto {
  @ApiProperty({ minimum: 0, maximum: 4 }) @IsInt() @Min(0) @Max(4) FR1: number;
  @ApiProperty({ minimum: 0, maximum: 4 }) @IsInt() @Min(0) @Max(4) FR2: number;
  @ApiProperty({ minimum: 0, maximum: 4 }) @IsInt() @Min(0) @Max(4) FR3: number;
  @ApiProperty({ minimum: 0, maximum: 4 }) @IsInt() @Min(0) @Max(4) FR4: number;
  @ApiProperty({ minimum: 0, maximum: 4 }) @IsInt() @Min(0) @Max(4) FR5: number;
  @ApiProperty({ minimum: 0, maximum: 4 }) @IsInt() @Min(0) @Max(4) FR6: number;
  @ApiProperty({ minimum: 0, maximum: 4 }) @IsInt() @Min(0) @Max(4) FR7: number;
}

export class CreateProductDto {
  @ApiProperty({ example: 'PLC-9000' })
  @IsString()
  @Length(1, 200)
  @Matches(/^[\p{L}\p{N} ._()+/-]+$/u, { message: 'name may hold letters, digits, spaces and . _ ( ) + / -' })
  name: string;

  @ApiProperty({ enum: COMPONENT_TYPES })
  @IsIn(COMPONENT_TYPES)
  componentType: ComponentType;

  @ApiProperty({ example: ['CR 1.1', 'EDR 3.14'], type: [String] })
  @IsArray()
  @ArrayMaxSize(500)
  @ArrayUnique()
  @Matches(REQUIREMENT_ID, { each: true, message: 'each declared requirement must look like "CR 1.1", "CR 1.1 RE(2)" or "EDR 3.14"' })
  declaredRequirements: string[];

  @ApiProperty({ type: TargetLevelsDto })
  @IsDefined()
  @ValidateNested()
  @Type(() => TargetLevelsDto)
  targetLevels: TargetLevelsDto;

  @ApiProperty({ required: false, description: 'lowest firmware security counter accepted (anti-rollback)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2 ** 32 - 1)
  minSecurityCounter?: number;
}
