// The simulator's only source of randomness: a seeded sfc32 generator. Everything a schedule draws (its
// workload, its faults, the retry jitter, the ids) comes from one of these, so a seed replays it exactly.

/** splitmix32: spreads a seed's bits so that nearby seeds give unrelated streams. */
function splitmix(x: number): () => number {
  let s = x >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A seeded pseudo-random generator (sfc32). Not for cryptography: for replayable schedules. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** `seed`: a non-negative safe integer; `stream` picks an independent stream for the same seed. */
  constructor(seed: number, stream = 0) {
    const mix = splitmix((seed % 0x100000000) ^ Math.imul(Math.floor(seed / 0x100000000), 0x27d4eb2d));
    const s2 = splitmix(mix() ^ Math.imul(stream + 1, 0x165667b1));
    this.#a = s2();
    this.#b = s2();
    this.#c = s2();
    this.#d = s2() | 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 0x100000000;
  }

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A version-4-shaped UUID from this stream (Tally's ids and nonces in a schedule). */
  uuid(): string {
    const hex = (n: number) =>
      Math.floor(this.next() * 16 ** n)
        .toString(16)
        .padStart(n, '0');
    const variant = (8 + Math.floor(this.next() * 4)).toString(16);
    return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(6)}${hex(6)}`;
  }
}
