import { MsixTable, type MsiDeliver, type MsixState } from './msix';

/** ISR status bits (virtio 1.2 §4.1.4.5). */
export const VIRTIO_PCI_ISR_QUEUE = 1;
export const VIRTIO_PCI_ISR_CONFIG = 2;
/** "No vector" (virtio 1.2 §4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

export interface PciInterruptOptions {
  /** Drives the INTx pin (level-triggered) when MSI-X is off. */
  setIntx?: (level: boolean) => void;
  /** Delivers an MSI-X message (address, data). */
  deliverMsi?: MsiDeliver;
  /** MSI-X vectors in the table; default queues + 1 (bhyve). */
  vectors: number;
}

export interface PciInterruptState {
  isr: number;
  configVector: number;
  queueVectors: number[];
  msix: MsixState;
}

/**
 * Interrupt routing of a virtio-PCI function (bhyve vi_interrupt): with MSI-X enabled, each
 * queue and the config change use the vector the driver assigned (none when NO_VECTOR); without
 * it, an ISR bit is set and INTx asserted until the driver reads the ISR (read-to-clear).
 */
export class PciInterrupts {
  readonly msix: MsixTable;
  isr = 0;
  configVector = VIRTIO_MSI_NO_VECTOR;
  readonly queueVectors: number[];
  /** Interrupts sent, per kind, for tests and stats. */
  readonly counts = { intx: 0, msix: 0, suppressed: 0 };
  private readonly setIntx: (level: boolean) => void;
  private intxLevel = false;

  constructor(queues: number, options: PciInterruptOptions) {
    this.setIntx = options.setIntx ?? (() => {});
    this.msix = new MsixTable(options.vectors, options.deliverMsi ?? (() => {}));
    this.queueVectors = new Array<number>(queues).fill(VIRTIO_MSI_NO_VECTOR);
  }

  get msixEnabled(): boolean {
    return this.msix.enabled;
  }

  get intx(): boolean {
    return this.intxLevel;
  }

  /** A used-buffer notification for queue `index`. */
  queue(index: number): void {
    this.raise(VIRTIO_PCI_ISR_QUEUE, this.queueVectors[index] ?? VIRTIO_MSI_NO_VECTOR);
  }

  /** A configuration change notification. */
  config(): void {
    this.raise(VIRTIO_PCI_ISR_CONFIG, this.configVector);
  }

  /** The driver reads the ISR: value returned, then cleared, INTx deasserted (§4.1.4.5). */
  readIsr(): number {
    const value = this.isr;
    this.isr = 0;
    this.level(false);
    return value;
  }

  /** A vector the driver asks for; one beyond the table reads back as NO_VECTOR (§4.1.5.1.2). */
  acceptVector(vector: number): number {
    return vector >= 0 && vector < this.msix.vectors ? vector : VIRTIO_MSI_NO_VECTOR;
  }

  /** Device reset: ISR cleared, INTx low, vectors forgotten (bhyve vi_reset_dev). */
  reset(): void {
    this.isr = 0;
    this.level(false);
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    this.queueVectors.fill(VIRTIO_MSI_NO_VECTOR);
    this.msix.reset();
  }

  saveState(): PciInterruptState {
    return { isr: this.isr, configVector: this.configVector, queueVectors: [...this.queueVectors], msix: this.msix.saveState() };
  }

  restoreState(state: PciInterruptState): void {
    if (!Array.isArray(state.queueVectors) || state.queueVectors.length !== this.queueVectors.length) throw new RangeError('interrupt state: wrong number of queue vectors');
    this.msix.restoreState(state.msix);
    this.isr = state.isr & 3;
    this.configVector = state.configVector & 0xffff;
    for (let i = 0; i < this.queueVectors.length; i++) this.queueVectors[i] = state.queueVectors[i]! & 0xffff;
    this.level(this.isr !== 0 && !this.msix.enabled);
  }

  private raise(isrBit: number, vector: number): void {
    if (this.msix.enabled) {
      if (vector === VIRTIO_MSI_NO_VECTOR) {
        this.counts.suppressed++;
        return;
      }
      this.counts.msix++;
      this.msix.signal(vector);
      return;
    }
    this.isr |= isrBit;
    this.counts.intx++;
    this.level(true);
  }

  private level(high: boolean): void {
    if (high === this.intxLevel) {
      // A level interrupt stays asserted; re-signal so an edge-sensitive VMM sees each event.
      if (high) this.setIntx(true);
      return;
    }
    this.intxLevel = high;
    this.setIntx(high);
  }
}
