// Builds a gzip'd tar in memory from named entries (Velero backup contents, kotsadm app archives).
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";

export interface TarEntry {
  name: string;
  body: Buffer | string;
  /** Velero writes its items with mode 0755. */
  mode?: number;
}

export async function createTarGz(entries: TarEntry[], mtime: Date): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    archive.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    archive.on("end", () => resolve(Buffer.concat(chunks)));
    archive.on("error", reject);
  });
  for (const entry of entries) {
    const body = typeof entry.body === "string" ? Buffer.from(entry.body) : entry.body;
    archive.entry({ name: entry.name, size: body.length, mode: entry.mode ?? 0o644, mtime }, body);
  }
  archive.finalize();
  return gzipSync(await collected);
}
