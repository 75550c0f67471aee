/**
 * A capture file is damaged or not a capture file. `offset` is the byte offset (from the start
 * of the file) of the header, block or field at fault; everything before it was read correctly.
 */
export class PcapFormatError extends Error {
  readonly code = 'ERR_PCAP_FORMAT';
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`${message} (at byte offset ${offset})`);
    this.name = 'PcapFormatError';
    this.offset = offset;
  }
}
