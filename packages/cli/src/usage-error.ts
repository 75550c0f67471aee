/** A mistake on the command line: names the option at fault and says what is wrong, in plain words. */
export class UsageError extends Error {
  readonly option: string;

  constructor(option: string, reason: string) {
    super(option ? `${option}: ${reason}` : reason);
    this.name = 'UsageError';
    this.option = option;
  }
}
