/** An expected validation outcome: a stable machine-readable `rule` and an operator-facing message. */
export interface Problem {
  rule: string;
  message: string;
}
