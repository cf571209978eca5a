import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { zipPackage } from '../../../generator/package-function.ts';
import type { PackagedFunction } from '../../../generator/package-function.ts';

const work = mkdtempSync(join(tmpdir(), 'ingest-zip-'));
const zoneBefore = process.env.TZ;
let directories = 0;

afterEach(() => {
  if (zoneBefore === undefined) delete process.env.TZ;
  else process.env.TZ = zoneBefore;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Writes `files` in the order given into a fresh directory, with the file-system mode and time given, as `packageFunction` would leave them. */
function packaged(files: Record<string, string>, { mode = 0o644, time = new Date() }: { mode?: number; time?: Date } = {}): Pick<PackagedFunction, 'directory' | 'files'> {
  const directory = join(work, `package-${directories++}`);
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory);
  const written = Object.entries(files).map(([name, text]) => {
    writeFileSync(join(directory, name), text);
    chmodSync(join(directory, name), mode);
    utimesSync(join(directory, name), time, time);
    return { name, bytes: Buffer.byteLength(text) };
  });
  return { directory, files: written };
}

interface CentralEntry {
  name: string;
  madeBy: number;
  mode: number;
  dosTime: number;
  dosDate: number;
}

/** Reads the central directory (APPNOTE 4.3.12): what unzip and Lambda see of each entry besides its bytes. */
function centralDirectory(zip: Buffer): CentralEntry[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let offset = zip.readUInt32LE(end + 16);
  const entries: CentralEntry[] = [];
  for (let index = 0; index < zip.readUInt16LE(end + 10); index++) {
    const nameLength = zip.readUInt16LE(offset + 28);
    entries.push({
      name: zip.toString('utf8', offset + 46, offset + 46 + nameLength),
      madeBy: zip.readUInt8(offset + 5),
      mode: zip.readUInt32LE(offset + 38) >>> 16,
      dosTime: zip.readUInt16LE(offset + 12),
      dosDate: zip.readUInt16LE(offset + 14),
    });
    offset += 46 + nameLength + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
  }
  return entries;
}

const FILES = { 'spec.json': '{"spec":{"name":"orders"}}', 'index.mjs': 'export const handler = async () => ({});\n', 'validators.mjs': 'export const validators = {};\n' };

describe('zipPackage', () => {
  it('gives byte-identical zips with the same name for the same files, whatever their order, times, modes and time zone', async () => {
    process.env.TZ = 'Pacific/Kiritimati';
    const first = await zipPackage(packaged(FILES, { mode: 0o600, time: new Date('2026-12-03T09:00:00Z') }));
    process.env.TZ = 'America/Los_Angeles';
    const reversed = Object.fromEntries(Object.entries(FILES).reverse());
    const second = await zipPackage(packaged(reversed, { mode: 0o755, time: new Date('2031-06-30T23:59:59Z') }));

    expect(second.name).toBe(first.name);
    expect(readFileSync(second.path).equals(readFileSync(first.path))).toBe(true);
  });

  it('names the zip after the SHA-256 of its bytes', async () => {
    const zip = await zipPackage(packaged(FILES));

    const { createHash } = await import('node:crypto');
    expect(zip.name).toBe(`${createHash('sha256').update(readFileSync(zip.path)).digest('hex')}.zip`);
    expect(zip.bytes).toBe(readFileSync(zip.path).length);
  });

  it('gives a different name when any file differs by one byte', async () => {
    const names = new Set<string>();
    names.add((await zipPackage(packaged(FILES))).name);
    for (const name of Object.keys(FILES)) {
      names.add((await zipPackage(packaged({ ...FILES, [name]: `${FILES[name as keyof typeof FILES]} ` }))).name);
    }

    expect(names.size).toBe(Object.keys(FILES).length + 1);
  });

  it('holds every file once, in name order, as a Unix file of mode 0644 dated 1980-01-01 00:00', async () => {
    const zip = await zipPackage(packaged(FILES, { mode: 0o600 }));

    const entries = centralDirectory(readFileSync(zip.path));
    expect(entries.map((entry) => entry.name)).toEqual(['index.mjs', 'spec.json', 'validators.mjs']);
    for (const entry of entries) {
      expect(entry).toMatchObject({ madeBy: 3, mode: 0o100644, dosTime: 0, dosDate: (0 << 9) | (1 << 5) | 1 });
    }
    const contents = unzipSync(readFileSync(zip.path));
    expect(Object.fromEntries(Object.entries(contents).map(([name, bytes]) => [name, Buffer.from(bytes).toString('utf8')]))).toEqual(FILES);
  });

  it('replaces the zip of an earlier package in the same directory and leaves other files alone', async () => {
    const first = packaged(FILES);
    const earlier = await zipPackage(first);
    writeFileSync(join(first.directory, 'notes.zip'), 'not ours');
    writeFileSync(join(first.directory, 'spec.json'), '{"spec":{"name":"changed"}}');

    const later = await zipPackage(first);

    expect(later.name).not.toBe(earlier.name);
    expect(readdirSync(first.directory).sort()).toEqual(['index.mjs', later.name, 'notes.zip', 'spec.json', 'validators.mjs'].sort());
  });
});
