export * from './constants';
export { PcapFormatError } from './errors';
export type { CaptureRecord, InterfaceInfo, PcapFileHeader, SectionInfo } from './record';
export { CaptureDecoder } from './decoder';
export type { DecoderOptions } from './decoder';
export { CaptureReader, bytesSource, copyRecord, decodeAll } from './reader';
export type { ByteSource, CapturedPacket } from './reader';
export { ByteBuffer, CaptureEncoder } from './encoder';
export type { CaptureFormat, EncoderOptions, EncoderInterface, PacketMeta } from './encoder';
export { CaptureWriter, MemorySink } from './writer';
export type { ByteSink, WriterOptions } from './writer';
export {
  resolutionFromByte,
  resolutionToByte,
  unitsToTime,
  timeToUnits,
  MICROSECOND_RESOLUTION,
  NANOSECOND_RESOLUTION,
} from './timestamp';
export type { TimestampResolution, TimeOut } from './timestamp';
export { formatFromPath } from './format-from-path';
