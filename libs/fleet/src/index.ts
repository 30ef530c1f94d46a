export * from './core/product.rules';
export * from './entities/product.entity';
export * from './nest/products.service';
export * from './fleet.module';
