/** Every contract of the billing service. */
export const billingContracts = [];
