/** The part of hpack.js (plain JS, no types of its own) that berth and its tests use. */
declare module "hpack.js" {
  interface HpackHeader {
    name: string;
    /** Octets as latin1 characters: binary-safe both ways. */
    value: string;
    neverIndex?: boolean;
    /** Encoder only: false sends the string as is (default: Huffman-coded). */
    huffman?: boolean;
    /** Encoder only: false sends a literal without indexing (default: incremental). */
    incremental?: boolean;
  }
  interface TableOptions {
    table: { maxSize: number };
  }
  interface Compressor {
    write(headers: HpackHeader[]): boolean;
    read(): Buffer | null;
  }
  interface Decompressor {
    write(block: Buffer): boolean;
    /** Decodes what was written; a malformed block is emitted as "error". */
    execute(): void;
    read(): HpackHeader | null;
    on(event: "error", listener: (err: Error) => void): this;
  }
  const hpack: {
    compressor: { create(options: TableOptions): Compressor };
    decompressor: { create(options: TableOptions): Decompressor };
    /** Code lengths in bits (index 0) per octet, the last entry being EOS. */
    huffman: { encode: Array<[number, number]> };
  };
  export default hpack;
  export type { Compressor, Decompressor, HpackHeader };
}
