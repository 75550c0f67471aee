import './register';

export { PcapBackend } from './pcap-backend';
export type { PcapBackendOptions, PcapInput, PcapOutput } from './pcap-backend';
export { InputReplay } from './input-replay';
export type { Pace, ReplaySummary, ReplayOptions } from './input-replay';
export { FrameRecorder } from './frame-recorder';
export type { RecorderOptions } from './frame-recorder';
export { CaptureBackend, captureBackend } from './capture-backend';
export type { CaptureOptions } from './capture-backend';
export { captureToFile, createBackendWithCapture } from './capture-file';
export type { CaptureFileOptions } from './capture-file';
export { createPcapBackend, pcapBackendFactory, registerPcapBackend } from './factory';
export type { OpenPcapOptions } from './factory';
export { parsePcapConfig, PCAP_OPTIONS } from './options';
export type { PcapConfig } from './options';
export { systemClock, splitMillis } from './clock';
export type { Clock } from './clock';
