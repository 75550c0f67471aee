/** MSI-X table entry layout (PCI Local Bus 3.0 §6.8.2): addr lo, addr hi, data, vector control. */
const ENTRY_SIZE = 16;
const VECTOR_CONTROL_MASK = 1;

/** One MSI message a VMM delivers: write `data` to `address` (an interrupt controller). */
export type MsiDeliver = (address: number, data: number) => void;

export interface MsixState {
  enabled: boolean;
  functionMask: boolean;
  table: number[];
  pending: number[];
}

/**
 * An MSI-X table and pending-bit array (the BAR that bhyve gives pci_emul_msix_tread/twrite).
 * The VMM forwards table accesses ({@link readTable}, {@link writeTable}, {@link readPba}) and the
 * capability's Message Control bits ({@link setControl}); the device side calls {@link signal}.
 * A masked vector's message is held as a pending bit and sent on unmask.
 */
export class MsixTable {
  /** MSI-X Enable (Message Control bit 15). */
  enabled = false;
  /** Function Mask (Message Control bit 14). */
  functionMask = false;
  private readonly table: Uint32Array;
  private readonly pending: Uint8Array;

  constructor(
    readonly vectors: number,
    private readonly deliver: MsiDeliver,
  ) {
    if (!Number.isInteger(vectors) || vectors < 1 || vectors > 2048) throw new RangeError(`MSI-X vectors ${vectors} must be 1..2048`);
    this.table = new Uint32Array(vectors * 4);
    this.pending = new Uint8Array(vectors);
    // Every vector starts masked (PCI 3.0 §6.8.2.9).
    for (let v = 0; v < vectors; v++) this.table[v * 4 + 3] = VECTOR_CONTROL_MASK;
  }

  /** Bytes of the table. */
  get tableSize(): number {
    return this.vectors * ENTRY_SIZE;
  }

  /** Bytes of the pending-bit array (QWORD-sized pieces). */
  get pbaSize(): number {
    return Math.ceil(this.vectors / 64) * 8;
  }

  /** The Message Control bits written by the driver through the capability. */
  setControl(enabled: boolean, functionMask: boolean): void {
    this.enabled = enabled;
    this.functionMask = functionMask;
    this.flushPending();
  }

  /** A 4-byte (or 8-byte as two) table read; other sizes or offsets read as all ones. */
  readTable(offset: number, size: number): number {
    if (size !== 4 || offset % 4 !== 0 || offset < 0 || offset >= this.tableSize) return size === 4 ? 0xffffffff : 0;
    return this.table[offset >> 2]!;
  }

  writeTable(offset: number, size: number, value: number): void {
    if (size !== 4 || offset % 4 !== 0 || offset < 0 || offset >= this.tableSize) return;
    const word = offset >> 2;
    this.table[word] = value >>> 0;
    if ((word & 3) === 3) this.flushPending();
  }

  /** A read of the pending-bit array (1, 2, 4 bytes). */
  readPba(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) {
      let byte = 0;
      for (let b = 0; b < 8; b++) {
        const v = (offset + i) * 8 + b;
        if (v < this.vectors && this.pending[v] !== 0) byte |= 1 << b;
      }
      value = value * 256 + byte;
    }
    return value >>> 0;
  }

  /** The device wants vector `vector`. Returns true when the message was sent now. */
  signal(vector: number): boolean {
    if (!this.enabled || !(vector >= 0 && vector < this.vectors)) return false;
    if (this.functionMask || (this.table[vector * 4 + 3]! & VECTOR_CONTROL_MASK) !== 0) {
      this.pending[vector] = 1;
      return false;
    }
    this.send(vector);
    return true;
  }

  isMasked(vector: number): boolean {
    return this.functionMask || (this.table[vector * 4 + 3]! & VECTOR_CONTROL_MASK) !== 0;
  }

  saveState(): MsixState {
    return { enabled: this.enabled, functionMask: this.functionMask, table: Array.from(this.table), pending: Array.from(this.pending) };
  }

  restoreState(state: MsixState): void {
    if (!Array.isArray(state.table) || state.table.length !== this.table.length || !Array.isArray(state.pending) || state.pending.length !== this.pending.length) {
      throw new RangeError(`MSI-X state does not fit a table of ${this.vectors} vectors`);
    }
    this.table.set(state.table.map((v) => v >>> 0));
    this.pending.set(state.pending.map((v) => (v ? 1 : 0)));
    this.enabled = state.enabled === true;
    this.functionMask = state.functionMask === true;
  }

  reset(): void {
    this.pending.fill(0);
  }

  private send(vector: number): void {
    const lo = this.table[vector * 4]!;
    const hi = this.table[vector * 4 + 1]!;
    this.deliver(hi * 4294967296 + lo, this.table[vector * 4 + 2]!);
  }

  private flushPending(): void {
    if (!this.enabled || this.functionMask) return;
    for (let v = 0; v < this.vectors; v++) {
      if (this.pending[v] !== 0 && (this.table[v * 4 + 3]! & VECTOR_CONTROL_MASK) === 0) {
        this.pending[v] = 0;
        this.send(v);
      }
    }
  }
}
