import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsIn, IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';
import { ROLES, Role } from '../../core/api-key';

export class CreateOrganizationDto {
  @ApiProperty({ example: 'Acme Controls' })
  @IsString()
  @Length(1, 200)
  @Matches(/^[\p{L}\p{N} .,'&()_-]+$/u, { message: 'name may hold letters, digits, spaces and . , \' & ( ) _ -' })
  name: string;

  @ApiProperty({ enum: ['manufacturer', 'operator'] })
  @IsIn(['manufacturer', 'operator'])
  kind: 'manufacturer' | 'operator';
}

export class CreateApiKeyDto {
  @ApiProperty()
  @IsUUID()
  organizationId: string;

  @ApiProperty({ enum: ROLES, isArray: true })
  @ArrayMinSize(1)
  @ArrayMaxSize(4)
  @ArrayUnique()
  @IsIn(ROLES, { each: true })
  roles: Role[];

  @ApiProperty({ required: false })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  label?: string;
}
