/** A stand-in for the shop's order system: what the dialog looks orders up in. */
export interface Order {
  readonly id: string;
  /** Last four digits of the phone number the order was placed with. */
  readonly phoneTail: string;
  readonly status: string;
}

export const ORDERS: readonly Order[] = [
  { id: '202411001', phoneTail: '1234', status: '已发货，顺丰 SF1234567890123，预计明天送达' },
  { id: '202411002', phoneTail: '5678', status: '已付款，仓库正在备货' },
  { id: '202411003', phoneTail: '0000', status: '已签收' },
];

/** Looks an order up; the phone tail guards against guessing other people's order numbers. */
export async function findOrder(id: string, phoneTail: string): Promise<Order | undefined> {
  return ORDERS.find((o) => o.id === id && o.phoneTail === phoneTail);
}
