import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, IsUUID, Length, Matches, Max, Min } from 'class-validator';

export class CreateTokensDto {
  @ApiProperty({ minimum: 1, maximum: 1000 }) @IsInt() @Min(1) @Max(1000) count: number;
  @ApiProperty({ minimum: 60, maximum: 30 * 86400 }) @IsInt() @Min(60) @Max(30 * 86400) expiresInSeconds: number;
  @ApiProperty({ required: false, description: 'only together with grantId (and then it must be the grant\'s operator)' }) @IsOptional() @IsUUID() operatorOrganizationId?: string;
  @ApiProperty({ required: false, description: "the operator's enrollment grant: its devices go into that operator's fleet" }) @IsOptional() @IsUUID() grantId?: string;
}

export class CreateEnrollmentGrantDto {
  @ApiProperty({ description: 'the manufacturer allowed to put devices into this operator\'s fleet' }) @IsUUID() manufacturerOrganizationId: string;
  @ApiProperty({ required: false, description: 'only devices of this product (default: any product of the manufacturer)' }) @IsOptional() @IsUUID() productId?: string;
  @ApiProperty({ minimum: 1, maximum: 1000000 }) @IsInt() @Min(1) @Max(1_000_000) maxDevices: number;
  @ApiProperty({ minimum: 60, maximum: 366 * 86400 }) @IsInt() @Min(60) @Max(366 * 86400) expiresInSeconds: number;
}

export class EnrollDto {
  @ApiProperty() @IsString() @Length(1, 200) token: string;
  @ApiProperty({ description: 'PKCS#10 request, PEM' }) @IsString() @Length(1, 32768) csr: string;
  @ApiProperty({ required: false, description: 'TPM attestation key, PEM public key' }) @IsOptional() @IsString() @Length(1, 8192) akPublicKey?: string;
  @ApiProperty({ required: false, description: 'PSA Initial Attestation Key (EC P-256/384/521), PEM public key' }) @IsOptional() @IsString() @Length(1, 8192) iakPublicKey?: string;
  @ApiProperty({ required: false, description: 'PSA instance id (UEID, 33 bytes hex); default: 0x01 || SHA-256 of the IAK point, as TF-M derives it' }) @IsOptional() @Matches(/^01[0-9a-fA-F]{64}$/, { message: 'psaInstanceId must be 33 bytes of hex starting with 01 (RAND UEID)' }) psaInstanceId?: string;
  @ApiProperty({ required: false, description: 'PSA implementation id (32 bytes hex)' }) @IsOptional() @Matches(/^[0-9a-fA-F]{64}$/, { message: 'psaImplementationId must be 32 bytes of hex' }) psaImplementationId?: string;
  @ApiProperty({ required: false, description: "the device's RFC 9711 UEID, hex (7 to 33 bytes, type byte first: 01 RAND + 16/24/32 bytes, 02 IEEE EUI-48/EUI-64, 03 IMEI digits); its EATs may then carry it as `ueid` (base64url)" }) @IsOptional() @IsString() @Length(1, 200) ueid?: string;
  @ApiProperty({ required: false, description: 'product the device believes it is; refused if the token is for another' }) @IsOptional() @IsUUID() productId?: string;
}

export class RevokeDeviceDto {
  @ApiProperty({ example: 'keyCompromise', description: 'RFC 5280 reason name' }) @IsString() @Length(1, 40) reason: string;
}
