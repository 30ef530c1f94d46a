import { Body, Controller, Get, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Principal, Roles } from '@fleetguard/auth/nest';
import { CreateProductDto } from './dto/product.dto';
import { ProductsService, toProductView } from './products.service';

@ApiTags('products')
@ApiBearerAuth()
@Controller('api/v1/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  @Roles('manufacturer')
  async create(@CurrentPrincipal() p: Principal, @Body() dto: CreateProductDto) {
    return toProductView(await this.products.create(p, { ...dto, targetLevels: { ...dto.targetLevels } }));
  }

  @Get()
  @Roles('manufacturer', 'operator', 'auditor')
  async list(@CurrentPrincipal() p: Principal) {
    return (await this.products.list(p)).map(toProductView);
  }

  @Get(':id')
  @Roles('manufacturer', 'operator', 'auditor')
  async get(@CurrentPrincipal() p: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return toProductView(await this.products.get(p, id));
  }
}
