import { Module } from '@nestjs/common';

/** Credits: accounts, the double-entry ledger, charges and refunds. Its handlers join this module as the service gains its domain. */
@Module({})
export class BillingModule {}
